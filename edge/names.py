"""What installers may call a box, a camera and a counting line, checked once for every way in (flags, prompts,
the config file), with a one-line error that proposes a name that would do.

- Camera and line names are words in any script (`Tür`, `入口`, `entrance_2`): 1-64 letters, digits, `_`, `-`
  or `.`, starting with a letter, digit or `_`. The buffer and central store them as text; no space, `/`, `:`
  or `=`, so a name is also a safe file name (the camera's snapshot) and cannot break `CAMERA:LINE:...` flags.
  Names are stored in Unicode NFC, so the same name typed on two keyboards is one name.
- The device id names the box's central role `box_<device_id>` (PostgreSQL: 63 bytes) and its path-free
  identity, so it is a slug: 1-59 lowercase ASCII letters, digits, `_`, `-` or `.`, starting with a letter or
  digit.
"""

from __future__ import annotations

import re
import unicodedata

from edge.errors import UserError

MAX_DEVICE_ID = 59   # "box_" + 59 = 63 bytes, PostgreSQL's longest role name
MAX_NAME = 64
_DEVICE_ID = re.compile(r"[a-z0-9][a-z0-9_.-]*")
_NAME = re.compile(r"\w[\w.-]*")  # str patterns: \w is any script's letters and digits, and "_"
_NAME_BYTES = 200                 # file names are at most 255 bytes: the snapshot is NAME.png
NAME_RULE = f"1-{MAX_NAME} letters (any script), digits, '_', '-' or '.', starting with a letter, digit or '_'"
DEVICE_ID_RULE = (f"1-{MAX_DEVICE_ID} lowercase ASCII letters, digits, '_', '-' or '.', "
                  "starting with a letter or digit")


def slug(text: str, limit: int = MAX_DEVICE_ID) -> str:
    """`text` as a device id: lowercase ASCII, other runs of characters become '-' (empty if nothing is left)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9_.-]+", "-", ascii_text.lower()).lstrip("-._")[:limit].rstrip("-.")


def device_id_problem(value: str) -> str | None:
    """Why `value` cannot be a device id, or None."""
    if not _DEVICE_ID.fullmatch(value) or len(value) > MAX_DEVICE_ID:
        return f"must be {DEVICE_ID_RULE} (it names the central role box_<device_id>)"
    return None


def check_device_id(value: str, what: str = "device id") -> str:
    """`value` if it is a valid device id; else a UserError proposing one."""
    if problem := device_id_problem(value):
        proposal = slug(value)
        hint = f": e.g. {proposal!r}" if proposal and proposal != value else ""
        raise UserError(f"{what} {_shown(value)} is invalid: it {problem}{hint}")
    return value


def name_problem(value: str) -> str | None:
    """Why `value` (already NFC) cannot name a camera or line, or None."""
    if not _NAME.fullmatch(value) or len(value) > MAX_NAME:
        return f"use {NAME_RULE}"
    if len(value.encode()) > _NAME_BYTES:
        return f"it is {len(value.encode())} bytes in UTF-8: use at most {_NAME_BYTES}"
    return None


def check_name(kind: str, value: str) -> str:
    """`value` in NFC if it may name a `kind` ("camera", "line"); else a UserError proposing a name."""
    value = unicodedata.normalize("NFC", value)
    if problem := name_problem(value):
        proposal = re.sub(r"[^\w.-]+", "_", value).lstrip(".-")[:MAX_NAME]
        hint = f", e.g. {proposal!r}" if proposal and name_problem(proposal) is None else ""
        raise UserError(f"{kind} name {_shown(value)} is invalid: {problem}{hint}")
    return value


def _shown(value: str) -> str:
    """The name as typed, control characters escaped and cut short, so a hostile name cannot garble the line."""
    return repr(value if len(value) <= 80 else value[:77] + "...")
