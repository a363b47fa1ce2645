"""The box's local SQLite buffer (WAL): crossings, per-minute counts, health; opened, created or migrated.

One frame's results are one transaction. Nothing committed is lost if the process is killed;
with `synchronous="full"` (default) not even on power loss.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import astuple, fields, replace
from pathlib import Path

import sqlite_utils

from edge.errors import UserError
from edge.records import BoxHealth, CameraHealth, CrossingEvent, Direction, LineVersion
from edge.store.schema import MIGRATIONS, MINUTE_US, SCHEMA_VERSION, statements


def _insert_sql(table: str, record_type: type) -> str:
    cols = [f.name for f in fields(record_type)]
    return f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"


_INSERT_CROSSING = _insert_sql("crossings", CrossingEvent)
_INSERT_CAMERA_HEALTH = _insert_sql("camera_health", CameraHealth)
_INSERT_BOX_HEALTH = _insert_sql("box_health", BoxHealth)
_INSERT_LINE_VERSION = _insert_sql("line_versions", LineVersion)
_UPSERT_MINUTE = """
    INSERT INTO minute_counts (camera, line, minute_us, count_in, count_out, updated_us)
    VALUES (?, ?, ?, ?, ?, ?)
    ON CONFLICT (camera, line, minute_us) DO UPDATE SET
        count_in = count_in + excluded.count_in,
        count_out = count_out + excluded.count_out,
        updated_us = excluded.updated_us
"""


class Buffer:
    """Open (creating or migrating) a buffer database. Use as a context manager."""

    def __init__(self, path: Path | str, synchronous: str = "full") -> None:
        self.path = Path(path)
        try:
            if self.path.parent and not self.path.parent.exists():
                self.path.parent.mkdir(parents=True)
            # handed from the thread that opens it to the one that runs the box: one user at a time
            self.db = sqlite_utils.Database(sqlite3.connect(str(self.path), check_same_thread=False))
            self.conn: sqlite3.Connection = self.db.conn
            version = self.conn.execute("PRAGMA user_version").fetchone()[0]
        except (OSError, sqlite3.Error) as e:
            raise UserError(f"cannot open buffer database {self.path}: {e}: "
                            "choose a writable path for --db (a new file or an edge-counter buffer)") from None
        if version > SCHEMA_VERSION:
            self.conn.close()
            raise UserError(f"buffer database {self.path} has schema version {version}, newer than this "
                            f"edge-counter supports ({SCHEMA_VERSION}): upgrade edge-counter or use another --db")
        try:
            self.db.enable_wal()
            self.conn.execute(f"PRAGMA synchronous={synchronous}")
            self.conn.execute("PRAGMA busy_timeout=10000")
            self._migrate(version)
        except sqlite3.Error as e:
            self.conn.close()
            raise UserError(f"cannot use buffer database {self.path}: {e}: "
                            "check the file is writable and is an edge-counter buffer") from None

    def _migrate(self, version: int) -> None:
        for target in range(version, SCHEMA_VERSION):
            with self.conn:  # one transaction per migration, version bump included
                self.conn.execute("BEGIN")
                for stmt in statements(MIGRATIONS[target]):
                    self.conn.execute(stmt)
                self.conn.execute(f"PRAGMA user_version = {target + 1}")

    @property
    def version(self) -> int:
        return int(self.conn.execute("PRAGMA user_version").fetchone()[0])

    def record_frame(self, events: Iterable[CrossingEvent], now_us: int) -> None:
        """Store one frame's crossings and bump their per-minute counts, atomically."""
        events = list(events)
        if not events:
            return
        with self.conn:
            self.conn.executemany(_INSERT_CROSSING, [astuple(e) for e in events])
            self.conn.executemany(_UPSERT_MINUTE, [
                (e.camera, e.line, e.ts_us - e.ts_us % MINUTE_US, int(e.direction == Direction.IN),
                 int(e.direction == Direction.OUT), now_us) for e in events])

    def record_health(self, cameras: Iterable[CameraHealth], box: BoxHealth | None = None) -> None:
        with self.conn:
            self.conn.executemany(_INSERT_CAMERA_HEALTH, [astuple(c) for c in cameras])
            if box is not None:
                self.conn.execute(_INSERT_BOX_HEALTH, astuple(box))

    def record_line_versions(self, versions: Iterable[LineVersion]) -> None:
        with self.conn:
            self.conn.executemany(_INSERT_LINE_VERSION, [astuple(v) for v in versions])

    def line_versions(self) -> dict[tuple[str, str], LineVersion]:
        """The latest version of every line ever stored, by (camera, line)."""
        cols = ", ".join(f.name for f in fields(LineVersion))
        rows = self.conn.execute(f"SELECT {cols} FROM line_versions WHERE seq IN "
                                 "(SELECT MAX(seq) FROM line_versions GROUP BY camera, line)").fetchall()
        versions = [LineVersion(**dict(zip((f.name for f in fields(LineVersion)), r))) for r in rows]
        return {(v.camera, v.line): replace(v, active=bool(v.active)) for v in versions}

    def totals(self, camera: str | None = None) -> dict[str, dict[str, dict[str, int]]]:
        """{camera: {line: {"in": n, "out": m}}} over everything buffered."""
        sql = "SELECT camera, line, SUM(count_in), SUM(count_out) FROM minute_counts"
        args: tuple[str, ...] = ()
        if camera is not None:
            sql, args = sql + " WHERE camera = ?", (camera,)
        out: dict[str, dict[str, dict[str, int]]] = {}
        for cam, line, n_in, n_out in self.conn.execute(sql + " GROUP BY camera, line", args):
            out.setdefault(cam, {})[line] = {"in": n_in, "out": n_out}
        return out

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Buffer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
