"""box.toml and secrets.toml across re-runs: what is installed is read first and only what the installer asked to
change is changed; every other setting (the central DSN, a camera's lines, hand-edited tables) is kept."""

from __future__ import annotations

import copy
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomlkit

from edge.config import BoxConfig, overlay_secrets
from edge.counting.line import Line
from edge.errors import UserError
from edge.secrets import strip_password

HEADER = "# edge-counter box config, written by `edge provision`. Secrets live in the secrets file.\n"


@dataclass
class Installed:
    """The box's current config and secrets, as raw TOML tables (empty when not provisioned yet)."""

    box: dict[str, Any] = field(default_factory=dict)
    secrets: dict[str, Any] = field(default_factory=dict)
    secrets_path: Path | None = None  # as named in box.toml (on the box)

    @property
    def device_id(self) -> str | None:
        value = self.box.get("device_id")
        return value if isinstance(value, str) else None

    @property
    def dsn(self) -> str | None:
        value = self.secrets.get("sync", {}).get("dsn") or self.box.get("sync", {}).get("dsn")
        return value if isinstance(value, str) else None

    def camera(self, name: str) -> dict[str, Any] | None:
        return next((c for c in self.box.get("cameras", []) if c.get("name") == name), None)

    def source(self, name: str) -> str | None:
        """The camera's full source (its password from the secrets file)."""
        secret = self.secrets.get("cameras", {}).get(name, {}).get("source")
        cam = self.camera(name)
        return secret or (cam or {}).get("source")

    @property
    def web_password_hash(self) -> str | None:
        value = self.secrets.get("web", {}).get("password_hash")
        return value if isinstance(value, str) else None

    @property
    def camera_names(self) -> list[str]:
        return [str(c.get("name")) for c in self.box.get("cameras", [])]


def _toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text()) if path.is_file() else {}
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise UserError(f"the installed {path} cannot be read ({e}): fix or remove it, then re-run") from None


def read_installed(root: Path, config_path: Path, default_secrets: Path) -> Installed:
    """What is installed under `root`. A secrets file is found even if box.toml no longer names it."""
    box = _toml(root / config_path.relative_to("/"))
    named = box.get("secrets_file")
    secrets_path = Path(named) if isinstance(named, str) and named.startswith("/") else default_secrets
    return Installed(box, _toml(root / secrets_path.relative_to("/")), secrets_path)


@dataclass
class Change:
    """What the installer asked to change."""

    device_id: str
    cameras: dict[str, str]  # name -> source (new or changed)
    lines: dict[str, list[Line]]  # camera -> its lines, replacing the installed ones (cameras not named: kept)
    remove: set[str] = field(default_factory=set)
    keep: set[str] = field(default_factory=set)  # cameras to leave as installed (their check failed)
    dsn: str | None = None  # None: keep the installed one
    model_dir: Path | None = None
    secrets_path: Path = Path("/etc/edge-counter/secrets.toml")
    buffer_path: Path = Path("/var/lib/edge-counter/buffer.sqlite")
    web_password_hash: str | None = None  # None: keep the installed one


def merge(installed: Installed, change: Change) -> tuple[dict[str, Any], dict[str, Any]]:
    """The new box.toml and secrets.toml tables: the installed ones with `change` applied."""
    box = copy.deepcopy(installed.box)
    secrets = copy.deepcopy(installed.secrets)
    box["device_id"] = change.device_id
    cameras = [c for c in box.get("cameras", []) if c.get("name") not in change.remove]
    secret_cams = {k: v for k, v in secrets.get("cameras", {}).items() if k not in change.remove}
    for name, source in change.cameras.items():
        if name in change.keep:
            continue
        cam = next((c for c in cameras if c.get("name") == name), None)
        if cam is None:
            cam = {"name": name, "source": "", "lines": []}
            cameras.append(cam)
        shown, has_secret = strip_password(source)
        cam["source"] = shown
        if has_secret:
            secret_cams[name] = {**secret_cams.get(name, {}), "source": source}
        else:
            secret_cams.pop(name, None)
    for name, lines in change.lines.items():
        cam = next((c for c in cameras if c.get("name") == name), None)
        if cam is not None and name not in change.keep:
            cam["lines"] = [{"name": ln.name, "a": [ln.x1, ln.y1], "b": [ln.x2, ln.y2]} for ln in lines]
    box["cameras"] = cameras
    if secret_cams:
        secrets["cameras"] = secret_cams
    else:
        secrets.pop("cameras", None)
    if change.dsn:
        secrets.setdefault("sync", {})["dsn"] = change.dsn
        box.get("sync", {}).pop("dsn", None)  # a password does not belong in the file everyone reads
    if change.web_password_hash:
        secrets.setdefault("web", {})["password_hash"] = change.web_password_hash
    if change.model_dir:
        box.setdefault("model", {})["model_dir"] = str(change.model_dir)
    box.setdefault("buffer", {}).setdefault("path", str(change.buffer_path))
    if secrets:
        box["secrets_file"] = str(installed.secrets_path or change.secrets_path)
    return box, secrets


def validated(box: dict[str, Any], secrets: dict[str, Any], where: Path) -> BoxConfig:
    """The config `edge run` will load from these tables; a UserError naming the key if it would not."""
    try:
        return BoxConfig.model_validate(overlay_secrets(box, secrets))
    except ValueError as e:
        first = str(e).splitlines()
        raise UserError(f"{where} would be invalid: {' '.join(first[1:3]).strip() or first[0]}: "
                        "fix the installed file or the flags") from None


def render_box(box: dict[str, Any]) -> bytes:
    ordered = {"device_id": box["device_id"], **{k: v for k, v in box.items() if k != "device_id"}}
    return (HEADER + tomlkit.dumps(ordered)).encode()


def render_secrets(secrets: dict[str, Any]) -> bytes:
    return ("# edge-counter secrets (mode 0640, root:edge-counter), written by `edge provision`.\n"
            + tomlkit.dumps(secrets)).encode()
