"""`edge sync`: the box's sync agent as a command (mounted by edge/cli.py)."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import Annotated

import typer

from edge.cli_errors import one_line_errors
from edge.config import BOX_CONFIG, BoxConfig, load_config
from edge.errors import Rejected, Unavailable
from edge.store.outbox import Outbox
from sync.agent.loop import Agent


def run_sync(config: BoxConfig, once: bool) -> str:
    """Drain and report (`once`), or deliver until SIGTERM/SIGINT."""
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    with Outbox(config.buffer.path, synchronous=config.buffer.synchronous) as outbox:
        agent = Agent(config, outbox, stop)
        try:
            if not once:
                agent.run()
                return "sync stopped"
            m = agent.drain()
        finally:
            agent.close()
    if stop.is_set():
        raise Unavailable(f"interrupted: {m.rows_sent} rows delivered, {m.rows_pending} still pending")
    if m.dead_letters:
        raise Rejected(f"{m.dead_letters} rows rejected by central were moved to the dead-letter table "
                       f"(sync_dead_letters in {config.buffer.path}); {m.rows_sent} rows delivered")
    return f"delivered {m.rows_sent} rows in {m.batches_sent} batches; {m.rows_pending} pending"


def sync_command(
    config: Annotated[Path, typer.Option("--config", help="the box's TOML config")] = BOX_CONFIG,
    once: Annotated[bool, typer.Option("--once", help="deliver what is buffered, then exit")] = False,
) -> None:
    """Deliver the buffer to the central database: continuously, or --once (exit 0 when all delivered)."""
    with one_line_errors():
        typer.echo(run_sync(load_config(config), once))
