"""`edge provision`: from an installer's answers to a checked, configured, registered box.

Order matters for "nothing half-written": every input is validated and every camera checked
before the first file is written; config and secrets are each replaced atomically.
"""

from __future__ import annotations

import statistics
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import tomli_w

from edge.config import BoxConfig, CameraConfig, LineConfig, WebSettings
from edge.counting.line import Line, check_lines, parse_line
from edge.errors import EdgeError, UserError
from edge.secrets import mask_url, strip_password
from edge.web.auth import hash_password, verify_password
from models.registry import DEFAULT_MODEL, spec
from provisioning.files import check_writable, write_atomic
from sync.connect import check_dsn

if TYPE_CHECKING:
    from provisioning.camera_check import CameraCheck

DATA_DIR = Path("/var/lib/edge-counter")


@dataclass
class Request:
    """What the installer asked for (flags or prompts); paths as seen on the box, `root` prefixed when writing."""

    device_id: str
    cameras: dict[str, str]  # name -> source URL or file
    lines: dict[str, list[Line]]  # camera name -> lines
    central_dsn: str | None = None
    admin_dsn: str | None = None
    model: str | None = None  # file, folder or URL to install the detector from
    config_dir: Path = Path("/etc/edge-counter")
    root: Path = Path("/")
    camera_timeout_s: float = 5.0
    enable_units: bool = True
    web_password: str | None = None  # the web page's admin password (only its hash is written)

    def at_root(self, path: Path) -> Path:
        return self.root / path.relative_to("/") if path.is_absolute() else self.root / path

    @property
    def config_path(self) -> Path:
        return self.config_dir / "box.toml"

    @property
    def secrets_path(self) -> Path:
        return self.config_dir / "secrets.toml"


@dataclass
class Outcome:
    """What provisioning did, in lines an installer reads; `problems` decide the exit code."""

    lines: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    page: str = ""  # where the web page is, as the installer reads it

    def ok(self, text: str) -> None:
        self.lines.append(f"  ok    {text}")

    def warn(self, text: str) -> None:
        self.lines.append(f"  WARN  {text}")

    def fail(self, text: str) -> None:
        self.lines.append(f"  FAIL  {text}")
        self.problems.append(text)


def parse_cameras(specs: list[str]) -> dict[str, str]:
    """`NAME=URL` flags -> {name: url}; duplicate names are refused."""
    cams: dict[str, str] = {}
    for s in specs:
        name, sep, url = s.partition("=")
        if not sep or not name or not url:
            raise UserError(f"--camera {mask_url(s)!r} is malformed: write NAME=rtsp://user:pass@host:554/path")
        if name in cams:
            raise UserError(f"camera name {name!r} is given twice: give each camera a unique name")
        cams[name] = url
    return cams


def parse_camera_lines(specs: list[str], cameras: dict[str, str]) -> dict[str, list[Line]]:
    """`CAMERA:NAME:x1,y1,x2,y2` flags -> {camera: [Line]}; unknown cameras and duplicate names refused."""
    out: dict[str, list[Line]] = {c: [] for c in cameras}
    for s in specs:
        cam, sep, rest = s.partition(":")
        if not sep:
            raise UserError(f"--line {s!r} is malformed: write CAMERA:NAME:x1,y1,x2,y2")
        if cam not in cameras:
            raise UserError(f"--line {s!r} is for camera {cam!r}, which is not given: add --camera {cam}=URL")
        line = parse_line(rest)
        if any(ln.name == line.name for ln in out[cam]):
            raise UserError(f"line name {line.name!r} is given twice for camera {cam!r}: give each line a unique name")
        out[cam].append(line)
    return out


def build_config(req: Request, exclude: frozenset[str] | set[str] = frozenset(),
                 web_password_hash: str | None = None) -> tuple[BoxConfig, dict]:
    """The box config (passwords removed) and the secrets overlay holding them."""
    cameras, secret_cams = [], {}
    for name, url in req.cameras.items():
        if name in exclude:
            continue
        shown, has_secret = strip_password(url)
        if has_secret:
            secret_cams[name] = {"source": url}
        lines = [LineConfig(name=ln.name, a=(ln.x1, ln.y1), b=(ln.x2, ln.y2)) for ln in req.lines[name]]
        cameras.append(CameraConfig(name=name, source=shown, lines=lines))
    secrets: dict = {"cameras": secret_cams} if secret_cams else {}
    if req.central_dsn:
        secrets["sync"] = {"dsn": req.central_dsn}
    if web_password_hash:
        secrets["web"] = {"password_hash": web_password_hash}
    model_dir = DATA_DIR / "models" if req.model else None
    config = BoxConfig(
        device_id=req.device_id,
        cameras=cameras,
        secrets_file=req.secrets_path if secrets else None,
        model={"model_dir": model_dir} if model_dir else {},
        buffer={"path": DATA_DIR / "buffer.sqlite"},
    )
    return config, secrets


def _with_box_role(req: Request, out: Outcome) -> Request:
    """With an admin DSN: create the box's role and use its DSN (unless one was given)."""
    from sync.central.registry import box_role_dsn

    previous = None
    secrets_file = req.at_root(req.secrets_path)
    if secrets_file.is_file():
        previous = tomllib.loads(secrets_file.read_text()).get("sync", {}).get("dsn")
    try:
        dsn = box_role_dsn(req.admin_dsn or "", req.device_id, req.central_dsn or previous)
    except EdgeError as e:
        out.warn(f"central unreachable: counts will be buffered; re-run to create the box's role ({e})")
        return req
    out.ok(f"central role box_{req.device_id} ready (least privilege: its own device's rows only)")
    return req if req.central_dsn else Request(**{**req.__dict__, "central_dsn": dsn})


def page_address(web: WebSettings) -> str:
    """The web page's address, and how to reach it from a laptop when it listens on loopback only."""
    if not web.enabled:
        return "web page: off ([web] enabled = false)"
    if web.host in ("127.0.0.1", "::1", "localhost"):
        return (f"web page: {web.url} on the box; from a laptop: ssh -L {web.port}:{web.host}:{web.port} "
                f"root@BOX, then open http://localhost:{web.port}/ to draw the lines on the live picture")
    return f"web page: {web.url}: open it to draw the lines on the live picture"


def _web_password_hash(req: Request) -> str | None:
    """The hash of the web page's password for the secrets file: the one already there while the password is
    the same (or not given), so re-running rewrites nothing; never the password itself."""
    secrets_file = req.at_root(req.secrets_path)
    try:
        previous = tomllib.loads(secrets_file.read_text()).get("web", {}).get("password_hash") \
            if secrets_file.is_file() else None
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise UserError(f"cannot read the secrets file {req.secrets_path}: {e}: fix or remove it, "
                        "then re-run") from None
    if req.web_password is None or (previous and verify_password(req.web_password, previous)):
        return previous
    return hash_password(req.web_password)


def render(config: BoxConfig) -> bytes:
    data = config.model_dump(mode="json", exclude_none=True, exclude_defaults=True)
    data["device_id"] = config.device_id
    header = "# edge-counter box config, written by `edge provision`. Secrets live in the secrets file.\n"
    return (header + tomli_w.dumps(data)).encode()


def provision(req: Request, say: Callable[[str], None] = print) -> Outcome:
    """Check, write, install, register, self-test. Raises EdgeError (nothing written) on bad input."""
    from provisioning.camera_check import check_camera  # OpenCV: loaded when provisioning, not for --help
    from provisioning.model_install import install_model
    from provisioning.snapshot import draw, save_png
    from provisioning.systemd_units import enable_units, write_units

    out = Outcome()
    for dsn, flag in ((req.central_dsn, "--central-dsn"), (req.admin_dsn, "--admin-dsn")):
        if dsn:
            check_dsn(dsn, flag)
    config_dir = req.at_root(req.config_dir)
    check_writable(config_dir)
    web_hash = _web_password_hash(req)  # a password too short stops here
    model = spec(DEFAULT_MODEL)
    model_path = None
    if req.model:  # verified before anything else is written: a wrong file stops here
        model_path, changed = install_model(req.model, req.at_root(DATA_DIR / "models"), model)
        out.ok(f"model {model.file} {'installed' if changed else 'already installed'} (sha256 verified)")

    say("checking cameras ...")
    checks: dict[str, CameraCheck] = {}
    skipped: set[str] = set()  # reachable cameras whose lines do not fit their frame
    for name, url in req.cameras.items():
        c = checks[name] = check_camera(name, url, req.camera_timeout_s)
        if not c.ok:
            out.fail(f"{c.error}; written to the config anyway, it will be retried")
            continue
        w, h = c.size
        try:
            check_lines(req.lines[name], w, h, where=f"camera {name}: ")
        except EdgeError as e:
            out.fail(f"{e}; camera {name} not written")
            skipped.add(name)
            continue
        out.ok(f"camera {name}: {w}x{h} at {c.fps:g} fps, first frame in {c.seconds:.1f} s")
    if req.admin_dsn:
        req = _with_box_role(req, out)
    config, secrets = build_config(req, exclude=skipped, web_password_hash=web_hash)

    changed = write_atomic(req.at_root(req.config_path), render(config), 0o644)
    out.ok(f"config {req.config_path} {'written' if changed else 'unchanged'}")
    if secrets:
        changed = write_atomic(req.at_root(req.secrets_path), tomli_w.dumps(secrets).encode(), 0o600)
        out.ok(f"secrets {req.secrets_path} (mode 0600) {'written' if changed else 'unchanged'}")

    detector = None
    try:
        from edge.config import DetectorSettings
        from edge.vision.detector import Detector

        detector = Detector(DetectorSettings(model_path=model_path, score_threshold=0.4))
    except EdgeError as e:
        out.fail(f"detector: {e}")
    snap_dir = req.at_root(DATA_DIR / "snapshots")
    for name, c in checks.items():
        if c.frame is None or name in skipped:
            continue
        people = detector(c.frame) if detector else None
        path = snap_dir / f"{name}.png"
        save_png(path, draw(c.frame, req.lines[name], people))
        n = len(people) if people is not None else 0
        out.ok(
            f"snapshot {path}: {len(req.lines[name])} line(s) drawn, {n} people seen: "
            "check the lines sit across the doorway"
        )
    if detector is not None:
        frame = next((c.frame for c in checks.values() if c.ok), None)
        if frame is not None:
            runs = []
            for _ in range(5):
                t = time.perf_counter()
                detector(frame)
                runs.append((time.perf_counter() - t) * 1000)
            out.ok(f"detector {model.name} runs: {statistics.median(runs):.1f} ms per frame")

    from edge.store.buffer import Buffer

    buffer_path = req.at_root(config.buffer.path)
    try:
        with Buffer(buffer_path, synchronous="normal"):
            pass
        out.ok(f"buffer {config.buffer.path} writable")
    except EdgeError as e:
        out.fail(f"buffer: {e}")

    from sync.central.registry import check_delivery, register

    if req.admin_dsn:
        try:
            register(req.admin_dsn, config)
            out.ok("device, cameras and lines registered in central")
        except EdgeError as e:
            out.warn(f"not registered in central ({e}): re-run when it is reachable")
    if req.central_dsn:
        try:
            check_delivery(req.central_dsn)
            out.ok("central reachable and writable by this box")
        except EdgeError as e:
            out.warn(f"central unreachable: counts will be buffered ({e})")
    else:
        out.warn("no central database given: counts will be buffered until one is configured")

    units = write_units(req.root, req.config_path)
    out.ok("systemd units " + ", ".join(f"{u} {'written' if ch else 'unchanged'}" for u, ch in units.items()))
    if req.enable_units:
        out.ok(enable_units(req.root))
    if web_hash is None:
        out.warn("no web page password: re-run with --web-password to draw the lines on the live picture")
    out.page = page_address(config.web)
    return out
