"""What the installer asked for (flags or prompts), parsed and checked before anything is looked at or written:
every bad name, URL, line or path is a one-line UserError (exit 2, nothing written)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from edge.counting.line import Line, parse_line
from edge.errors import UserError
from edge.names import check_name
from edge.secrets import mask_url
from provisioning.urls import camera_source

if TYPE_CHECKING:
    from provisioning.camera_check import CameraCheck

DATA_DIR = Path("/var/lib/edge-counter")
LINE_FORM = "CAMERA:NAME:x1,y1,x2,y2"


@dataclass
class Request:
    """Paths as seen on the box; `root` is prefixed when reading and writing. None / empty: keep what is installed."""

    device_id: str | None = None
    cameras: dict[str, str] = field(default_factory=dict)  # name -> source, new or changed
    lines: dict[str, list[Line]] = field(default_factory=dict)  # camera -> lines replacing its installed ones
    remove: list[str] = field(default_factory=list)
    central_dsn: str | None = None
    admin_dsn: str | None = None
    central_ca: Path | None = None  # on this machine; copied beside box.toml
    insecure: bool = False
    model: str | None = None  # file, folder or URL to install the detector from
    config_dir: Path = Path("/etc/edge-counter")
    root: Path = Path("/")
    prefix: Path | None = None  # where edge-counter is installed on the box (bin/edge)
    camera_timeout_s: float = 5.0
    enable_units: bool = True
    web_password: str | None = None  # the web page's admin password (only its hash is written); None: keep
    checked: dict[str, CameraCheck] = field(default_factory=dict)  # cameras the prompts already checked

    def at_root(self, path: Path) -> Path:
        return self.root / path.relative_to("/")

    @property
    def config_path(self) -> Path:
        return self.config_dir / "box.toml"

    @property
    def secrets_path(self) -> Path:
        return self.config_dir / "secrets.toml"


def check_path(path: Path, flag: str, absolute: bool = True) -> Path:
    """A path without control characters (absolute, when it is one on the box)."""
    text = str(path)
    if not text or any(ord(c) < 32 for c in text):
        raise UserError(f"{flag} {text!r} is not a usable path: give a plain path")
    if absolute and not path.is_absolute():
        raise UserError(f"{flag} {text} is relative: give the absolute path on the box")
    return path


def parse_cameras(specs: list[str]) -> dict[str, str]:
    """`NAME=URL` flags -> {name: url with credentials percent-encoded}; duplicate names are refused."""
    cams: dict[str, str] = {}
    for s in specs:
        name, sep, url = s.partition("=")
        if not sep or not name or not url:
            raise UserError(f"--camera {mask_url(s)!r} is malformed: write NAME=rtsp://user:pass@host:554/path")
        name = check_name("camera", name)
        if name in cams:
            raise UserError(f"camera name {name!r} is given twice: give each camera a unique name")
        cams[name] = camera_source(name, url)
    return cams


def parse_camera_line(spec: str) -> tuple[str, Line]:
    """`CAMERA:NAME:x1,y1,x2,y2` -> (camera, Line)."""
    cam, sep, rest = spec.partition(":")
    if not sep or ":" not in rest:
        example = f"{cam if sep and cam else 'door'}:entrance:0,150,480,150"
        raise UserError(f"--line {spec!r} is malformed: write {LINE_FORM} (e.g. {example})")
    return check_name("camera", cam), parse_line(rest)


def parse_camera_lines(specs: list[str]) -> dict[str, list[Line]]:
    """`CAMERA:NAME:x1,y1,x2,y2` flags -> {camera: [Line]}; a line name given twice for a camera is refused."""
    out: dict[str, list[Line]] = {}
    for s in specs:
        cam, line = parse_camera_line(s)
        if any(ln.name == line.name for ln in out.get(cam, [])):
            raise UserError(f"line name {line.name!r} is given twice for camera {cam!r}: give each line a unique name")
        out.setdefault(cam, []).append(line)
    return out
