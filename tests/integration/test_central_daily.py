"""daily_analytics_summary kept current incrementally (migration 0006), on a real server.

Every test compares the summary with ORACLE, the aggregate the materialized view of 0002 computed from all
of counting_results, after changes the refresh must follow: new and corrected minutes, re-deliveries,
deletions, a delivery still open during a refresh, a time-zone change, a dropped partition.
"""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import psycopg
import pytest

from sync.central.migrate import MIGRATIONS_DIR, migrate
from sync.central.summaries import refresh
from tests.central.oracles import FULL_AGGREGATE
from tests.integration.test_central import assert_one_line_error, run
from tests.support.pg import unshard

pytestmark = pytest.mark.pg

CAMERA = "mall-box1/door"
ORACLE = FULL_AGGREGATE + " ORDER BY 1, 2"  # the old materialized view's definition
SUMMARY = ("SELECT camera_id, date, daily_in, daily_out, daily_peak_minute, active_line_minutes "
           "FROM daily_analytics_summary ORDER BY 1, 2")


def minute(conn: psycopg.Connection, ts: str, count_in: int, count_out: int = 0, line: str = "entry",
           camera: str = CAMERA) -> None:
    """What the sync agent does with a per-minute count: upsert, later values win."""
    conn.execute("INSERT INTO counting_results (camera_id, line_name, result_timestamp, count_in, count_out) "
                 "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (camera_id, line_name, result_timestamp) "
                 "DO UPDATE SET count_in = EXCLUDED.count_in, count_out = EXCLUDED.count_out",
                 (camera, line, ts, count_in, count_out))


def refreshed(conn: psycopg.Connection) -> int:
    """Camera-days recomputed by one refresh."""
    return conn.execute("SELECT refresh_daily_analytics()").fetchone()[0]


def summary_matches_oracle(conn: psycopg.Connection) -> bool:
    return conn.execute(SUMMARY).fetchall() == conn.execute(ORACLE).fetchall()


@pytest.fixture
def central(central_dsn: str) -> psycopg.Connection:
    with psycopg.connect(central_dsn, autocommit=True, options="-c TimeZone=UTC") as conn:
        conn.execute("INSERT INTO devices (device_id) VALUES ('mall-box1')")
        conn.execute("INSERT INTO camera_configurations (camera_id, device_id, camera_name, timezone) "
                     "VALUES (%s, 'mall-box1', 'door', 'America/New_York')", (CAMERA,))
        yield conn


def test_only_changed_days_are_recomputed_and_match_the_full_aggregate(central: psycopg.Connection) -> None:
    # 2026-11-20 03:30 UTC is 22:30 on the 19th in New York: two local days, one UTC day.
    minute(central, "2026-11-20 03:30Z", 4, 1)
    minute(central, "2026-11-20 15:00Z", 2, 2)
    minute(central, "2026-11-20 15:00Z", 1, 0, line="exit")
    minute(central, "2026-11-21 15:00Z", 7, 0)
    minute(central, "2026-11-20 08:00Z", 5, 0, camera="mall-box2/till")  # unregistered: UTC days
    assert refreshed(central) == 4
    assert summary_matches_oracle(central)
    assert central.execute(SUMMARY).fetchall()[:2] == [
        (CAMERA, date(2026, 11, 19), 4, 1, 5, 1),
        (CAMERA, date(2026, 11, 20), 3, 2, 4, 2)]

    assert refreshed(central) == 0  # nothing changed
    minute(central, "2026-11-21 15:00Z", 7, 0)  # re-delivered as it was: queues nothing
    assert central.execute("SELECT count(*) FROM daily_summary_queue").fetchone()[0] == 0
    minute(central, "2026-11-21 15:00Z", 9, 3)  # corrected
    before = dict(central.execute("SELECT date, refreshed_at FROM daily_analytics_summary "
                                  "WHERE camera_id = %s", (CAMERA,)).fetchall())
    assert refreshed(central) == 1
    after = dict(central.execute("SELECT date, refreshed_at FROM daily_analytics_summary "
                                 "WHERE camera_id = %s", (CAMERA,)).fetchall())
    assert [d for d in after if after[d] != before[d]] == [date(2026, 11, 21)]
    assert summary_matches_oracle(central)


def test_deleted_minutes_leave_the_summary(central: psycopg.Connection) -> None:
    minute(central, "2026-11-20 15:00Z", 2, 2)
    minute(central, "2026-11-20 15:01Z", 1, 0)
    minute(central, "2026-11-22 15:00Z", 1, 0)
    refreshed(central)
    central.execute("DELETE FROM counting_results WHERE result_timestamp = '2026-11-20 15:01Z'")
    central.execute("DELETE FROM counting_results WHERE result_timestamp = '2026-11-22 15:00Z'")
    assert refreshed(central) == 2
    assert summary_matches_oracle(central)
    assert len(central.execute(SUMMARY).fetchall()) == 1


def test_a_delivery_open_during_a_refresh_is_taken_by_the_next(central: psycopg.Connection, central_dsn: str) -> None:
    minute(central, "2026-11-20 15:00Z", 2, 0)
    with psycopg.connect(central_dsn) as delivery:  # a sync batch: its transaction stays open across the refresh
        minute(delivery, "2026-11-20 15:05Z", 3, 0)
        minute(delivery, "2026-11-20 15:00Z", 6, 0)  # corrects a minute the refresh is about to read
        assert refreshed(central) == 1
        assert central.execute(SUMMARY).fetchall()[0][2] == 2  # only what was committed
        delivery.commit()
    assert refreshed(central) == 1
    assert central.execute(SUMMARY).fetchall()[0][2:4] == (9, 0)
    assert summary_matches_oracle(central)


def test_rebuild_follows_a_time_zone_change_and_days_outlive_dropped_partitions(
        central: psycopg.Connection, central_dsn: str) -> None:
    minute(central, "2026-11-20 03:30Z", 4, 1)
    minute(central, "2026-11-20 15:00Z", 2, 2)
    refresh(central_dsn, ("daily_analytics_summary",))
    central.execute("UPDATE camera_configurations SET timezone = 'Asia/Tokyo' WHERE camera_id = %s", (CAMERA,))
    assert not summary_matches_oracle(central)  # the days were New York's
    r = run("refresh", "--dsn", central_dsn, "--rebuild", "daily_analytics_summary")
    assert r.exit_code == 0 and r.stdout.startswith("refreshed daily_analytics_summary in ")
    rows = central.execute(SUMMARY).fetchall()
    # In Tokyo the minutes fall on the 20th (12:30) and the 21st (00:00); New York's 19th is gone.
    assert summary_matches_oracle(central)
    assert [(r[1].isoformat(), r[2]) for r in rows] == [("2026-11-20", 4), ("2026-11-21", 2)]

    # Retention drops whole partitions (no trigger fires): the day stays in the summary.
    part = unshard(central.execute("SELECT tableoid::regclass::text FROM counting_results LIMIT 1").fetchone()[0])
    central.execute(f"ALTER TABLE counting_results DETACH PARTITION {part}")
    central.execute(f"DROP TABLE {part}")
    if part.endswith("_default"):
        central.execute(f"CREATE TABLE {part} PARTITION OF counting_results DEFAULT")
    assert refreshed(central) == 0 and central.execute(SUMMARY).fetchall() == rows


def test_refresh_refuses_repeatable_read(central: psycopg.Connection, central_dsn: str) -> None:
    with psycopg.connect(central_dsn) as conn:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        with pytest.raises(psycopg.errors.RaiseException, match="needs READ COMMITTED"):
            refreshed(conn)


def test_upgrade_from_the_materialized_view_carries_its_days_and_recomputes_them(pg_dsn: str, tmp_path: Path) -> None:
    before = tmp_path / "before"
    shutil.copytree(MIGRATIONS_DIR, before, ignore=shutil.ignore_patterns("0006_*", "0008_*", "0103_*"))
    migrate(pg_dsn, before)
    with psycopg.connect(pg_dsn, autocommit=True, options="-c TimeZone=UTC") as conn:
        minute(conn, "2026-11-20 15:00Z", 2, 2)
        minute(conn, "2026-11-21 15:00Z", 1, 0)
        conn.execute("REFRESH MATERIALIZED VIEW daily_analytics_summary")  # its last nightly refresh
        minute(conn, "2026-11-20 15:00Z", 5, 2)  # after it: a correction, a camera never summarised
        minute(conn, "2026-11-21 09:00Z", 3, 0, camera="mall-box2/till")
        carried = conn.execute(SUMMARY).fetchall()

        assert [m.split("_")[0] for m in migrate(pg_dsn)] == ["0006", "0008", "0103"]
        assert conn.execute(SUMMARY).fetchall() == carried  # served until the first refresh
        assert conn.execute("SELECT camera_id, minute FROM daily_summary_queue ORDER BY 1").fetchall() == [
            (CAMERA, None), ("mall-box2/till", None)]
        assert refreshed(conn) == 3
        assert summary_matches_oracle(conn)


def test_refresh_before_migrate_is_one_line(pg_dsn: str) -> None:
    assert_one_line_error(run("refresh", "--dsn", pg_dsn, "daily_analytics_summary"),
                          "the central database has no summaries (")
    assert "run `edge central migrate` first" in run("refresh", "--dsn", pg_dsn).stderr
