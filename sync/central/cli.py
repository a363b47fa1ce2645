"""`edge central ...`: central PostgreSQL schema commands."""

from __future__ import annotations

import json
from typing import Annotated, Optional

import typer

from edge.cli_errors import one_line_errors

central_app = typer.Typer(help="Central PostgreSQL: migrate, maintain partitions, refresh summaries, raise alerts, "
                               "list the fleet.", no_args_is_help=True)

DsnOpt = Annotated[str, typer.Option("--dsn", envvar="EDGE_CENTRAL_DSN", show_envvar=True,
                                     help="central PostgreSQL DSN (an administrator role)")]


@central_app.command()
def migrate(dsn: DsnOpt) -> None:
    """Apply the schema migrations not applied yet (each in a transaction; re-running is a no-op)."""
    from sync.central.migrate import migrate as run

    with one_line_errors():
        applied = run(dsn)
    typer.echo("\n".join(f"applied {name}" for name in applied) if applied else "schema up to date")


@central_app.command()
def maintain(
    dsn: DsnOpt,
    ahead_days: Annotated[int, typer.Option(help="create partitions up to this many days ahead")] = 7,
    retention_days: Annotated[Optional[int], typer.Option(
        help="drop partitions older than this for every table (default: partition_policy per table)")] = None,
    backfill_days: Annotated[int, typer.Option(help="also create partitions this many days back (history import)")] = 0,
) -> None:
    """Create partitions ahead, drop those past retention, report rows left in DEFAULT partitions."""
    from sync.central.partitions import maintain as run

    with one_line_errors():
        report = run(dsn, ahead_days, retention_days, backfill_days)
    for name in report.created:
        typer.echo(f"created {name}")
    for name in report.dropped:
        typer.echo(f"dropped {name}")
    for d in report.default_rows:
        typer.echo(f"warning: {d.rows} rows of {d.table} in its DEFAULT partition, {d.oldest} .. {d.newest} "
                   "(outside the managed range: check the clock of the boxes that sent them)", err=True)
    if not (report.created or report.dropped):
        typer.echo("partitions up to date")


@central_app.command()
def refresh(
    dsn: DsnOpt,
    views: Annotated[Optional[list[str]], typer.Argument(
        help="realtime_counting_summary and/or daily_analytics_summary (default: both)")] = None,
    rebuild: Annotated[bool, typer.Option(
        help="recompute every day of the daily summary (after a camera's time zone changed)")] = False,
) -> None:
    """Bring the counting summaries up to date: the real-time one whole, the daily one for changed days."""
    from sync.central.summaries import SUMMARIES
    from sync.central.summaries import refresh as run

    with one_line_errors():
        took = run(dsn, tuple(views) if views else SUMMARIES, rebuild=rebuild)
    for view, seconds in took.items():
        typer.echo(f"refreshed {view} in {seconds:.2f} s")


@central_app.command()
def alerts(
    dsn: DsnOpt,
    window_minutes: Annotated[int, typer.Option(
        help="judge each camera on its reports of the last N minutes (silent that long: no_heartbeat)")] = 5,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """Open an alert per camera condition (offline, silent, slow, dropping frames), resolve cleared ones, list open."""
    from sync.central.alerts import raise_alerts as run

    with one_line_errors():
        report = run(dsn, window_minutes)
    if as_json:
        typer.echo(json.dumps(report.as_dict()))
        return
    typer.echo(f"opened {report.opened}, resolved {report.resolved}, open {len(report.open)}")
    for a in report.open:
        typer.echo(f"{a.camera_id}  {a.alert_type}  {a.severity}  since {a.created_at:%Y-%m-%d %H:%M:%S} UTC")


@central_app.command()
def fleet(
    dsn: DsnOpt,
    silent_minutes: Annotated[int, typer.Option(
        help="a box (or camera) without a report for this many minutes is silent")] = 5,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """One line per box, worst first (silent, degraded, ok): last report, load, sync lag, cameras, open alerts."""
    from sync.central.fleet import fleet as run
    from sync.central.fleet import render

    with one_line_errors():
        report = run(dsn, silent_minutes)
    typer.echo(json.dumps(report.as_dict()) if as_json else "\n".join(render(report)))
