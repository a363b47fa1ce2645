"""Box alerts (the buffer's sync_alerts) delivered into central box_alerts: once, own device only, from an
older buffer too, and never an endless loop of alerts about rejected alerts."""

from __future__ import annotations

import logging
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import psycopg
import pytest

from edge.errors import EdgeError
from edge.records import now_us
from edge.store.buffer import Buffer
from edge.store.outbox import Outbox, sync_metrics
from edge.store.schema import MIGRATIONS
from sync.agent.loop import Agent
from tests.support.pg import refused_copy_out, seqscan_off
from tests.support.sync import (
    box_config,
    box_dsn,
    buffer_event_ids,
    central_event_ids,
    crossing,
    drain,
    fill,
)

pytestmark = pytest.mark.pg
BEFORE_ALERTS_STREAM = 3  # buffer schema version before the alerts stream
OPEN_ALERTS = "SELECT device_id, alert_ts, kind, message FROM box_alerts WHERE NOT is_resolved ORDER BY alert_ts"


@pytest.fixture
def central(central_dsn: str) -> str:
    return central_dsn


def central_alerts(admin: str) -> list[tuple]:
    """(device, box time in µs, box id, kind, message, resolved) of every central alert, oldest first."""
    with psycopg.connect(admin) as conn:
        return conn.execute("SELECT device_id, (extract(epoch FROM alert_ts) * 1e6)::bigint, box_alert_id, kind, "
                            "message, is_resolved FROM box_alerts ORDER BY alert_ts, box_alert_id").fetchall()


def box_alerts(buffer: Path, device: str = "box1") -> list[tuple]:
    """The buffer's alerts as central_alerts shows them once delivered."""
    with Buffer(buffer) as b:
        return [(device, ts, seq, kind, message, False) for seq, ts, kind, message in
                b.conn.execute("SELECT seq, ts_us, kind, message FROM sync_alerts ORDER BY ts_us, seq")]


def with_rejected_event(buffer: Path) -> None:
    """Crossings plus one stamped with another device, which central refuses: a dead letter and its alert."""
    fill(buffer, 10)
    with Buffer(buffer) as b:
        b.record_frame([crossing(device_id="box2")], now_us())


def test_a_dead_letter_alert_arrives_once_with_its_device_and_kind(central, tmp_path):
    db, dsn = tmp_path / "b.sqlite", box_dsn(central, "box1")
    with_rejected_event(db)
    assert drain(db, dsn).metrics.dead_letters == 1
    alerts = box_alerts(db)
    assert [(a[0], a[3]) for a in alerts] == [("box1", "dead_letter")]
    assert central_alerts(central) == alerts
    drain(db, dsn)
    with Buffer(db) as b:  # a crash between the central commit and the local mark: the batch goes again
        b.conn.execute("UPDATE sync_batches SET sent_us = NULL WHERE stream = 'alerts'")
        b.conn.commit()
    assert drain(db, dsn).metrics.duplicates_skipped == 1
    assert central_alerts(central) == alerts == box_alerts(db)  # the box keeps them after delivery
    with psycopg.connect(central) as conn:
        assert conn.execute("SELECT split_part(stream, ':', 1), row_count FROM sync_batches "
                            "WHERE stream LIKE 'alerts:%'").fetchall() == [("alerts", 1)]


def test_a_box_role_inserts_only_its_own_alerts_and_reads_none(central, tmp_path):
    dsns = {device: box_dsn(central, device) for device in ("box1", "box2")}
    for device, dsn in dsns.items():
        with Outbox(tmp_path / f"{device}.sqlite") as o:
            o.alert("buffer_size", f"{device} buffer is full", now_us())
        drain(tmp_path / f"{device}.sqlite", dsn, device_id=device)
    row = ("box2", "buffer_size", "forged", 99)
    insert = "INSERT INTO box_alerts (device_id, alert_ts, kind, message, box_alert_id) VALUES (%s, now(), %s, %s, %s)"
    with psycopg.connect(dsns["box1"], autocommit=True) as conn:
        for query in ("SELECT * FROM box_alerts", "UPDATE box_alerts SET is_resolved = true", "DELETE FROM box_alerts"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(query)
        refused_copy_out(conn, "COPY box_alerts TO STDOUT")
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute(insert, row)
        # Citus reports a shard's COPY error as internal_error (XX000), with the shard's message.
        with (pytest.raises((psycopg.errors.CheckViolation, psycopg.errors.InternalError_),
                            match='violates check constraint "sync_own_device'), conn.cursor() as cur,
              cur.copy("COPY box_alerts (device_id, alert_ts, kind, message, box_alert_id) FROM STDIN") as copy):
            copy.write_row((row[0], "2026-01-01T00:00:00Z", *row[1:]))
        conn.execute(insert, ("box1", *row[1:]))
    with psycopg.connect(central) as conn:
        assert [(d, k, m) for d, _, k, m in conn.execute(OPEN_ALERTS)] == [
            ("box1", "buffer_size", "box1 buffer is full"), ("box2", "buffer_size", "box2 buffer is full"),
            ("box1", "buffer_size", "forged")]
        seqscan_off(conn)  # a handful of rows: show that the partial index serves the query
        plan = "\n".join(r[0] for r in conn.execute("EXPLAIN " + OPEN_ALERTS))
        assert "box_alerts_unresolved" in plan


def test_alerts_of_a_buffer_from_before_the_alerts_stream_are_delivered(central, tmp_path):
    db, t0 = tmp_path / "old.sqlite", now_us() - 3600 * 1_000_000
    conn = sqlite3.connect(db)
    for script in MIGRATIONS[:BEFORE_ALERTS_STREAM]:
        conn.executescript(script)
    conn.execute(f"PRAGMA user_version = {BEFORE_ALERTS_STREAM}")
    conn.executemany("INSERT INTO sync_alerts (ts_us, kind, message) VALUES (?, ?, ?)",
                     [(t0, "buffer_size", "buffer is 2100 MB, over the 2000 MB limit"),
                      (t0 + 1, "dead_letter", "3 events rows rejected by central, kept in sync_dead_letters")])
    conn.commit()
    conn.close()
    assert sync_metrics(db)["rows_pending"] == 0  # `edge status` reads it as it is: no alerts stream yet
    fill(db, 10)  # `edge run` opens it: migrated
    drain(db, box_dsn(central, "box1"))
    assert [a[1:4] for a in central_alerts(central)] == [(t0, 1, "buffer_size"), (t0 + 1, 2, "dead_letter")]
    assert central_alerts(central) == box_alerts(db)
    assert central_event_ids(central) == buffer_event_ids(db)


def test_alerts_central_rejects_are_dead_letters_and_raise_no_alert(central, tmp_path):
    db, dsn = tmp_path / "b.sqlite", box_dsn(central, "box1")
    with psycopg.connect(central) as conn:  # central refuses every dead_letter alert
        conn.execute("ALTER TABLE box_alerts ADD CONSTRAINT no_dead_letters CHECK (kind <> 'dead_letter')")
    with_rejected_event(db)
    config = tmp_path / "box.toml"
    config.write_text(f'device_id = "box1"\n[buffer]\npath = "{db}"\n[sync]\ndsn = "{dsn}"\n')
    out = subprocess.run([sys.executable, "-m", "edge.cli", "sync", "--once", "--config", str(config)],
                         capture_output=True, text=True, timeout=120)  # an endless loop of alerts would time out
    assert out.returncode == 2
    assert out.stderr.strip().splitlines()[-1].startswith("error: 2 rows rejected by central")
    with Buffer(db) as b:
        dead = [r[0] for r in b.conn.execute("SELECT stream FROM sync_dead_letters ORDER BY id")]
    assert dead == ["events", "alerts"]
    assert [a[3] for a in box_alerts(db)] == ["dead_letter"] and central_alerts(central) == []


def test_a_central_without_box_alerts_takes_everything_else_and_the_alerts_once_migrated(central, tmp_path):
    db = tmp_path / "b.sqlite"
    fill(db, 10)
    with Outbox(db) as outbox:
        outbox.alert("buffer_size", "buffer is 9 MB, over the 5 MB limit", now_us())
    with psycopg.connect(central) as conn:  # a box upgraded before its central
        conn.execute("ALTER TABLE box_alerts RENAME TO box_alerts_later")
    with Outbox(db) as outbox:
        agent = Agent(box_config(db, box_dsn(central, "box1")), outbox)
        try:
            for _ in range(2):  # the same error on every attempt, for that stream only
                with pytest.raises(EdgeError, match="central table box_alerts does not exist.*edge central migrate"):
                    agent.drain()
                assert central_event_ids(central) == buffer_event_ids(db)  # the other streams went through
            with psycopg.connect(central) as conn:
                conn.execute("ALTER TABLE box_alerts_later RENAME TO box_alerts")
            agent.drain()
        finally:
            agent.close()
    with psycopg.connect(central) as conn:
        assert conn.execute("SELECT device_id, kind FROM box_alerts").fetchall() == [("box1", "buffer_size")]


def test_the_running_agent_delivers_the_other_streams_while_one_waits_for_its_table(central, tmp_path, caplog):
    db = tmp_path / "b.sqlite"
    fill(db, 10)
    with Outbox(db) as outbox:
        outbox.alert("buffer_size", "buffer is 9 MB, over the 5 MB limit", now_us())
    with psycopg.connect(central) as conn:
        conn.execute("ALTER TABLE box_alerts RENAME TO box_alerts_later")
    stop = threading.Event()
    with Outbox(db) as outbox, caplog.at_level(logging.ERROR, "edge.sync"):
        agent = Agent(box_config(db, box_dsn(central, "box1"), max_wait_s=0.05, poll_s=0.02, retry_max_s=0.5),
                      outbox, stop)
        thread = threading.Thread(target=agent.run)
        started = time.monotonic()
        thread.start()
        try:
            deadline = started + 20
            while central_event_ids(central) != buffer_event_ids(db) and time.monotonic() < deadline:
                time.sleep(0.1)
            assert central_event_ids(central) == buffer_event_ids(db)
            time.sleep(1.0)
        finally:
            stop.set()
            thread.join(10)
            agent.close()
    ran_s = time.monotonic() - started
    errors = [r for r in caplog.records if "box_alerts does not exist" in r.getMessage()]
    assert 1 <= len(errors) <= 1 + ran_s / 0.5  # once per retry_max_s, not at every 0.02 s poll
