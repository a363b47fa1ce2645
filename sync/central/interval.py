"""Command options given in minutes, as the intervals the central queries take."""

from __future__ import annotations

from datetime import timedelta

from edge.errors import UserError


def minutes(value: int, what: str) -> timedelta:
    """`value` minutes of a command option; UserError naming `what` unless at least 1."""
    if value < 1:
        raise UserError(f"{what} must be at least 1 minute, not {value}")
    return timedelta(minutes=value)
