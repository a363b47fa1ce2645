"""Times as an operator reads them, for `edge status` and `edge central fleet`."""

from __future__ import annotations


def duration(seconds: float) -> str:
    """A duration as an operator reads it: 45 s, 12 min, 3 h."""
    s = max(0, int(seconds))
    return f"{s} s" if s < 120 else f"{s // 60} min" if s < 7200 else f"{s // 3600} h"


def ago(seconds: float | None) -> str:
    """That long ago ("12 min ago"); None: "never"."""
    return "never" if seconds is None else f"{duration(seconds)} ago"
