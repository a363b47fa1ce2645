"""The box's local SQLite buffer (WAL): crossings, per-minute counts, health; forward migrations.

One frame's results are one transaction. Nothing committed is lost if the process is killed;
with `synchronous="full"` (default) not even on power loss.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import astuple, fields
from pathlib import Path

import sqlite_utils

from edge.errors import EdgeError
from edge.records import BoxHealth, CameraHealth, CrossingEvent

MINUTE_US = 60_000_000

# Forward-only migrations; index i brings the schema from version i to i + 1.
MIGRATIONS: list[str] = [
    """
    CREATE TABLE crossings (
        seq INTEGER PRIMARY KEY,
        event_id TEXT NOT NULL UNIQUE,
        device_id TEXT NOT NULL,
        camera TEXT NOT NULL,
        line TEXT NOT NULL,
        direction TEXT NOT NULL CHECK (direction IN ('in', 'out')),
        track_id INTEGER NOT NULL,
        ts_us INTEGER NOT NULL,
        frame INTEGER NOT NULL,
        score REAL NOT NULL,
        model TEXT NOT NULL
    );
    CREATE INDEX crossings_camera_ts ON crossings (camera, ts_us);
    CREATE TABLE minute_counts (
        camera TEXT NOT NULL,
        line TEXT NOT NULL,
        minute_us INTEGER NOT NULL,
        count_in INTEGER NOT NULL DEFAULT 0,
        count_out INTEGER NOT NULL DEFAULT 0,
        updated_us INTEGER NOT NULL,
        PRIMARY KEY (camera, line, minute_us)
    ) WITHOUT ROWID;
    CREATE TABLE camera_health (
        seq INTEGER PRIMARY KEY,
        ts_us INTEGER NOT NULL, device_id TEXT NOT NULL, camera TEXT NOT NULL, status TEXT NOT NULL,
        fps_in REAL NOT NULL, fps_processed REAL NOT NULL, drop_rate REAL NOT NULL,
        latency_p50_ms REAL, latency_p95_ms REAL, reconnects INTEGER NOT NULL,
        last_frame_us INTEGER, width INTEGER, height INTEGER, error TEXT
    );
    CREATE TABLE box_health (
        seq INTEGER PRIMARY KEY,
        ts_us INTEGER NOT NULL, device_id TEXT NOT NULL, cpu_percent REAL NOT NULL, mem_mb REAL NOT NULL,
        buffer_bytes INTEGER NOT NULL, pending_rows INTEGER NOT NULL
    );
    """,
    # 1: sync agent state. Per-stream cursors (next seq to batch, next batch number: never reused, even after
    # pruning), numbered batches fixed before sending, minute-count snapshots, dead letters, alerts.
    """
    CREATE TABLE sync_streams (
        stream TEXT PRIMARY KEY,
        next_seq INTEGER NOT NULL DEFAULT 1,
        next_batch_no INTEGER NOT NULL DEFAULT 1
    );
    INSERT INTO sync_streams (stream) VALUES ('events'), ('minutes'), ('camera_health'), ('box_health');
    CREATE TABLE sync_batches (
        stream TEXT NOT NULL REFERENCES sync_streams (stream),
        batch_no INTEGER NOT NULL,
        first_seq INTEGER NOT NULL,
        last_seq INTEGER NOT NULL,
        row_count INTEGER NOT NULL,
        created_us INTEGER NOT NULL,
        sent_us INTEGER,
        PRIMARY KEY (stream, batch_no)
    ) WITHOUT ROWID;
    CREATE INDEX sync_batches_sent ON sync_batches (sent_us);
    CREATE TABLE sync_dirty_minutes (
        camera TEXT NOT NULL, line TEXT NOT NULL, minute_us INTEGER NOT NULL,
        PRIMARY KEY (camera, line, minute_us)
    ) WITHOUT ROWID;
    INSERT INTO sync_dirty_minutes SELECT camera, line, minute_us FROM minute_counts;
    CREATE TRIGGER sync_minute_inserted AFTER INSERT ON minute_counts BEGIN
        INSERT INTO sync_dirty_minutes SELECT NEW.camera, NEW.line, NEW.minute_us WHERE NOT EXISTS (
            SELECT 1 FROM sync_dirty_minutes
            WHERE camera = NEW.camera AND line = NEW.line AND minute_us = NEW.minute_us);
    END;
    CREATE TRIGGER sync_minute_updated AFTER UPDATE ON minute_counts BEGIN
        INSERT INTO sync_dirty_minutes SELECT NEW.camera, NEW.line, NEW.minute_us WHERE NOT EXISTS (
            SELECT 1 FROM sync_dirty_minutes
            WHERE camera = NEW.camera AND line = NEW.line AND minute_us = NEW.minute_us);
    END;
    CREATE TABLE sync_minute_rows (
        batch_no INTEGER NOT NULL,
        camera TEXT NOT NULL, line TEXT NOT NULL, minute_us INTEGER NOT NULL,
        count_in INTEGER NOT NULL, count_out INTEGER NOT NULL, updated_us INTEGER NOT NULL,
        PRIMARY KEY (batch_no, camera, line, minute_us)
    ) WITHOUT ROWID;
    CREATE TABLE sync_dead_letters (
        id INTEGER PRIMARY KEY,
        stream TEXT NOT NULL, batch_no INTEGER NOT NULL, row_json TEXT NOT NULL, error TEXT NOT NULL,
        created_us INTEGER NOT NULL
    );
    CREATE INDEX sync_dead_letters_batch ON sync_dead_letters (stream, batch_no);
    CREATE TABLE sync_alerts (
        id INTEGER PRIMARY KEY, ts_us INTEGER NOT NULL, kind TEXT NOT NULL, message TEXT NOT NULL
    );
    """,
    # 2: each stream's name in the central ledger carries a random id of this buffer, so a box whose buffer
    # was replaced (batch numbers start again at 1) is never mistaken for a re-send of the old one's batches.
    """
    ALTER TABLE sync_streams ADD COLUMN ledger_stream TEXT;
    UPDATE sync_streams SET ledger_stream = stream || ':' || lower(hex(randomblob(8)));
    """,
    # 3: the box's alerts are delivered too (stream "alerts", central box_alerts): sync_alerts' key is named
    # seq like every delivered table's, and the stream starts at seq 1, so alerts raised before are delivered.
    """
    ALTER TABLE sync_alerts RENAME COLUMN id TO seq;
    INSERT INTO sync_streams (stream, ledger_stream) VALUES ('alerts', 'alerts:' || lower(hex(randomblob(8))));
    """,
]
SCHEMA_VERSION = len(MIGRATIONS)


def _statements(script: str) -> list[str]:
    """Split a migration into statements; a trigger body's inner `;` does not end its CREATE TRIGGER."""
    out, current = [], ""
    for part in script.split(";"):
        current += part + ";"
        if sqlite3.complete_statement(current):
            if current.strip().strip(";").strip():
                out.append(current)
            current = ""
    return out


def _insert_sql(table: str, record_type: type) -> str:
    cols = [f.name for f in fields(record_type)]
    return f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"


_INSERT_CROSSING = _insert_sql("crossings", CrossingEvent)
_INSERT_CAMERA_HEALTH = _insert_sql("camera_health", CameraHealth)
_INSERT_BOX_HEALTH = _insert_sql("box_health", BoxHealth)
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
            raise EdgeError(f"cannot open buffer database {self.path}: {e}: "
                            "choose a writable path for --db (a new file or an edge-counter buffer)") from None
        if version > SCHEMA_VERSION:
            self.conn.close()
            raise EdgeError(f"buffer database {self.path} has schema version {version}, newer than this "
                            f"edge-counter supports ({SCHEMA_VERSION}): upgrade edge-counter or use another --db")
        try:
            self.db.enable_wal()
            self.conn.execute(f"PRAGMA synchronous={synchronous}")
            self.conn.execute("PRAGMA busy_timeout=10000")
            self._migrate(version)
        except sqlite3.Error as e:
            self.conn.close()
            raise EdgeError(f"cannot use buffer database {self.path}: {e}: "
                            "check the file is writable and is an edge-counter buffer") from None

    def _migrate(self, version: int) -> None:
        for target in range(version, SCHEMA_VERSION):
            with self.conn:  # one transaction per migration, version bump included
                self.conn.execute("BEGIN")
                for stmt in _statements(MIGRATIONS[target]):
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
                (e.camera, e.line, e.ts_us - e.ts_us % MINUTE_US, int(e.direction == "in"),
                 int(e.direction == "out"), now_us) for e in events])

    def record_health(self, cameras: Iterable[CameraHealth], box: BoxHealth | None = None) -> None:
        with self.conn:
            self.conn.executemany(_INSERT_CAMERA_HEALTH, [astuple(c) for c in cameras])
            if box is not None:
                self.conn.execute(_INSERT_BOX_HEALTH, astuple(box))

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

    def __enter__(self) -> "Buffer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
