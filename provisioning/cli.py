"""`edge provision`: interactive by default, fully scriptable with flags."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from edge.cli_errors import one_line_errors
from edge.config import default_device_id
from edge.counting.line import parse_line
from edge.errors import UserError
from provisioning.flow import Request, parse_camera_lines, parse_cameras, provision


def _ask_cameras() -> dict[str, str]:
    cams: dict[str, str] = {}
    while True:
        name = typer.prompt("Camera name (empty when done)", default="", show_default=False).strip()
        if not name:
            if cams:
                return cams
            typer.echo("  at least one camera is needed")
            continue
        if name in cams:
            typer.echo(f"  camera {name!r} is already given: choose another name")
            continue
        cams[name] = typer.prompt(f"RTSP URL of {name} (rtsp://user:pass@host:554/path)").strip()


def _ask_lines(camera: str) -> list[str]:
    specs: list[str] = []
    while True:
        spec = typer.prompt(f"Counting line for {camera} as NAME:x1,y1,x2,y2 (empty when done)",
                            default="", show_default=False).strip()
        if not spec:
            return specs
        try:
            parse_line(spec)
        except UserError as e:
            typer.echo(f"  {e}")
            continue
        specs.append(f"{camera}:{spec}")


def provision_command(
    device_id: Annotated[Optional[str], typer.Option(help="this box's id (default: host name)")] = None,
    camera: Annotated[Optional[list[str]], typer.Option(help="NAME=URL (repeatable)")] = None,
    line: Annotated[Optional[list[str]], typer.Option(help="CAMERA:NAME:x1,y1,x2,y2 (repeatable)")] = None,
    central_dsn: Annotated[Optional[str], typer.Option(help="central PostgreSQL DSN of this box's role")] = None,
    admin_dsn: Annotated[Optional[str], typer.Option(help="admin DSN: creates the box's least-privilege role")] = None,
    model: Annotated[Optional[str], typer.Option(help="install the detector from this file, folder or URL")] = None,
    config_dir: Annotated[Path, typer.Option(help="where box.toml and secrets.toml go")] = Path("/etc/edge-counter"),
    root: Annotated[Path, typer.Option(help="write into this root (an image being prepared)")] = Path("/"),
    camera_timeout: Annotated[float, typer.Option(help="seconds to wait for each camera")] = 5.0,
    web_password: Annotated[Optional[str], typer.Option(
        envvar="EDGE_WEB_PASSWORD", show_envvar=True,  # the environment keeps it out of the process list
        help="admin password of the box's web page (only its hash is stored); default: keep the one set")] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="no questions: take flags and defaults")] = False,
) -> None:
    """Set up this box: check cameras (snapshot with lines), write config, install model, register, self-test."""
    with one_line_errors():
        if not yes:
            device_id = device_id or typer.prompt("Device id", default=default_device_id())
        cams = parse_cameras(camera or []) or ({} if yes else _ask_cameras())
        if not cams:
            raise UserError("no camera given: add --camera NAME=URL")
        line_specs = list(line or [])
        if not yes:
            for name in cams:
                if not any(s.startswith(f"{name}:") for s in line_specs):
                    line_specs += _ask_lines(name)
            if central_dsn is None:
                central_dsn = typer.prompt("Central database DSN (empty: buffer only)", default="",
                                           show_default=False, hide_input=True) or None
            if web_password is None:
                web_password = typer.prompt("Web page password (empty: keep the one set)", default="",
                                            show_default=False, hide_input=True,
                                            confirmation_prompt="Repeat the web page password") or None
        req = Request(device_id=device_id or default_device_id(), cameras=cams,
                      lines=parse_camera_lines(line_specs, cams), central_dsn=central_dsn, admin_dsn=admin_dsn,
                      model=model, config_dir=config_dir, root=root, camera_timeout_s=camera_timeout,
                      web_password=web_password)
        if not yes and not typer.confirm(f"Provision {req.device_id} with {len(cams)} camera(s) under {root}?",
                                         default=True):
            raise typer.Exit(1)
        outcome = provision(req, say=typer.echo)
    typer.echo(f"\n{req.device_id}: provisioning summary")
    for text in outcome.lines:
        typer.echo(text)
    if outcome.problems:
        typer.echo(f"\n{len(outcome.problems)} problem(s) to fix: see FAIL lines above, then re-run (it is safe)")
        typer.echo(outcome.page)
        raise typer.Exit(1)
    typer.echo("\nall checks passed")
    typer.echo(outcome.page)
