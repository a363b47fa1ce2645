"""`edge provision`: from an installer's answers to a checked, configured, registered box.

Three phases, so that nothing is ever half-written:
1. check: every input, every name, the DSNs, the prefix, and that every target folder is writable (a problem here
   is a UserError: exit 2, nothing written);
2. stage: the model is downloaded and verified beside its target, cameras are checked, config, secrets, snapshots
   and units are rendered; an interruption here removes the download and leaves the box as it was;
3. commit: the service user is created and every file put in place, each atomically and only if it differs; then
   the buffer, central registration and the self-test.
A re-run reads what is installed and changes only what it is told to (see provisioning/box_files.py).
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from edge.config import WebSettings, default_device_id
from edge.counting.line import Line
from edge.errors import EdgeError, UserError
from edge.names import check_device_id
from edge.web.auth import hash_password, verify_password
from models.registry import DEFAULT_MODEL, ModelError, ModelSpec, spec
from provisioning.box_files import Change, Installed, merge, read_installed, render_box, render_secrets, validated
from provisioning.central import CA_FILE, box_role, check_link, for_this_machine, register_box, storable_dsn
from provisioning.files import Access, Owner, Staging, check_writable
from provisioning.outcome import Outcome
from provisioning.request import DATA_DIR, LINE_FORM, Request, check_path
from provisioning.systemd_units import SYSUSERS_FILE, UNIT_DIR, enable_units, service_user, unit_binary, unit_files

if TYPE_CHECKING:
    import numpy as np

    from edge.vision.detector import Detector
    from provisioning.camera_check import CameraCheck

MODEL_DIR = DATA_DIR / "models"
SNAPSHOT_DIR = DATA_DIR / "snapshots"


def installed_lines(installed: Installed, camera: str) -> list[Line]:
    cam = installed.camera(camera) or {}
    try:
        return [Line(str(ln["name"]), *ln["a"], *ln["b"]) for ln in cam.get("lines", [])]
    except (KeyError, TypeError, ValueError, EdgeError):
        return []  # the installed config is validated as a whole later, with the key named


def _cameras(req: Request, installed: Installed) -> tuple[dict[str, str], dict[str, list[Line]]]:
    """Every camera the box will have (installed ones kept, given ones added or changed, removed ones gone) and
    the lines to check for each."""
    for name in req.remove:
        if name not in installed.camera_names:
            raise UserError(f"--remove-camera {name}: no such camera is installed "
                            f"(installed: {', '.join(installed.camera_names) or 'none'})")
    sources = {n: installed.source(n) or "" for n in installed.camera_names if n not in req.remove}
    sources.update(req.cameras)
    for cam in req.lines:
        if cam not in sources:
            raise UserError(f"--line for camera {cam!r}, which is neither given nor installed: add --camera {cam}=URL "
                            f"({LINE_FORM})")
    if not sources:
        raise UserError("no camera given: add --camera NAME=rtsp://user:pass@host:554/path")
    lines = {n: req.lines[n] if n in req.lines else installed_lines(installed, n) for n in sources}
    return sources, lines


def _check_targets(req: Request, buffer_dir: Path) -> None:
    """Every folder provisioning writes to can be written: else a UserError before anything is."""
    for directory in (req.config_dir, DATA_DIR, MODEL_DIR, SNAPSHOT_DIR, buffer_dir, UNIT_DIR, SYSUSERS_FILE.parent):
        check_writable(req.at_root(directory))


def _check_frame(name: str, c: CameraCheck, lines: list[Line], out: Outcome) -> bool:
    """Say what the frame means for the camera's lines; False when a line lies entirely outside it."""
    w, h = c.size
    out.ok(f"camera {name}: {w}x{h} at {c.fps:g} fps, first frame in {c.seconds:.1f} s")
    if not lines:
        out.warn(f"camera {name} has no counting line, it counts nothing: add --line {name}:NAME:x1,y1,x2,y2 "
                 f"(pixels of its {w}x{h} frame; see its snapshot)")
    fits = True
    for ln in lines:
        where = f"camera {name}: line {ln.name!r} ({ln.x1:g},{ln.y1:g} -> {ln.x2:g},{ln.y2:g})"
        if not ln.inside(w, h):
            out.fail(f"{where} lies entirely outside the {w}x{h} frame: use pixel coordinates inside the image "
                     "(see the snapshot); the camera is left as it was")
            fits = False
        elif not all(0 <= x <= w and 0 <= y <= h for x, y in ((ln.x1, ln.y1), (ln.x2, ln.y2))):
            out.warn(f"{where} runs outside the {w}x{h} frame: only the part inside counts; keep both ends within "
                     f"0..{w}, 0..{h}")
    return fits


def provision(req: Request, say: Callable[[str], None] = print) -> Outcome:
    """Check, stage, commit, register, self-test. Raises EdgeError (nothing written) on bad input."""
    from provisioning.camera_check import check_camera  # OpenCV: loaded when provisioning, not for --help

    out = Outcome()
    # 1. check
    check_path(req.root, "--root")
    check_path(req.config_dir, "--config-dir")
    ca_on_box = req.config_dir / CA_FILE if req.central_ca else None
    if req.central_ca and not check_path(req.central_ca, "--central-ca", absolute=False).is_file():
        raise UserError(f"--central-ca {req.central_ca} is not a file: give the CA certificate (PEM) that signed "
                        "central's certificate")
    central_dsn = storable_dsn(req.central_dsn, "--central-dsn", ca_on_box, req.insecure) if req.central_dsn else None
    if req.admin_dsn:
        storable_dsn(req.admin_dsn, "--admin-dsn", ca_on_box, req.insecure)  # the box's DSN will be derived from it
    binary = unit_binary(req.root, req.prefix)
    installed = read_installed(req.root, req.config_path, req.secrets_path)
    device_id = check_device_id(req.device_id or installed.device_id or default_device_id(), "--device-id")
    out.device_id = device_id
    sources, lines = _cameras(req, installed)
    buffer_path = Path(installed.box.get("buffer", {}).get("path") or DATA_DIR / "buffer.sqlite")
    _check_targets(req, buffer_path.parent)
    web_hash = _web_password_hash(req.web_password, installed)  # a password too short stops here

    # 2. stage
    staging = Staging()
    try:
        model = spec(DEFAULT_MODEL)
        model_path, model_dir = _model(req, model, staging, out)
        say("checking cameras ...")
        checks: dict[str, CameraCheck] = {}
        keep: set[str] = set()  # cameras whose lines do not fit: left as installed
        for name, url in sources.items():
            c = checks[name] = req.checked.get(name) or check_camera(name, url, req.camera_timeout_s)
            if not c.ok:
                out.fail(f"{c.error}; written to the config anyway, it will be retried")
            elif not _check_frame(name, c, lines[name], out):
                keep.add(name)
        if req.admin_dsn:
            dsn = box_role(req.admin_dsn, device_id, central_dsn or installed.dsn, ca_on_box, req.insecure, out)
        else:
            dsn = central_dsn or installed.dsn
        change = Change(device_id, {n: u for n, u in sources.items()}, {n: lines[n] for n in req.lines},
                        set(req.remove), keep, dsn, model_dir, req.secrets_path, DATA_DIR / "buffer.sqlite",
                        web_hash)
        box, secrets = merge(installed, change)
        config = validated(box, secrets, req.config_path)
        staging.add(req.at_root(req.config_path), render_box(box), Access.EDITABLE)
        if secrets:
            staging.add(req.at_root(req.secrets_path), render_secrets(secrets), Access.SECRET)
        if req.central_ca and ca_on_box:
            staging.add(req.at_root(ca_on_box), req.central_ca.read_bytes())
        detector = _detector(model_path, out)
        people_seen = _snapshots(checks, lines, detector, staging, req)
        for path, data in unit_files(binary, req.config_path).items():
            staging.add(req.at_root(path), data)
    except KeyboardInterrupt:
        staging.discard()
        raise UserError("interrupted: nothing was changed on this box") from None
    except BaseException:
        staging.discard()
        raise

    # 3. commit
    try:
        service, why = service_user(req.root)
        if why:
            out.warn(f"service user: {why}")
        changed = staging.commit(service)
    except KeyboardInterrupt:
        raise UserError("interrupted while putting the files in place: re-run `edge provision` to finish") from None
    _report(req, changed, people_seen, lines, out)
    _buffer(req, config.buffer.path, service, out)
    if detector is not None:
        _time_detector(detector, checks, model.name, out)
    register_box(req.admin_dsn, config, out)
    if dsn:
        check_link(for_this_machine(dsn, req.root), device_id, out)
    else:
        out.warn("no central database given: counts will be buffered until one is configured (--admin-dsn)")
    if req.enable_units:
        done, what = enable_units(req.root)
        (out.ok if done else out.warn)(what)
    if config.web.password_hash is None:
        out.warn("no web page password: re-run with --web-password to draw the lines on the live picture")
    out.page = page_address(config.web)
    return out


def _web_password_hash(password: str | None, installed: Installed) -> str | None:
    """The hash of the web page's password for the secrets file: None (keep the installed one, so re-running
    rewrites nothing) when no password is given or it is the same; never the password itself."""
    previous = installed.web_password_hash
    if password is None or (previous and verify_password(password, previous)):
        return None
    return hash_password(password)


def page_address(web: WebSettings) -> str:
    """The web page's address, and how to reach it from a laptop when it listens on loopback only."""
    if not web.enabled:
        return "web page: off ([web] enabled = false)"
    if web.host in ("127.0.0.1", "::1", "localhost"):
        return (f"web page: {web.url} on the box; from a laptop: ssh -L {web.port}:{web.host}:{web.port} "
                f"root@BOX, then open http://localhost:{web.port}/ to draw the lines on the live picture")
    return f"web page: {web.url}: open it to draw the lines on the live picture"


def _model(req: Request, model: ModelSpec, staging: Staging, out: Outcome) -> tuple[Path | None, Path | None]:
    """The model file the self-test uses and the model folder the config names (None: `edge run` looks it up)."""
    from provisioning.model_install import fetch_model, installed

    target = req.at_root(MODEL_DIR)
    present = installed(target, model)
    if req.model:
        if present:
            out.ok(f"model {model.file} already installed (sha256 verified)")
            return present, MODEL_DIR
        created = tuple(d for d in (target, *target.parents) if not d.exists())
        temp = fetch_model(req.model, target, model)  # verified before anything else is written
        staging.add_temp(target / model.file, temp, created=created)
        out.ok(f"model {model.file} installed (sha256 verified)")
        return temp, MODEL_DIR
    if present:
        out.ok(f"model {model.file} already installed (sha256 verified)")
        return present, MODEL_DIR
    out.warn(f"no model installed in {MODEL_DIR}: give --model FILE|FOLDER|URL, or `edge run` looks {model.file} "
             "up in $EDGE_MODEL_DIR")
    return None, None


def _detector(model_path: Path | None, out: Outcome) -> Detector | None:
    from edge.config import DetectorSettings
    from edge.vision.detector import Detector

    try:
        return Detector(DetectorSettings(model_path=model_path, score_threshold=0.4))
    except (EdgeError, ModelError) as e:
        out.fail(f"detector: {e}")
    return None


def _snapshots(checks: dict[str, CameraCheck], lines: dict[str, list[Line]], detector: Detector | None,
               staging: Staging,
               req: Request) -> dict[str, int]:
    """A snapshot for every camera that gave a frame (also when its lines do not fit: the installer needs it)."""
    from provisioning.snapshot import draw, encode_png

    seen = {}
    for name, c in checks.items():
        if c.frame is None:
            continue
        frame: np.ndarray = c.frame
        people = detector(frame) if detector else None
        staging.add(req.at_root(SNAPSHOT_DIR / f"{name}.png"), encode_png(draw(frame, lines[name], people)),
                    Access.PRIVATE)
        seen[name] = len(people) if people is not None else 0
    return seen


def _report(req: Request, changed: dict[Path, bool], people: dict[str, int], lines: dict[str, list[Line]],
            out: Outcome) -> None:
    def state(path: Path) -> str:
        return "written" if changed.get(req.at_root(path)) else "unchanged"

    out.ok(f"config {req.config_path} {state(req.config_path)}")
    if req.at_root(req.secrets_path) in changed:
        out.ok(f"secrets {req.secrets_path} (mode 0640, readable by the service only) {state(req.secrets_path)}")
    for name, n in people.items():
        out.ok(f"snapshot {SNAPSHOT_DIR / (name + '.png')}: {len(lines[name])} line(s) drawn, {n} people seen: "
               "check the lines sit across the doorway")
    units = [p for p in changed if p.parent == req.at_root(UNIT_DIR)]
    out.ok("systemd units " + ", ".join(f"{p.name} {'written' if changed[p] else 'unchanged'}" for p in units))


def _buffer(req: Request, on_box: Path, service: Owner | None, out: Outcome) -> None:
    """Create the buffer (the service's) if need be: proves its folder writable."""
    from edge.store.buffer import Buffer

    path = req.at_root(on_box)
    try:
        with Buffer(path, synchronous="normal"):
            pass
        if service:
            for p in (path.parent, path, Path(f"{path}-wal"), Path(f"{path}-shm")):
                if p.exists():
                    os.chown(p, service.uid, service.gid)
        out.ok(f"buffer {on_box} writable")
    except (EdgeError, OSError) as e:
        out.fail(f"buffer: {e}")


def _time_detector(detector: Detector, checks: dict[str, CameraCheck], model_name: str, out: Outcome) -> None:
    frame = next((c.frame for c in checks.values() if c.frame is not None), None)
    if frame is None:
        return
    runs = []
    for _ in range(5):
        t = time.perf_counter()
        detector(frame)
        runs.append((time.perf_counter() - t) * 1000)
    out.ok(f"detector {model_name} runs: {statistics.median(runs):.1f} ms per frame")
