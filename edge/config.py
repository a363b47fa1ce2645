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
from enum import StrEnum
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from edge.counting.line import Line
from edge.errors import UserError
from edge.names import check_name, device_id_problem, slug

BOX_CONFIG = Path("/etc/edge-counter/box.toml")  # where `edge provision` writes it and every command reads it
_PASSWORD_HASH = re.compile(r"^scrypt\$\d+\$\d+\$\d+\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$")  # edge/web/auth.py


class Settings(BaseModel):
    """Base for validated settings: immutable, unknown keys rejected."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Precision(StrEnum):
    """Which weights the detector runs: the shipped float ones, or the int8 graph `edge models quantize` makes."""

    FP32 = "fp32"
    INT8 = "int8"


class Batching(StrEnum):
    """`edge run`: frames of several cameras in one inference call, or one call per frame (docs/benchmarks.md)."""

    AUTO = "auto"  # whichever a short probe at start-up finds faster on this machine
    ON = "on"
    OFF = "off"


class DetectorSettings(Settings):
    model: str = "yolox-nano"
    model_path: Path | None = None
    model_dir: Path | None = None
    input_size: str = Field("auto", pattern=r"^(auto|[1-9][0-9]*x[1-9][0-9]*)$")  # "auto", or "HxW" for every camera
    auto_scale: float = Field(0.65, gt=0, le=2)  # auto: no frame is shrunk below this scale (small, far people)
    score_threshold: float = 0.1   # floor: the tracker uses 0.1..0.5 detections to keep occluded people
    nms_iou: float = 0.45
    threads: int = 2
    precision: Precision = Precision.FP32  # int8 is made from footage a box does not have (docs/accuracy.md)
    batching: Batching = Batching.OFF  # auto: a start-up probe; measured live, batches lost here (README)
    max_batch: int = Field(8, ge=1, le=64)  # frames in one batched call, at most
    fp16: bool = True                     # TensorRT only: half-precision engines (check with edge eval on the box)
    engine_cache_dir: Path | None = None  # TensorRT engines; default $CACHE_DIRECTORY or ~/.cache/edge-counter

    @field_validator("input_size")
    @classmethod
    def _multiple_of_32(cls, v: str) -> str:
        if v != "auto" and any(int(x) % 32 for x in v.split("x")):
            raise ValueError(f"{v}: height and width must be multiples of 32 (the coarsest stride), e.g. 480x832")
        return v


def frames(seconds: float, rate_hz: float) -> int:
    """A duration setting in frames of a source whose frames are numbered `rate_hz` per second (a file's frame
    rate, or a live camera's detect_fps): windows then span the same time at 5, 10 or 30 frames/s."""
    return max(0, round(seconds * rate_hz))


class _Durations(Settings):
    """Settings that were frame counts before they became durations: an old key gets a one-line fix."""

    @model_validator(mode="before")
    @classmethod
    def _renamed(cls, data: object) -> object:
        if isinstance(data, dict):
            for old in (k for k in data if isinstance(k, str) and k.endswith("_frames")):
                new = old.removesuffix("_frames") + "_s"
                if new in cls.model_fields:
                    raise ValueError(f"{old} is now {new}, in seconds (frames at 10 frames/s / 10): "
                                     f"write {new} = {data[old] / 10:g} or leave it out for the default")
        return data


class TrackerSettings(_Durations):
    high_threshold: float = 0.6   # detections at or above take part in the first association
    low_threshold: float = 0.1    # detections between low and high may rescue tracked boxes
    new_track_threshold: float = 0.6
    match_iou: float = 0.2        # first stage: minimum IoU to associate
    low_match_iou: float = 0.5    # second stage (low-score detections)
    unconfirmed_match_iou: float = 0.3
    gate_distance: float = Field(0.5, ge=0)  # a track IoU left unmatched takes a confident detection within this
    gate_height: float = Field(0.7, gt=0, le=1)  # many of its heights of its prediction, heights within this ratio
    lost_s: float = Field(3.0, ge=0)  # how long a lost track may be re-found


class MotionSettings(Settings):
    """Motion-gated detection: a camera's frame goes to the detector only when something moves near a line, a
    track near a line must be kept, or the camera has gone `max_quiet_s` without a detection. A quiet shop
    camera then costs a small grey-image difference per frame instead of an inference."""

    detect_always: bool = False          # true: every due frame is detected (the gate is off)
    threshold: int = Field(20, ge=1, le=255)  # grey-level change of a pixel that counts as movement
    min_area: float = Field(0.002, gt=0, lt=1)  # share of the watched area that must change to wake the detector
    max_quiet_s: float = Field(2.0, gt=0)  # the longest a camera goes without a full detection
    busy_interval_s: float = Field(0.2, ge=0)  # people about, none close to a line: detect this often (0: every frame)
    crossing_zone: float = Field(0.5, ge=0)  # feet within this many of the person's heights of a line: every frame
    busy_crops: bool = True  # between two whole looks, detect only a crop around the people close to a line
    margin: float = Field(0.2, ge=0)      # watched area: each line's bounding box grown by this share of the height
    width: int = Field(160, ge=32, le=1920)  # width of the grey image the difference is taken on


class CounterSettings(_Durations):
    band_frac: float = 0.075      # hysteresis half-band as a fraction of the person's box height
    min_band_px: float = 2.0
    hold_s: float = Field(0.4, ge=0)      # a crossing undone within this long is not counted
    relink_s: float = Field(5.0, ge=0)    # a track lost this recently may be continued by a new one ...
    relink_dist: float = 0.5      # ... born within this many box heights of where it was lost ...
    relink_height: float = 0.75   # ... whose box is at least this fraction of the other's height
    forget_s: float = Field(10.0, gt=0)   # state for tracks unseen this long is dropped
    first_side_in_band: bool = True  # a track first seen inside the band takes the side it is on


def default_device_id() -> str:
    """The host name as a valid device id (`Shop12-Box`, `box_1.local` and 70-character names included)."""
    return slug(socket.gethostname()) or "edge-box"


def _name(kind: str, value: str) -> str:
    try:
        return check_name(kind, value)
    except UserError as e:
        raise ValueError(str(e)) from None


def _unique(names: list[str], what: str) -> None:
    if dup := sorted({n for n in names if names.count(n) > 1}):
        raise ValueError(f"{what} name {dup[0]!r} is used twice: give each {what} a unique name")


class LineConfig(Settings):
    name: str
    a: tuple[float, float]
    b: tuple[float, float]

    @field_validator("name")
    @classmethod
    def _valid_name(cls, v: str) -> str:
        return _name("line", v)

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
    name: str
    source: str
    detect_fps: float = Field(10.0, gt=0, le=120)
    enabled: bool = True
    lines: list[LineConfig] = Field(default_factory=list)
    capture: CaptureSettings | None = None

    @field_validator("name")
    @classmethod
    def _valid_name(cls, v: str) -> str:
        return _name("camera", v)

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
    motion: MotionSettings = MotionSettings()
    capture: CaptureSettings = CaptureSettings()
    buffer: BufferSettings = BufferSettings()
    health: HealthSettings = HealthSettings()
    sync: SyncSettings = SyncSettings()
    web: WebSettings = WebSettings()
    cameras: list[CameraConfig] = Field(default_factory=list)

    @field_validator("device_id")
    @classmethod
    def _slug(cls, v: str) -> str:
        if problem := device_id_problem(v):
            raise ValueError(problem)
        return v

    @field_validator("cameras")
    @classmethod
    def _unique_cameras(cls, cams: list[CameraConfig]) -> list[CameraConfig]:
        _unique([c.name for c in cams], "camera")
        return cams

    def capture_for(self, camera: CameraConfig) -> CaptureSettings:
        return camera.capture or self.capture


def validation_message(e: ValidationError) -> str:
    """Every error of a validation, each as `key.path: what is wrong`, in one line."""
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
        raise UserError(f"{origin}: {validation_message(e)}") from None


def load_config(path: Path, root: Path = Path("/"), secrets: bool = True, text: str | None = None) -> BoxConfig:
    """Read and validate the box config, with its secrets file (if it names one, read under `root`) overlaid.
    Without `secrets` the passwords stay unread (`edge status` needs none, and may run as a user who may not).
    With `text`: validate that as the new content of the file at `path` (the web page's line editor, before it
    writes it)."""
    text = _read(path, "config") if text is None else text
    secrets_path = _toml(text, str(path)).get("secrets_file")
    overlay = None
    if secrets and isinstance(secrets_path, str):
        overlay = _read(root / Path(secrets_path).relative_to(Path(secrets_path).anchor), "secrets file")
    return parse_config(text, str(path), overlay)
