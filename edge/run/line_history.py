"""The history of a box's counting lines: a version in the buffer for each line added, moved or removed, with the
time from which it counts (delivered to central by the sync agent, stream "lines")."""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import replace

from edge.counting.line import Line
from edge.records import LineVersion
from edge.store.buffer import Buffer

log = logging.getLogger("edge.run")
Key = tuple[str, str]  # (camera, line)


def new_versions(last: dict[Key, LineVersion], device_id: str, ts_us: int, cameras: dict[str, list[Line]],
                 everywhere: bool = False) -> list[LineVersion]:
    """Versions at `ts_us` of the lines of `cameras` that are new or moved against `last`, and of those gone: of
    these cameras, or with `everywhere` of any camera (one no longer counted); pure."""
    new = []
    for camera, lines in cameras.items():
        for ln in lines:
            v = LineVersion(ts_us=ts_us, device_id=device_id, camera=camera, line=ln.name, x1=ln.x1, y1=ln.y1,
                            x2=ln.x2, y2=ln.y2, active=True)
            before = last.get((camera, ln.name))
            if before is None or replace(before, ts_us=ts_us) != v:
                new.append(v)
    current = {(camera, ln.name) for camera, lines in cameras.items() for ln in lines}
    return new + [replace(v, ts_us=ts_us, active=False) for key, v in last.items()
                  if v.active and key not in current and (everywhere or key[0] in cameras)]


class LineHistory:
    """The last version of every line in `buffer`, and new ones stored as lines change."""

    def __init__(self, buffer: Buffer, device_id: str) -> None:
        self.buffer, self.device_id = buffer, device_id
        self.last = buffer.line_versions()

    def record(self, ts_us: int, cameras: dict[str, list[Line]], everywhere: bool = False) -> None:
        """Store what changed; if the buffer refuses, it is logged and stored at the next start instead (against
        the versions stored by then)."""
        new = new_versions(self.last, self.device_id, ts_us, cameras, everywhere)
        if not new:
            return
        try:
            self.buffer.record_line_versions(new)
        except sqlite3.Error as e:
            log.error("line versions not stored", extra={"error": str(e), "lines": len(new)})
            return
        self.last.update({(v.camera, v.line): v for v in new})
