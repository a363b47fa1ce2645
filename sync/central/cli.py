"""`edge central ...`: central PostgreSQL schema commands."""

from __future__ import annotations

import json
from typing import Annotated, Optional

import typer

from edge.cli_errors import one_line_errors
from edge.errors import UserError

central_app = typer.Typer(help="Central PostgreSQL: migrate, maintain partitions, refresh summaries, raise alerts, "
                               "list the fleet.", no_args_is_help=True)

DsnOpt = Annotated[str, typer.Option("--dsn", envvar="EDGE_CENTRAL_DSN", show_envvar=True,
                                     help="central PostgreSQL DSN (an administrator role)")]


WorkersOpt = Annotated[Optional[list[str]], typer.Option(
    "--worker", help="Citus worker HOST:PORT to add to the cluster first (repeatable; each needs the database and "
                     "CREATE EXTENSION citus in it)")]


@central_app.command()
def migrate(
    dsn: DsnOpt,
    citus: Annotated[bool, typer.Option("--citus", help="then distribute the schema on the Citus cluster whose "
                                                        "coordinator DSN is given (see `distribute`)")] = False,
    worker: WorkersOpt = None,
) -> None:
    """Apply the schema migrations not applied yet (each in a transaction; re-running is a no-op). On a distributed
    database, what they add is distributed too."""
    from sync.central.citus import distribute, is_distributed
    from sync.central.migrate import migrate as run
    from sync.connect import connect

    with one_line_errors():
        if worker and not citus:
            raise UserError("--worker needs --citus (or use `edge central distribute --worker`)")
        applied = run(dsn)
        typer.echo("\n".join(f"applied {name}" for name in applied) if applied else "schema up to date")
        if not citus and applied:
            with connect(dsn) as conn:
                citus = is_distributed(conn)
        if citus:
            for line in distribute(dsn, tuple(worker or ())).lines():
                typer.echo(line)


@central_app.command()
def distribute(
    dsn: DsnOpt,
    worker: WorkersOpt = None,
    shard_count: Annotated[Optional[int], typer.Option(
        help="shards per co-location group when it is created (default: the coordinator's citus.shard_count; "
             "docs/central.md has how to choose)")] = None,
) -> None:
    """Distribute the migrated central database on its Citus cluster (the DSN is the coordinator's). Idempotent,
    one transaction: a failure leaves nothing half-distributed. Run it again after adding a node (--worker)."""
    from sync.central.citus import distribute as run

    with one_line_errors():
        report = run(dsn, tuple(worker or ()), shard_count)
    for line in report.lines():
        typer.echo(line)


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
