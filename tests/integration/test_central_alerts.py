"""The alerts inbox on a real server: raise_camera_alerts() opens, keeps and resolves alerts from health reports
delivered as a box delivers them; concurrent runs; index use; `edge central alerts`."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from psycopg import sql

from sync.central.alerts import OPEN_ALERTS, raise_alerts
from sync.streams import CAMERA_HEALTH
from tests.integration.test_central import assert_one_line_error, run
from tests.integration.test_central_plans import uses_index
from tests.support.pg import seqscan_off
from tests.support.sync import box_dsn

pytestmark = pytest.mark.pg

DEVICE = "shop12-box1"
DOOR, TILL = f"{DEVICE}/door", f"{DEVICE}/till"
FROZEN = "stream frozen: no frame within the freeze timeout"
COPY_HEALTH = sql.SQL("COPY camera_health ({}) FROM STDIN").format(  # the columns the sync agent sends
    sql.SQL(", ").join(sql.Identifier(f.central[0]) for f in CAMERA_HEALTH.fields))


@pytest.fixture
def central(central_dsn: str) -> str:
    """A migrated database with the device and its two active cameras registered."""
    with psycopg.connect(central_dsn, autocommit=True) as conn:
        conn.execute("INSERT INTO devices (device_id) VALUES (%s)", (DEVICE,))
        conn.execute("INSERT INTO camera_configurations (camera_id, device_id, camera_name) VALUES "
                     "(%s, %s, 'door'), (%s, %s, 'till')", (DOOR, DEVICE, TILL, DEVICE))
    return central_dsn


@pytest.fixture
def box(central: str) -> Iterator[psycopg.Connection]:
    """The box's own least-privilege connection."""
    with psycopg.connect(box_dsn(central, DEVICE), autocommit=True) as conn:
        yield conn


def report(box: psycopg.Connection, camera: str, status: str, p95_ms: float = 80.0,
           ago: timedelta = timedelta()) -> None:
    """One health report COPYed as the sync agent does (the trigger fills the metrics). An offline stream is
    reported as edge/run/health.py does: 0 frames/s, no latency, the error."""
    ts = datetime.now(UTC) - ago
    up = status != "offline"
    row = (camera, ts, status, 10.0 if up else 0.0, 9.8 if up else 0.0, 0.0, 40.0 if up else None,
           p95_ms if up else None, 0, ts if up else None, 640, 480, None if up else FROZEN)
    with box.cursor().copy(COPY_HEALTH) as copy:
        copy.write_row(row)


def counts(dsn: str, minutes: int = 5) -> tuple[int, int]:
    r = raise_alerts(dsn, minutes)
    return r.opened, r.resolved


def alerts(dsn: str) -> list[tuple]:
    """(alert_id, camera, type, severity, resolved, resolved_at set, automatic), oldest first."""
    with psycopg.connect(dsn) as conn:
        return conn.execute("SELECT alert_id, camera_id, alert_type, severity, is_resolved, resolved_at IS NOT NULL, "
                            "is_automatic FROM alerts ORDER BY created_at, alert_id").fetchall()


def test_offline_opens_one_critical_alert_resolved_when_back_and_a_new_one_next_time(central, box) -> None:
    report(box, TILL, "online")
    report(box, DOOR, "offline")
    assert counts(central) == (1, 0)  # no low_fps beside it: 0 frames/s of an offline stream is not slow
    [(first, camera, kind, severity, resolved, _, auto)] = alerts(central)
    assert (camera, kind, severity, resolved, auto) == (DOOR, "offline", "critical", False, True)
    with psycopg.connect(central) as conn:
        assert conn.execute("SELECT title, message FROM alerts").fetchone() == (
            f"{DOOR}: offline", f"box reports the stream offline: {FROZEN}")
    assert counts(central) == (0, 0)
    assert len(alerts(central)) == 1

    report(box, DOOR, "online")
    assert counts(central) == (0, 1)
    assert [a[4:6] for a in alerts(central)] == [(True, True)]
    assert counts(central) == (0, 0)

    report(box, DOOR, "offline")
    assert counts(central) == (1, 0)
    old, new = alerts(central)
    assert old[0] == first and old[4] is True
    assert new[0] != first and new[1:5] == (DOOR, "offline", "critical", False)


def test_high_latency_warns_and_clears_while_manual_alerts_stay_open(central, box) -> None:
    report(box, TILL, "online")
    report(box, DOOR, "online", p95_ms=450, ago=timedelta(minutes=2))
    with psycopg.connect(central) as conn:
        conn.execute("INSERT INTO alerts (camera_id, alert_type, severity, title) VALUES "
                     "(%s, 'lens_dirty', 'info', 'till: clean the lens'), (%s, 'offline', 'error', 'till: recabling')",
                     (TILL, TILL))
    assert counts(central) == (1, 0)
    assert {a[1:4] for a in alerts(central) if a[6]} == {(DOOR, "high_latency", "warning")}
    assert counts(central, minutes=1) == (0, 1)  # the slow report is older than the window now
    assert {a[2:5] for a in alerts(central)} == {("lens_dirty", "info", False), ("offline", "error", False),
                                                ("high_latency", "warning", True)}


def test_concurrent_runs_wait_for_each_other_and_never_duplicate(central, box) -> None:
    report(box, TILL, "online")
    report(box, DOOR, "offline")
    assert counts(central) == (1, 0)
    report(box, DOOR, "online")
    report(box, TILL, "offline")
    with psycopg.connect(central, autocommit=True) as watcher, ThreadPoolExecutor(1) as pool:
        with psycopg.connect(central) as first:  # its transaction stays open until the second run waits on it
            assert first.execute("SELECT * FROM raise_camera_alerts()").fetchone() == (1, 1)
            second = pool.submit(raise_alerts, central)
            deadline = time.monotonic() + 10
            while not watcher.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                                      "AND query LIKE '%raise_camera_alerts%'").fetchone()[0]:
                assert time.monotonic() < deadline and not second.done(), "the second run did not wait"
                time.sleep(0.02)
        assert (second.result(10).opened, second.result().resolved) == (0, 0)
    assert [a[1:5] for a in alerts(central)] == [(DOOR, "offline", "critical", True),
                                                (TILL, "offline", "critical", False)]


def test_inbox_and_searches_use_their_indexes(central) -> None:
    with psycopg.connect(central) as conn:
        conn.execute("INSERT INTO alerts (camera_id, alert_type, severity, title, is_resolved) "
                     "SELECT %s, 'type' || i, 'warning', %s || ': type' || i, i %% 2 = 0 FROM generate_series(1, 20) i",
                     (DOOR, DOOR))
        conn.execute("ANALYZE alerts")
        seqscan_off(conn)  # a table this small would be read whole otherwise

        def plan(query: str) -> str:
            return "\n".join(r[0] for r in conn.execute("EXPLAIN " + query))

        inbox = plan(OPEN_ALERTS)
        # On Citus the coordinator sorts the shards' rows (the ORDER BY is not pushed down), so a shard may read
        # its open alerts through either partial index WHERE NOT is_resolved.
        assert uses_index(inbox, "idx_alerts_unresolved") or (
            "Custom Scan (Citus" in inbox and uses_index(inbox, "idx_alerts_open_camera_type"))
        assert uses_index(plan("SELECT alert_id FROM alerts "
                               "WHERE to_tsvector('english', title) @@ plainto_tsquery('english', 'type3')"),
                          "idx_alerts_title_search")
        assert uses_index(plan("SELECT camera_id FROM camera_configurations WHERE lower(camera_name) = lower('Door')"),
                          "idx_camera_configurations_name_lower")


def test_cli_prints_counts_and_the_open_alerts(central, box) -> None:
    report(box, TILL, "online")
    report(box, DOOR, "offline")
    r = run("alerts", "--dsn", central)
    assert r.exit_code == 0, r.output
    head, line = r.stdout.splitlines()
    assert head == "opened 1, resolved 0, open 1"
    assert line.startswith(f"{DOOR}  offline  critical  since ") and line.endswith(" UTC")
    r = run("alerts", "--dsn", central, "--window-minutes", "5", "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert (out["opened"], out["resolved"]) == (0, 0)
    [alert] = out["open"]
    assert (alert["camera_id"], alert["alert_type"], alert["severity"], alert["is_automatic"]) == (
        DOOR, "offline", "critical", True)
    assert datetime.fromisoformat(alert["created_at"]).tzinfo is not None


def test_a_alert_window_under_a_minute_is_refused() -> None:
    assert_one_line_error(
        run("alerts", "--dsn", "postgresql://edge:hunter2@127.0.0.1:1/central", "--window-minutes", "0"),
        "the alert window must be at least 1 minute, not 0",
    )


def test_cli_on_an_unmigrated_database_says_to_migrate(pg_dsn: str) -> None:
    r = run("alerts", "--dsn", pg_dsn)
    assert r.exit_code == 2 and r.stdout == ""
    assert r.stderr == (
        "error: the central database has no alerts inbox (function raise_camera_alerts(interval) "
        "does not exist): run `edge central migrate` first\n"
    )
