"""`edge provision`: interactive by default, fully scriptable with flags. Every answer is checked as it is given;
a re-run offers what is installed as the default and keeps whatever it is not told to change."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Annotated, Optional, TypeVar

import typer

from edge.cli_errors import one_line_errors
from edge.config import default_device_id
from edge.counting.line import Line, parse_line
from edge.errors import UserError
from edge.names import check_device_id, check_name
from edge.web.auth import MIN_PASSWORD
from provisioning.box_files import Installed, read_installed
from provisioning.central import CA_FILE, storable_dsn
from provisioning.request import Request, parse_camera_lines, parse_cameras
from provisioning.urls import camera_source

T = TypeVar("T")

def _ask(question: str, check: Callable[[str], T], default: str = "", hide: bool = False) -> T:
    """Ask until `check` accepts the answer (its one-line error is shown otherwise)."""
    while True:
        answer = typer.prompt(question, default=default, show_default=bool(default) and not hide,
                              hide_input=hide).strip()
        try:
            return check(answer)
        except UserError as e:
            typer.echo(f"  {e}")


def _ask_lines(camera: str, size: tuple[int, int] | None, installed: int) -> list[Line]:
    keep = f"keep its {installed} line(s)" if installed else "done"
    lines: list[Line] = []
    while True:
        spec = typer.prompt(f"Counting line for {camera} as NAME:x1,y1,x2,y2 (empty: {keep if not lines else 'done'})",
                            default="", show_default=False).strip()
        if not spec:
            return lines
        try:
            line = parse_line(spec)
        except UserError as e:
            typer.echo(f"  {e}")
            continue
        if size and not line.inside(*size):
            typer.echo(f"  line {line.name!r} lies entirely outside the {size[0]}x{size[1]} frame: use pixels in it")
            continue
        if any(ln.name == line.name for ln in lines):
            typer.echo(f"  line name {line.name!r} is already given: choose another name")
            continue
        lines.append(line)


def _interview(req: Request, installed: Installed, timeout_s: float) -> None:
    """Fill `req` from prompts: device, cameras (each checked at once, its frame size shown before its lines are
    asked for), model, central. Empty answers keep what is installed."""
    from provisioning.camera_check import check_camera

    if req.device_id is None:
        req.device_id = _ask("Device id", check_device_id, installed.device_id or default_device_id())
    if installed.camera_names:
        typer.echo(f"Installed cameras (kept): {', '.join(installed.camera_names)}")
    while not req.cameras or typer.confirm("Add or change another camera?", default=False):
        name = _ask("Camera name" + (" (empty when done)" if req.cameras or installed.camera_names else ""),
                    lambda a: check_name("camera", a) if a else "")
        if not name:
            if req.cameras or installed.camera_names:
                break
            typer.echo("  at least one camera is needed")
            continue
        req.cameras[name] = _ask(f"RTSP URL of {name} (rtsp://user:pass@host:554/path)",
                                 partial(camera_source, name))
        check = req.checked[name] = check_camera(name, req.cameras[name], timeout_s)
        typer.echo(f"  {name}: {check.size[0]}x{check.size[1]} frame: lines are pixels of it (x 0..{check.size[0]}, "
                   f"y 0..{check.size[1]})" if check.ok else f"  {check.error}")
        lines = _ask_lines(name, check.size if check.ok else None, len((installed.camera(name) or {}).get("lines", [])))
        if lines:
            req.lines[name] = lines
    if req.model is None:
        req.model = typer.prompt("Detector model: file, folder or URL to install it from (empty: keep the "
                                 "installed one, or look it up)", default="", show_default=False).strip() or None
    ca = req.config_dir / CA_FILE if req.central_ca else None
    if req.admin_dsn is None and req.central_dsn is None:
        req.admin_dsn = _ask("Central admin DSN: creates this box's role and registers its cameras (empty: skip)",
                             lambda a: (storable_dsn(a, "admin DSN", ca, req.insecure) and a) if a else None,
                             hide=True)
        if req.admin_dsn is None:
            keep = "keep the current one" if installed.dsn else "buffer only"
            req.central_dsn = _ask(f"Central DSN of this box's role (empty: {keep})",
                                   lambda a: (storable_dsn(a, "central DSN", ca, req.insecure) and a) if a else None,
                                   hide=True)
        if req.admin_dsn is None:
            typer.echo("  without an admin DSN the box is not registered in central (its cameras and lines unknown)")
    if req.web_password is None:
        keep = "keep the one set" if installed.web_password_hash else "none: nobody can log in"
        req.web_password = typer.prompt(f"Web page password, {MIN_PASSWORD} characters or more (empty: {keep})",
                                        default="", show_default=False, hide_input=True,
                                        confirmation_prompt="Repeat the web page password") or None


def provision_command(
    device_id: Annotated[Optional[str], typer.Option(help="this box's id (default: installed, else host name)")] = None,
    camera: Annotated[Optional[list[str]], typer.Option(help="NAME=URL, new or changed (repeatable)")] = None,
    line: Annotated[Optional[list[str]], typer.Option(
        help="CAMERA:NAME:x1,y1,x2,y2 (repeatable); replaces that camera's lines")] = None,
    remove_camera: Annotated[Optional[list[str]], typer.Option(help="remove this camera (repeatable)")] = None,
    central_dsn: Annotated[Optional[str], typer.Option(help="central PostgreSQL DSN of this box's role")] = None,
    admin_dsn: Annotated[Optional[str], typer.Option(help="admin DSN: creates the box's least-privilege role")] = None,
    central_ca: Annotated[Optional[Path], typer.Option(
        help="CA certificate of central: stored beside box.toml, the DSN gets sslmode=verify-full")] = None,
    insecure: Annotated[bool, typer.Option(
        "--insecure", help="store a DSN that does not verify a non-loopback central (no TLS or no CA)")] = False,
    model: Annotated[Optional[str], typer.Option(help="install the detector from this file, folder or URL")] = None,
    config_dir: Annotated[Path, typer.Option(help="where box.toml and secrets.toml go")] = Path("/etc/edge-counter"),
    root: Annotated[Path, typer.Option(help="write into this root (an image being prepared)")] = Path("/"),
    prefix: Annotated[Optional[Path], typer.Option(
        help="where edge-counter is installed on the box (the units run PREFIX/bin/edge; default: this installation, "
             "or /opt/edge-counter with --root)")] = None,
    camera_timeout: Annotated[float, typer.Option(help="seconds to wait for each camera")] = 5.0,
    web_password: Annotated[Optional[str], typer.Option(
        envvar="EDGE_WEB_PASSWORD", show_envvar=True,  # the environment keeps it out of the process list
        help="admin password of the box's web page (only its hash is stored); default: keep the one set")] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="no questions: flags, installed values, defaults")] = False,
) -> None:
    """Set up this box: check cameras (snapshot with lines), write config, install model, register, self-test."""
    from provisioning.flow import provision

    with one_line_errors():
        if not 0 < camera_timeout <= 300:  # also NaN
            raise UserError(f"--camera-timeout {camera_timeout:g} is out of range: give 1 to 300 seconds")
        try:
            req = Request(device_id=device_id, cameras=parse_cameras(camera or []),
                          lines=parse_camera_lines(line or []),
                          remove=[check_name("camera", n) for n in remove_camera or []],
                          central_dsn=central_dsn or None, admin_dsn=admin_dsn or None, central_ca=central_ca,
                          insecure=insecure, model=model or None, config_dir=config_dir, root=root.absolute(),
                          prefix=prefix, camera_timeout_s=camera_timeout, web_password=web_password or None)
            if not yes:
                _interview(req, read_installed(req.root, req.config_path, req.secrets_path), camera_timeout)
                if not typer.confirm(f"Provision {req.device_id} under {req.root}?", default=True):
                    raise typer.Exit(1)
            outcome = provision(req, say=typer.echo)
        except (KeyboardInterrupt, typer.Abort):  # at a prompt: nothing was written yet
            raise UserError("interrupted: nothing was changed on this box") from None
    typer.echo(f"\n{outcome.device_id}: provisioning summary")
    for text in outcome.lines:
        typer.echo(text)
    if outcome.problems:
        typer.echo(f"\n{len(outcome.problems)} problem(s) to fix: see FAIL lines above, then re-run (it is safe)")
        typer.echo(outcome.page)
        raise typer.Exit(1)
    typer.echo("\nall checks passed")
    typer.echo(outcome.page)
