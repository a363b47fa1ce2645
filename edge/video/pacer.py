"""Which frames of a stream are detected, at a camera's `detect_fps` (pure)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Pacer:
    """Picks frames for detection at a target rate by their timestamps, and numbers them (pure).

    A frame is due when it is at most a fifth of a period early; a 10 fps stream detected at 10 fps
    keeps every frame despite arrival jitter, a 25 fps stream detected at 10 fps keeps 10 of 25.
    A due frame's `tick` counts detection periods since the first one: a drop or an outage leaves a gap,
    so the tracker's and counter's frame windows span the same time whatever the stream's rate.
    """

    period_us: float
    next_us: float = 0.0
    start_us: int | None = None
    tick: int = 0

    def due(self, ts_us: int) -> bool:
        if ts_us < self.next_us - 0.2 * self.period_us:
            return False
        if self.start_us is None:
            self.start_us = ts_us
        self.tick = max(self.tick + 1, round((ts_us - self.start_us) / self.period_us) + 1)
        self.next_us = max(self.next_us + self.period_us, ts_us + 0.8 * self.period_us)
        return True
