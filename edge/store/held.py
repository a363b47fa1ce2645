"""Writes to the buffer that survive a buffer refusing writes (disk full, I/O error, locked too long).

Crossings the buffer refuses are held in memory, in order, and written with the next frame's (or at the
next health tick): counting goes on, nothing is counted twice (a refused transaction is rolled back), and
what is held is only lost if the process ends before the buffer accepts writes again, which `edge run`
then reports. Health records are samples: one that cannot be written is logged and skipped.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections import deque
from collections.abc import Iterable

from edge.records import BoxHealth, CameraHealth, CrossingEvent
from edge.store.buffer import Buffer

log = logging.getLogger("edge.buffer")


def _is_refusal(e: sqlite3.Error) -> bool:
    """Full, unwritable, locked or damaged storage; not a bug in what was written (those must surface)."""
    return isinstance(e, sqlite3.DatabaseError) and not isinstance(
        e, (sqlite3.IntegrityError, sqlite3.ProgrammingError)
    )


class HeldWrites:
    """The runner's writes to `buffer`; at most `limit` refused crossings are held (the oldest go first)."""

    def __init__(self, buffer: Buffer, limit: int = 500_000, log_every_s: float = 30.0) -> None:
        self.buffer, self.limit, self.log_every_s = buffer, limit, log_every_s
        self.held: deque[CrossingEvent] = deque()
        self.dropped = 0
        self.error: str | None = None
        self._logged_at = float("-inf")

    def record_frame(self, events: Iterable[CrossingEvent], now_us: int) -> bool:
        """Store this frame's crossings after any held ones; False if the buffer refused them (held)."""
        self.held.extend(events)
        while len(self.held) > self.limit:
            self.held.popleft()
            self.dropped += 1
        return self.retry(now_us)

    def retry(self, now_us: int) -> bool:
        if not self.held:
            return True
        try:
            self.buffer.record_frame(list(self.held), now_us)
        except sqlite3.Error as e:
            if not _is_refusal(e):
                raise
            self.refused(e)
            return False
        if self.error is not None:
            log.warning("buffer writable again", extra={"path": str(self.buffer.path), "stored": len(self.held)})
            self.error = None
        self.held.clear()
        return True

    def record_health(self, cameras: Iterable[CameraHealth], box: BoxHealth) -> None:
        try:
            self.buffer.record_health(cameras, box)
        except sqlite3.Error as e:
            if not _is_refusal(e):
                raise
            self.refused(e)

    def refused(self, e: sqlite3.Error) -> None:
        """Note a refused write: logged at once, then every `log_every_s` while it lasts."""
        first = self.error is None
        self.error = str(e)
        now = time.monotonic()
        if first or now - self._logged_at >= self.log_every_s:
            self._logged_at = now
            log.error(
                "buffer refuses writes, crossings held in memory",
                extra={
                    "path": str(self.buffer.path),
                    "error": self.error,
                    "held": len(self.held),
                    "dropped": self.dropped,
                    "fix": "free disk space or check the buffer file",
                },
            )

    def unsaved(self) -> str | None:
        """What is lost if the process ends now, as an error message (None if nothing)."""
        if not self.held:
            return None
        return (
            f"buffer {self.buffer.path} refuses writes ({self.error}): {len(self.held)} crossings not stored: "
            "free disk space or repair the buffer file, then restart edge run"
        )
