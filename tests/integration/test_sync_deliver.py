"""Delivery into a real central PostgreSQL from a real buffer: exactly once, fallback, dead letters, clock skew,
least privilege, and what `edge sync --once` says when it cannot deliver."""

from __future__ import annotations

import itertools
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
from edge.store.outbox import Batch, Outbox
from sync.agent.deliver import Delivery, Target
from sync.agent.loop import Agent
from sync.central.roles import create_device_role
from tests.support.pg import refused_copy_out, unshard
from tests.support.sync import box_config, box_dsn, buffer_event_ids, central_event_ids, crossing, drain, fill

pytestmark = pytest.mark.pg
YEAR_US = 365 * 86400 * 1_000_000


@pytest.fixture
def central(central_dsn: str) -> str:
    return central_dsn


def central_totals(admin: str) -> dict[tuple[str, str], tuple[int, int]]:
    with psycopg.connect(admin) as conn:
        rows = conn.execute("SELECT camera_id, line_name, SUM(count_in), SUM(count_out) FROM counting_results "
                            "GROUP BY 1, 2").fetchall()
    return {(c, ln): (i, o) for c, ln, i, o in rows}


def box_totals(buffer: Path, device: str = "box1") -> dict[tuple[str, str], tuple[int, int]]:
    with Buffer(buffer) as b:
        return {(f"{device}/{cam}", ln): (v["in"], v["out"]) for cam, lines in b.totals().items()
                for ln, v in lines.items()}


def test_every_stream_is_delivered_once_and_a_resent_batch_inserts_nothing(central, tmp_path):
    db, dsn = tmp_path / "b.sqlite", box_dsn(central, "box1")
    fill(db, 5000)
    routes: list[str] = []
    agent = drain(db, dsn, routes, batch_size=1000)
    assert central_event_ids(central) == buffer_event_ids(db)
    assert central_totals(central) == box_totals(db)
    assert routes == ["copy"] * 5
    assert (agent.metrics.rows_pending, agent.metrics.dead_letters, agent.metrics.retries) == (0, 0, 0)
    with psycopg.connect(central) as conn:
        assert conn.execute("SELECT COUNT(*) FROM camera_health").fetchone()[0] == 1
        ledger = conn.execute("SELECT split_part(stream, ':', 1), COUNT(*), SUM(row_count) FROM sync_batches "
                              "GROUP BY 1 ORDER BY 1")
        assert ("events", 5, 5000) in ledger.fetchall()
    with Buffer(db) as b:  # a crash between the central commit and the local mark: the batch goes again
        b.conn.execute("UPDATE sync_batches SET sent_us = NULL WHERE stream = 'events' AND batch_no = 3")
        b.conn.commit()
    routes.clear()
    agent = drain(db, dsn, routes)
    assert routes == ["skipped"] and agent.metrics.duplicates_skipped == 1
    assert central_event_ids(central) == buffer_event_ids(db)


def test_a_buffer_over_its_size_limit_raises_an_alert_and_sent_rows_are_pruned(central, tmp_path):
    db = tmp_path / "b.sqlite"
    fill(db, 1000)
    agent = drain(db, box_dsn(central, "box1"), alert_buffer_bytes=1, retention_s=0)
    with Buffer(db) as b:
        assert b.conn.execute("SELECT kind FROM sync_alerts").fetchall() == [("buffer_size",)]
        assert b.conn.execute("SELECT COUNT(*) FROM crossings").fetchone()[0] == 1  # the newest row stays
    assert agent.metrics.rows_pending == 0
    assert len(central_event_ids(central)) == 1000


def test_rows_already_in_central_send_the_batch_the_staging_route(central, tmp_path):
    db, dsn = tmp_path / "b.sqlite", box_dsn(central, "box1")
    fill(db, 300)
    with Buffer(db) as b, psycopg.connect(central) as conn:  # delivered once without a ledger row
        eid, ts = b.conn.execute("SELECT event_id, ts_us FROM crossings WHERE camera = 'cam1' LIMIT 1").fetchone()
        conn.execute("INSERT INTO counting_events (device_id, camera_id, event_ts, event_id, line_name, direction) "
                     "VALUES ('box1', 'box1/cam1', to_timestamp(%s / 1e6), %s, 'entrance', 'in')", (ts, eid))
    routes: list[str] = []
    drain(db, dsn, routes)
    assert routes[0] == "staging"
    assert central_event_ids(central) == buffer_event_ids(db)


def test_a_replaced_buffer_is_not_taken_for_a_resend(central, tmp_path):
    dsn = box_dsn(central, "box1")
    for name in ("old.sqlite", "new.sqlite"):  # batch numbers start at 1 again in the new buffer
        fill(tmp_path / name, 100)
        drain(tmp_path / name, dsn)
    assert central_event_ids(central) == sorted(buffer_event_ids(tmp_path / "old.sqlite")
                                                + buffer_event_ids(tmp_path / "new.sqlite"))


def test_later_minute_counts_win(central, tmp_path):
    db, dsn = tmp_path / "b.sqlite", box_dsn(central, "box1")
    t0 = now_us() // 60_000_000 * 60_000_000
    fill(db, 10, ts_us=t0)
    drain(db, dsn)
    fill(db, 7, ts_us=t0 + 1000)  # more crossings in the same minutes: central must follow
    drain(db, dsn)
    assert central_totals(central) == box_totals(db)
    assert sum(i + o for i, o in central_totals(central).values()) == 17


def test_rejected_rows_go_to_dead_letters_and_the_rest_is_delivered(central, tmp_path):
    db, dsn = tmp_path / "b.sqlite", box_dsn(central, "box1")
    fill(db, 500)
    with Buffer(db) as b:  # a row stamped with another device: central refuses it (the box role's CHECK)
        b.record_frame([crossing(device_id="box2")], now_us())
        b.conn.execute("UPDATE crossings SET event_id = 'not-a-uuid' WHERE seq = 7")  # the encoder refuses it
        b.conn.commit()
    fill(db, 500)
    config = tmp_path / "box.toml"
    config.write_text(f'device_id = "box1"\n[buffer]\npath = "{db}"\n[sync]\ndsn = "{dsn}"\n')
    out = subprocess.run([sys.executable, "-m", "edge.cli", "sync", "--once", "--config", str(config)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2
    assert out.stderr.strip().splitlines()[-1].startswith("error: 2 rows rejected by central were moved to the dead")
    with Buffer(db) as b:
        dead = b.conn.execute("SELECT stream, row_json, error FROM sync_dead_letters ORDER BY id").fetchall()
        alerts = b.conn.execute("SELECT kind FROM sync_alerts").fetchall()
        bad = b.conn.execute("SELECT event_id FROM crossings WHERE device_id = 'box2'").fetchone()[0]
    assert [d[0] for d in dead] == ["events", "events"]
    assert "notauuid" in dead[0][1] and dead[0][2].startswith("encode: ")  # SQLite dropped the dashes
    assert bad in dead[1][1] and "sync_own_device" in dead[1][2]
    assert alerts == [("dead_letter",)]  # one per batch
    assert central_event_ids(central) == sorted(set(buffer_event_ids(db)) - {bad, "not-a-uuid"})
    again = subprocess.run([sys.executable, "-m", "edge.cli", "sync", "--once", "--config", str(config)],
                           capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr


def test_events_stamped_years_away_arrive_in_default_partitions_and_are_flagged(central, tmp_path):
    db, dsn = tmp_path / "b.sqlite", box_dsn(central, "box1")
    now = now_us()
    with Buffer(db) as b:
        b.record_frame([crossing(ts_us=now + 3 * YEAR_US), crossing(ts_us=now - 5 * YEAR_US), crossing(ts_us=now)],
                       now)
    agent = drain(db, dsn)
    assert agent.metrics.clock_skew_rows == 4  # the two far events and their two minute rows
    assert central_event_ids(central) == buffer_event_ids(db)
    with psycopg.connect(central) as conn:
        parts = conn.execute("SELECT tableoid::regclass::text FROM counting_events "
                             "WHERE abs(extract(epoch FROM event_ts - now())) > 86400 * 365").fetchall()
        flags = conn.execute("SELECT split_part(stream, ':', 1), flagged_rows FROM sync_clock_skew "
                             "ORDER BY 1").fetchall()
    assert len(parts) == 2 and all(unshard(p[0]).endswith("default") for p in parts)
    assert flags == [("events", 2), ("minutes", 2)]


def test_a_box_role_cannot_read_or_write_another_devices_rows(central, tmp_path):
    one, two = box_dsn(central, "box1"), box_dsn(central, "box2")
    for device, dsn in (("box1", one), ("box2", two)):
        fill(tmp_path / f"{device}.sqlite", 50, device_id=device)
        drain(tmp_path / f"{device}.sqlite", dsn, device_id=device)
    with psycopg.connect(one, autocommit=True) as conn:
        for query in (
            "SELECT * FROM counting_events",
            "SELECT * FROM camera_health",
            "DELETE FROM counting_results",
            "UPDATE sync_batches SET row_count = 0",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(query)
        refused_copy_out(conn, "COPY counting_events TO STDOUT")
        assert {r[0] for r in conn.execute("SELECT camera_id FROM counting_results")} == {"box1/cam0", "box1/cam1"}
        assert {r[0] for r in conn.execute("SELECT device_id FROM sync_batches")} == {"box1"}
        assert conn.execute("UPDATE counting_results SET count_in = 0 WHERE camera_id LIKE 'box2/%'").rowcount == 0
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute(
                "INSERT INTO counting_events (device_id, camera_id, event_ts, event_id, line_name, direction) "
                "VALUES ('box2', 'box2/cam0', now(), gen_random_uuid(), 'entrance', 'in')"
            )
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute(
                "INSERT INTO sync_batches (device_id, stream, batch_no, row_count) VALUES ('box2', 'events', 99, 1)"
            )
    assert sum(i + o for (cam, _), (i, o) in central_totals(central).items() if cam.startswith("box2/")) == 50


def test_create_device_role_is_idempotent_and_stores_only_a_scram_verifier(central):
    for _ in range(2):
        assert create_device_role(central, "box7", "s3cret-pw") == "box_box7"
    with psycopg.connect(central) as conn:
        stored = conn.execute("SELECT rolpassword FROM pg_authid WHERE rolname = 'box_box7'").fetchone()[0]
        assert stored.startswith("SCRAM-SHA-256$") and "s3cret-pw" not in stored
        assert conn.execute("SELECT pg_has_role('box_box7', 'edge_box', 'MEMBER')").fetchone()[0]
    with pytest.raises(EdgeError) as e:
        create_device_role(central.replace("postgres@", "postgres:hunter2@", 1), "Bad Id!", "pw")
    assert "Bad Id!" in str(e.value) and "hunter2" not in str(e.value)


def test_bad_dsn_unreachable_central_and_tls_refusal_fail_in_one_line_without_the_password(pg_server, tmp_path):
    db = tmp_path / "b.sqlite"
    fill(db, 10)
    config = tmp_path / "box.toml"
    no_tls = pg_server.dsn("postgres").replace("postgres@", "box_box1:hunter2secret@", 1)
    for dsn, expected in (
        (
            "postgresql://box_box1:hunter2secret@127.0.0.1:1/central?connect_timeout=1",
            "error: central database unreachable",
        ),
        ("host=127.0.0.1 password=hunter2secret user", "error: [sync] dsn is not a valid"),
        (
            "postgresql://box_box1:hunter2secret@127.0.0.1/x?sslmode=verify-fully",
            "error: [sync] dsn has an unknown sslmode",
        ),
        (
            f"{no_tls}?sslmode=verify-full&sslrootcert={tmp_path}/no-ca.pem",  # no CA file: waiting cannot help
            "error: central database refused the connection",
        ),
    ):
        config.write_text(
            f'device_id = "box1"\n[buffer]\npath = "{db}"\n[sync]\ndsn = "{dsn}"\n'
            "retry_attempts = 2\nretry_initial_s = 0.05\n"
        )
        out = subprocess.run(
            [sys.executable, "-m", "edge.cli", "sync", "--once", "--config", str(config)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert out.returncode == 2
        assert out.stderr.strip().splitlines()[-1].startswith(expected)
        assert "hunter2secret" not in out.stderr + out.stdout


def test_a_stream_fed_while_it_goes_does_not_keep_the_others_waiting(central, tmp_path):
    """The current minute's counts are rewritten at every crossing: when a minutes delivery takes longer than
    `max_wait_s` and the box counts meanwhile, they are due again as soon as it ends. A step still ends after the
    rows that were waiting when each stream's turn began (it used to go on with minutes for as long as the box
    counted, and the events waited: seen on Citus during a shard rebalance)."""
    db, dsn = tmp_path / "b.sqlite", box_dsn(central, "box1")
    with Buffer(db) as b:
        b.record_frame([crossing(track_id=1)], 0)
    minutes = itertools.count(1)
    with Outbox(db) as outbox, Buffer(db) as box:

        def on_delivered(batch: Batch, target: Target, result: Delivery) -> None:
            if batch.stream == "minutes" and (n := next(minutes)) < 50:  # a crossing while the minute went ...
                box.record_frame([crossing(track_id=n + 1)], 0)
                time.sleep(0.06)  # ... and an uplink slower than max_wait_s

        agent = Agent(box_config(db, dsn, max_wait_s=0.05), outbox, on_delivered=on_delivered)
        step = threading.Thread(target=agent.step, args=(False,), daemon=True)
        try:
            step.start()
            step.join(20)
            assert not step.is_alive() and next(minutes) <= 2, "one step kept delivering minutes"
            agent.step(False)  # the next turn takes the crossings counted meanwhile
            assert len(central_event_ids(central)) >= 2
        finally:
            agent.stop.set()
            step.join(20)
            agent.close()
