"""The one boundary where errors become what a person at a terminal reads: one line and an exit code."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer

from edge.errors import EdgeError
from models.registry import ModelError


@contextmanager
def one_line_errors() -> Iterator[None]:
    """Run a command's body: an EdgeError or ModelError becomes `error: ...` on stderr and its exit code."""
    try:
        yield
    except (EdgeError, ModelError) as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(getattr(e, "exit_code", 2)) from None
