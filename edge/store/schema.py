"""The box buffer's SQLite schema, sync state included, as forward-only migrations; and the sync streams.

Counting writes crossings, minute counts and health (migration 0); the sync agent's state is migration 1 on:
per-stream cursors, fixed batches, minute snapshots, dead letters, alerts. Both live in one file so a frame's
results and their place in the outbox commit together.
"""

from __future__ import annotations

import sqlite3
from enum import StrEnum


class Stream(StrEnum):
    """What the sync agent delivers, in its delivery order (line versions first: central knows a line's geometry
    before its counts arrive; alerts last: those raised on the way go too)."""

    LINES = "lines"
    EVENTS = "events"
    MINUTES = "minutes"
    CAMERA_HEALTH = "camera_health"
    BOX_HEALTH = "box_health"
    ALERTS = "alerts"


# The box table of each stream whose rows are numbered by `seq`; minutes are batched as snapshots instead.
SEQ_TABLES: dict[Stream, str] = {Stream.LINES: "line_versions", Stream.EVENTS: "crossings",
                                 Stream.CAMERA_HEALTH: "camera_health", Stream.BOX_HEALTH: "box_health",
                                 Stream.ALERTS: "sync_alerts"}
SYNC_SCHEMA_VERSION = 3  # migrations 1 and 2 hold the sync state (3 adds the alerts stream)
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
    # 4: the share of processed frames the motion gate sent to the detector (NULL: no frame processed).
    """
    ALTER TABLE camera_health ADD COLUMN detected_share REAL;
    """,
    # 5: the geometry of every counting line, versioned: `edge run` adds a version when a line is added, moved
    # or removed (at start against the last version stored, and when the web page saves new lines), stamped
    # with the time it took effect; delivered as stream "lines". The sync agent's retry count, for /metrics.
    """
    CREATE TABLE line_versions (
        seq INTEGER PRIMARY KEY,
        ts_us INTEGER NOT NULL,
        device_id TEXT NOT NULL,
        camera TEXT NOT NULL,
        line TEXT NOT NULL,
        x1 REAL NOT NULL, y1 REAL NOT NULL, x2 REAL NOT NULL, y2 REAL NOT NULL,
        active INTEGER NOT NULL CHECK (active IN (0, 1))
    );
    CREATE INDEX line_versions_line ON line_versions (camera, line, seq);
    INSERT INTO sync_streams (stream, ledger_stream) VALUES ('lines', 'lines:' || lower(hex(randomblob(8))));
    CREATE TABLE sync_counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
    INSERT INTO sync_counters (name, value) VALUES ('retries', 0);
    """,
]
SCHEMA_VERSION = len(MIGRATIONS)


def statements(script: str) -> list[str]:
    """Split a migration into statements; a trigger body's inner `;` does not end its CREATE TRIGGER."""
    out, current = [], ""
    for part in script.split(";"):
        current += part + ";"
        if sqlite3.complete_statement(current):
            if current.strip().strip(";").strip():
                out.append(current)
            current = ""
    return out
