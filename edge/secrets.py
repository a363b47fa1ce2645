"""Keep passwords out of logs, health records, messages and the config every user can read.

Camera URLs carry `user:password@`; DSNs carry it as a URL or as `password=...`; driver messages may quote
either. One place masks them all.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

MASK = "***"
_PASSWORD = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)|(://[^:/@\s]+:)[^@\s]+@", re.IGNORECASE)


def _netloc(username: str | None, password: str | None, netloc: str) -> str:
    """`netloc` with its user information replaced (host and port kept as written: IPv6 brackets, case)."""
    user = "" if username is None else username + (f":{password}" if password is not None else "") + "@"
    return user + netloc.rpartition("@")[2]


def mask_url(url: str) -> str:
    """The URL with any password replaced by ***."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return urlunsplit(parts._replace(netloc=_netloc(parts.username, MASK, parts.netloc)))


def strip_password(url: str) -> tuple[str, bool]:
    """(the URL without its password, whether it had one): what may be written where everyone can read it."""
    parts = urlsplit(url)
    if parts.password is None:
        return url, False
    return urlunsplit(parts._replace(netloc=_netloc(parts.username, None, parts.netloc))), True


def mask(text: object, *secrets: str | None) -> str:
    """The first line of `text` (an exception's message too), each of `secrets` and anything that looks like
    a password (`password=...`, `://user:password@`) replaced by ***."""
    line = (str(text).strip().splitlines() or [type(text).__name__ if isinstance(text, BaseException) else ""])[0]
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        line = line.replace(secret, MASK)
    return _PASSWORD.sub(lambda m: f"{m.group(1)}{MASK}" if m.group(1) else f"{m.group(3)}{MASK}@", line)
