"""The box's one TOML config file, validated: unknown keys rejected, every error names its key.

Minimal file::

    device_id = "shop12-box1"

    [[cameras]]
    name = "door"
    source = "rtsp://user:pass@127.0.0.1:8554/cam"
    lines = [{ name = "entrance", a = [0, 150], b = [480, 150] }]
"""

from __future__ import annotations

import re
import socket
import tomllib
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from edge.counting.line import Line
from edge.errors import UserError

BOX_CONFIG = Path("/etc/edge-counter/box.toml")  # where `edge provision` writes it and every command reads it
_SLUG = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,62}$")
_PASSWORD_HASH = re.compile(r"^scrypt\$\d+\$\d+\$\d+\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$")  # edge/web/auth.py


class Settings(BaseModel):
    """Base for validated settings: immutable, unknown keys rejected."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class DetectorSettings(Settings):
    model: str = "yolox-nano"
    model_path: Path | None = None
    model_dir: Path | None = None
    score_threshold: float = 0.1   # floor: the tracker uses 0.1..0.5 detections to keep occluded people
    nms_iou: float = 0.45
    threads: int = 2
    fp16: bool = True                     # TensorRT only: half-precision engines (check with edge eval on the box)
    engine_cache_dir: Path | None = None  # TensorRT engines; default $CACHE_DIRECTORY or ~/.cache/edge-counter


class TrackerSettings(Settings):
    high_threshold: float = 0.6   # detections at or above take part in the first association
    low_threshold: float = 0.1    # detections between low and high may rescue tracked boxes
    new_track_threshold: float = 0.6
    match_iou: float = 0.2        # first stage: minimum IoU to associate
    low_match_iou: float = 0.5    # second stage (low-score detections)
    unconfirmed_match_iou: float = 0.3
    lost_frames: int = 30         # how long a lost track may be re-found


class CounterSettings(Settings):
    band_frac: float = 0.075      # hysteresis half-band as a fraction of the person's box height
    min_band_px: float = 2.0
    hold_frames: int = 4          # a crossing undone within this many frames is not counted
    relink_frames: int = 50       # a track lost this recently may be continued by a new one ...
    relink_dist: float = 0.5      # ... born within this many box heights of where it was lost ...
    relink_height: float = 0.75   # ... whose box is at least this fraction of the other's height
    forget_frames: int = 100      # state for tracks unseen this long is dropped
    first_side_in_band: bool = True  # a track first seen inside the band takes the side it is on


def default_device_id() -> str:
    slug = re.sub(r"[^a-z0-9_.-]+", "-", socket.gethostname().lower()).strip("-.")
    return slug[:63] or "edge-box"


def _unique(names: list[str], what: str) -> None:
    if dup := sorted({n for n in names if names.count(n) > 1}):
        raise ValueError(f"{what} name {dup[0]!r} is used twice: give each {what} a unique name")


class LineConfig(Settings):
    name: str
    a: tuple[float, float]
    b: tuple[float, float]

    def to_line(self) -> Line:
        return Line(self.name, self.a[0], self.a[1], self.b[0], self.b[1])

    @model_validator(mode="after")
    def _valid(self) -> LineConfig:
        try:
            self.to_line()
        except UserError as e:
            raise ValueError(str(e)) from None
        return self


class CaptureSettings(Settings):
    """How a camera stream is opened and watched."""

    open_timeout_s: float = Field(5.0, gt=0)
    read_timeout_s: float = Field(2.0, gt=0)     # a frozen server blocks read() this long; > frame interval
    freeze_timeout_s: float = Field(5.0, gt=0)
    backoff_initial_s: float = Field(0.5, gt=0)
    backoff_max_s: float = Field(30.0, gt=0)
    transport: Literal["tcp", "udp"] = "tcp"
    ffmpeg_options: str = ""          # extra FFmpeg options, e.g. "probesize;32" for a fast open

    @model_validator(mode="after")
    def _read_within_freeze(self) -> CaptureSettings:
        if self.read_timeout_s > self.freeze_timeout_s:
            raise ValueError(f"read_timeout_s ({self.read_timeout_s:g}) must not exceed freeze_timeout_s "
                             f"({self.freeze_timeout_s:g}): a frozen stream is only noticed when a read returns")
        return self


class CameraConfig(Settings):
    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$")]
    source: str
    detect_fps: float = Field(10.0, gt=0, le=120)
    enabled: bool = True
    lines: list[LineConfig] = Field(default_factory=list)
    capture: CaptureSettings | None = None

    @field_validator("lines")
    @classmethod
    def _unique_lines(cls, lines: list[LineConfig]) -> list[LineConfig]:
        _unique([ln.name for ln in lines], "line")
        return lines


class BufferSettings(Settings):
    path: Path = Path("/var/lib/edge-counter/buffer.sqlite")
    synchronous: Literal["full", "normal"] = "full"


class HealthSettings(Settings):
    interval_s: float = Field(30.0, gt=0)


class SyncSettings(Settings):
    """Delivery to the central database (`edge sync`). The DSN usually lives in the secrets file: [sync] dsn = ..."""

    dsn: str | None = None
    batch_size: int = Field(50_000, ge=1, le=1_000_000)
    max_wait_s: float = Field(1.0, gt=0)          # a partial batch leaves once its oldest row waited this long
    poll_s: float = Field(0.2, gt=0)
    retention_s: float = Field(7 * 86400.0, ge=0)  # sent rows are pruned after this; unsent rows never are
    alert_buffer_bytes: int = Field(2_000_000_000, gt=0)
    retry_initial_s: float = Field(0.5, gt=0)
    retry_max_s: float = Field(60.0, gt=0)
    retry_attempts: int = Field(10, ge=1)          # per delivery; `edge sync --once` gives up after these
    connect_timeout_s: int = Field(10, ge=1)
    clock_skew_s: float = Field(30 * 86400.0, gt=0)  # events further than this from central time are flagged
    parallel: int = Field(2, ge=1, le=8)           # central connections streaming the events backlog


class WebSettings(Settings):
    """The box's web page, served by `edge run`: the cameras, their lines drawn on the live picture; /metrics.

    Loopback by default: installers reach it through an SSH tunnel unless `host` opens it to the network.
    The admin password's hash belongs in the secrets file ([web] password_hash, set by `edge provision`).
    """

    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=1, le=65535)
    metrics: bool = True                # /metrics (Prometheus text format, no password, no secrets)
    password_hash: str | None = None    # scrypt hash (edge/web/auth.py); no hash: nobody can log in
    login_failures: int = Field(5, ge=1)       # failed logins allowed per `login_window_s` ...
    login_window_s: float = Field(300.0, gt=0)  # ... before the next ones are refused until the window passes
    session_hours: float = Field(12.0, gt=0)

    @property
    def url(self) -> str:
        """The page's address as seen on the box."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    @field_validator("password_hash")
    @classmethod
    def _scrypt(cls, v: str | None) -> str | None:
        if v is not None and not _PASSWORD_HASH.match(v):
            raise ValueError("is not a password hash: set the web page password with `edge provision --web-password`")
        return v


class BoxConfig(Settings):
    device_id: str = Field(default_factory=default_device_id)
    secrets_file: Path | None = None  # TOML overlay (mode 0600) with passwords: camera sources, DSNs
    model: DetectorSettings = DetectorSettings()
    tracker: TrackerSettings = TrackerSettings()
    counter: CounterSettings = CounterSettings()
    capture: CaptureSettings = CaptureSettings()
    buffer: BufferSettings = BufferSettings()
    health: HealthSettings = HealthSettings()
    sync: SyncSettings = SyncSettings()
    web: WebSettings = WebSettings()
    cameras: list[CameraConfig] = Field(default_factory=list)

    @field_validator("device_id")
    @classmethod
    def _slug(cls, v: str) -> str:
        if not _SLUG.match(v):
            raise ValueError("must be 1-63 lowercase letters, digits, '_', '-' or '.'")
        return v

    @field_validator("cameras")
    @classmethod
    def _unique_cameras(cls, cams: list[CameraConfig]) -> list[CameraConfig]:
        _unique([c.name for c in cams], "camera")
        return cams

    def capture_for(self, camera: CameraConfig) -> CaptureSettings:
        return camera.capture or self.capture


def _format(e: ValidationError) -> str:
    parts = []
    for err in e.errors():
        loc = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err["loc"]).lstrip(".") or "(top level)"
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key (check the spelling against the README)"
        parts.append(f"{loc}: {msg}")
    return "; ".join(parts)


def _toml(text: str, origin: str) -> dict:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise UserError(f"{origin} is not valid TOML: {e}") from None


def _read(path: Path, what: str) -> str:
    try:
        return Path(path).read_text()
    except OSError as e:
        raise UserError(f"cannot read {what} {path}: {e.strerror}: give the path to the box's TOML {what}") from None


def overlay_secrets(raw: dict, secrets: dict) -> dict:
    """Merge a secrets file into a raw config: tables deep-merged, `[cameras.NAME]` onto the camera NAME."""
    merged = dict(raw)
    for key, value in secrets.items():
        if key == "cameras" and isinstance(value, dict):
            cams = [dict(c) for c in merged.get("cameras", [])]
            for c in cams:
                c.update(value.get(c.get("name"), {}))
            merged["cameras"] = cams
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = overlay_secrets(merged[key], value)
        else:
            merged[key] = value
    return merged


def parse_config(text: str, origin: str = "config", secrets_text: str | None = None) -> BoxConfig:
    raw = _toml(text, origin)
    if secrets_text is not None:
        raw = overlay_secrets(raw, _toml(secrets_text, "secrets file"))
    try:
        return BoxConfig.model_validate(raw)
    except ValidationError as e:
        raise UserError(f"{origin}: {_format(e)}") from None


def load_config(path: Path, text: str | None = None) -> BoxConfig:
    """Read and validate the box config, with its secrets file (if it names one) overlaid; with `text`: validate
    that as the new content of the file at `path` (the web page's line editor, before it writes it)."""
    text = _read(path, "config") if text is None else text
    secrets_path = _toml(text, str(path)).get("secrets_file")
    secrets = _read(Path(secrets_path), "secrets file") if isinstance(secrets_path, str) else None
    return parse_config(text, str(path), secrets)
