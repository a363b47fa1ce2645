"""Central PostgreSQL schema on a real server: migrations, partitions, health ingest, refresh, CLI errors."""

from __future__ import annotations

import shutil
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner

from edge.cli import app
from edge.errors import EdgeError
from sync.central.migrate import MIGRATIONS_DIR, migrate, migrations
from sync.central.partitions import maintain
from sync.central.summaries import refresh
from tests.support.pg import unshard

NOW = datetime.now(UTC)


def run(*args: str):
    return CliRunner().invoke(app, ["central", *args])


def assert_one_line_error(r, message: str) -> None:
    """Exit 2, nothing on stdout, one line on stderr starting with `error: message`, no password in it."""
    assert r.exit_code == 2 and r.stdout == ""
    assert r.stderr.startswith(f"error: {message}")
    assert r.stderr.count("\n") == 1 and "hunter2" not in r.stderr


def partition_of(conn: psycopg.Connection, table: str, where: str) -> list[str]:
    """The partitions holding the rows (on Citus tableoid names a shard of the partition)."""
    return [unshard(r[0]) for r in conn.execute(f"SELECT tableoid::regclass::text FROM {table} WHERE {where}")]


def event(conn: psycopg.Connection, ts: datetime, camera: str = "shop12-box1/door") -> None:
    conn.execute("INSERT INTO counting_events (event_id, device_id, camera_id, line_name, direction, track_id, "
                 "event_ts, frame_index, score, model) VALUES (gen_random_uuid(), split_part(%s, '/', 1), %s, "
                 "'entry', 'in', 7, %s, 42, 0.9, 'yolox_nano')", (camera, camera, ts))


def test_migrate_on_empty_database_then_no_op(central_empty_dsn: str) -> None:
    r = run("migrate", "--dsn", central_empty_dsn)
    assert r.exit_code == 0, r.output
    assert "applied 0001_central_schema" in r.output and "applied 0002_summaries" in r.output
    assert migrate(central_empty_dsn) == []
    r = run("migrate", "--dsn", central_empty_dsn)
    assert r.exit_code == 0 and r.output.strip() == "schema up to date"
    with psycopg.connect(central_empty_dsn) as conn:
        recorded = [v for (v,) in conn.execute("SELECT version FROM schema_migrations ORDER BY version")]
        kinds = dict(conn.execute("SELECT relname, relkind FROM pg_class WHERE relname IN "
                                  "('counting_events', 'camera_events', 'daily_analytics_summary')").fetchall())
    assert recorded == [m.version for m in migrations()]
    assert kinds == {"counting_events": "p", "camera_events": "p", "daily_analytics_summary": "r"}


def test_migration_changed_after_apply_is_refused(central_empty_dsn: str, tmp_path: Path) -> None:
    shutil.copytree(MIGRATIONS_DIR, tmp_path / "m")
    migrate(central_empty_dsn, tmp_path / "m")
    with open(tmp_path / "m" / "0002_summaries.sql", "a") as f:
        f.write("\n-- edited\n")
    with pytest.raises(EdgeError, match="0002_summaries changed after it was applied"):
        migrate(central_empty_dsn, tmp_path / "m")


def test_failed_migration_is_rolled_back_whole(central_empty_dsn: str, tmp_path: Path) -> None:
    (tmp_path / "0001_ok.sql").write_text("CREATE TABLE a (x int);")
    (tmp_path / "0002_bad.sql").write_text("CREATE TABLE b (x int);\nINSERT INTO b VALUES ('not a number');")
    with pytest.raises(EdgeError, match="migration 0002_bad failed \\(rolled back\\): invalid input syntax"):
        migrate(central_empty_dsn, tmp_path)
    with psycopg.connect(central_empty_dsn) as conn:
        assert conn.execute("SELECT version FROM schema_migrations").fetchall() == [("0001",)]
        assert conn.execute("SELECT to_regclass('b')").fetchone() == (None,)


def test_rows_land_in_their_partitions_and_strays_in_default(central_dsn: str) -> None:
    maintain(central_dsn)
    with psycopg.connect(central_dsn, autocommit=True) as conn:
        event(conn, NOW)
        event(conn, NOW + timedelta(days=400))  # a box clock a year off
        event(conn, NOW - timedelta(days=3650))
        conn.execute("INSERT INTO counting_results (camera_id, line_name, result_timestamp, count_in, count_out) "
                     "VALUES ('shop12-box1/door', 'entry', date_trunc('minute', now()), 3, 1)")
        conn.execute("INSERT INTO box_health (device_id, health_ts, cpu_percent) VALUES ('shop12-box1', now(), 12)")
        assert partition_of(conn, "counting_events", "event_ts <= now() + interval '1 day'") == [
            f"counting_events_p{NOW:%Y%m%d}", "counting_events_default"]
        assert partition_of(conn, "counting_events", "event_ts > now() + interval '1 day'") == [
            "counting_events_default"]
        assert partition_of(conn, "counting_results", "true") == [f"counting_results_p{NOW:%Y%m}"]
        assert partition_of(conn, "box_health", "true") == [f"box_health_p{NOW:%Y%m%d}"]
        assert conn.execute("SELECT device_id FROM counting_results").fetchone() == ("shop12-box1",)
    report = maintain(central_dsn)
    assert [(d.table, d.rows) for d in report.default_rows] == [("counting_events", 2)]
    r = run("maintain", "--dsn", central_dsn)
    assert r.exit_code == 0
    assert "warning: 2 rows of counting_events in its DEFAULT partition" in r.stderr


def test_maintenance_creates_ahead_moves_parked_rows_and_retires(central_dsn: str) -> None:
    with psycopg.connect(central_dsn, autocommit=True) as conn:
        event(conn, NOW - timedelta(days=2))  # before any partition exists: parked in DEFAULT
    report = maintain(central_dsn, ahead_days=3)
    days = [f"counting_events_p{NOW + timedelta(days=d):%Y%m%d}" for d in (-2, 0, 1, 2, 3)]
    assert set(days) <= set(report.created)
    assert report.default_rows == []
    assert maintain(central_dsn, ahead_days=3).created == []
    with psycopg.connect(central_dsn, autocommit=True) as conn:
        assert partition_of(conn, "counting_events", "true") == [days[0]]
    report = maintain(central_dsn, ahead_days=3, retention_days=1)
    assert days[0] in report.dropped
    with psycopg.connect(central_dsn, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM counting_events").fetchone()[0] == 0
        assert conn.execute("SELECT to_regclass(%s)", (days[0],)).fetchone()[0] is None
    backfilled = maintain(central_dsn, backfill_days=40).created
    assert f"counting_events_p{NOW - timedelta(days=40):%Y%m%d}" in backfilled
    assert f"stream_quality_metrics_p{NOW - timedelta(days=31):%Y%m%d}" not in backfilled  # retention 30


def test_health_reports_feed_latest_status_and_time_series(central_dsn: str) -> None:
    maintain(central_dsn)
    t0 = NOW.replace(microsecond=0)
    reports = [(t0, "online", 10.0, 9.9, 0.01), (t0 + timedelta(seconds=30), "degraded", 10.0, 6.5, 0.35),
               (t0 - timedelta(seconds=30), "online", 10.0, 9.9, 0.0)]  # late, older report
    with psycopg.connect(central_dsn, autocommit=True) as conn:
        for _ in range(2):  # the second round is a re-delivery
            with conn.cursor().copy("COPY camera_health (camera_id, health_ts, status, fps_in, fps_processed, "
                                    "drop_rate) FROM STDIN") as copy:
                for r in reports:
                    copy.write_row(("shop12-box1/door", *r))
        latest = conn.execute("SELECT status, health_ts, round(stream_quality_score::numeric, 2)::float8, device_id "
                              "FROM camera_health").fetchall()
        series = conn.execute("SELECT count(*), count(*) FILTER (WHERE quality_score < 0.8) "
                              "FROM stream_quality_metrics").fetchone()
        perf = conn.execute("SELECT count(*) FROM camera_performance_metrics").fetchone()[0]
        changes = [m for (m,) in conn.execute("SELECT message FROM camera_events ORDER BY event_ts")]
    assert latest == [("degraded", t0 + timedelta(seconds=30), pytest.approx(0.65), "shop12-box1")]
    assert series == (3, 1) and perf == 3
    assert changes == ["new -> online", "online -> degraded"]


def test_check_camera_performance(central_dsn: str) -> None:
    maintain(central_dsn)
    with psycopg.connect(central_dsn, autocommit=True) as conn:
        conn.execute("INSERT INTO devices (device_id) VALUES ('shop12-box1')")
        conn.execute("INSERT INTO camera_configurations (camera_id, device_id, camera_name) VALUES "
                     "('shop12-box1/door', 'shop12-box1', 'door'), ('shop12-box1/till', 'shop12-box1', 'till')")
        conn.execute("INSERT INTO camera_health (camera_id, health_ts, status, fps_in, fps_processed, drop_rate, "
                     "latency_p95_ms) VALUES ('shop12-box1/door', now(), 'degraded', 10, 3, 0.7, 450)")
        alerts = {(c, t) for c, t, _, _ in conn.execute("SELECT * FROM check_camera_performance()")}
    assert alerts == {("shop12-box1/door", "high_latency"), ("shop12-box1/door", "frame_drops"),
                      ("shop12-box1/door", "low_fps"), ("shop12-box1/till", "no_heartbeat")}


def test_concurrent_refresh_does_not_block_readers(central_dsn: str) -> None:
    maintain(central_dsn)
    with psycopg.connect(central_dsn, autocommit=True) as conn, psycopg.connect(central_dsn) as reader:
        conn.execute("INSERT INTO counting_results (camera_id, line_name, result_timestamp, count_in, count_out) "
                     "VALUES ('shop12-box1/door', 'entry', date_trunc('minute', now()), 3, 1)")
        assert reader.execute("SELECT count(*) FROM realtime_counting_summary").fetchone()[0] == 0  # tx open
        done = threading.Event()
        worker = threading.Thread(target=lambda: (refresh(central_dsn), done.set()))
        worker.start()
        assert done.wait(20), "REFRESH ... CONCURRENTLY waited for a reader"
        worker.join()
        reader.rollback()
        rows = reader.execute("SELECT camera_id, total_count FROM realtime_counting_summary").fetchall()
        daily = reader.execute("SELECT daily_in, daily_out FROM daily_analytics_summary").fetchall()
    assert rows == [("shop12-box1/door", 4)] and daily == [(3, 1)]


@pytest.mark.parametrize("dsn", ["postgresql://edge:hunter2@127.0.0.1:1/central",
                                 "postgresql://edge:hunter2@127.0.0.1:notaport/central",
                                 "host=127.0.0.1 port=1 password=hunter2 dbname=central"])
@pytest.mark.parametrize("command", ["migrate", "maintain", "refresh", "alerts", "fleet"])
def test_bad_dsn_is_one_line_without_password(command: str, dsn: str) -> None:
    assert_one_line_error(run(command, "--dsn", dsn), "cannot connect to the central database: ")


def test_box_role_reports_health_of_its_own_cameras_only(central_dsn: str) -> None:
    maintain(central_dsn)
    with psycopg.connect(central_dsn, autocommit=True) as conn:
        role = conn.execute("SELECT sync_device_role('shop12-box1')").fetchone()[0]
    box_dsn = psycopg.conninfo.make_conninfo(central_dsn, user=role)
    report = "INSERT INTO camera_health (camera_id, health_ts, status, fps_in, fps_processed, drop_rate) " \
             "VALUES (%s, now(), 'online', 10, 9.9, 0.01)"
    with psycopg.connect(box_dsn, autocommit=True) as box:
        box.execute(report, ("shop12-box1/door",))
        with pytest.raises(psycopg.errors.CheckViolation, match="not a camera of box_shop12-box1"):
            box.execute(report, ("shop13-box1/door",))
    with psycopg.connect(central_dsn) as conn:
        assert conn.execute("SELECT camera_id FROM camera_health").fetchall() == [("shop12-box1/door",)]


def test_parked_rows_of_tables_with_generated_columns_move_too(central_dsn: str) -> None:
    """counting_results (generated device_id) rows parked in DEFAULT inside the retention get their month's
    partition: moved without their generated column, which is computed again on the way in."""
    with psycopg.connect(central_dsn, autocommit=True) as conn:
        conn.execute("INSERT INTO counting_results (camera_id, line_name, result_timestamp, count_in) "
                     "VALUES ('shop12-box1/door', 'entry', date_trunc('minute', now()) - interval '40 days', 1)")
    month = NOW - timedelta(days=40)
    assert f"counting_results_p{month:%Y%m}" in maintain(central_dsn).created
    with psycopg.connect(central_dsn, autocommit=True) as conn:
        assert partition_of(conn, "counting_results", "true") == [f"counting_results_p{month:%Y%m}"]
        assert conn.execute("SELECT device_id FROM counting_results").fetchone() == ("shop12-box1",)
