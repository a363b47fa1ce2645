"""The fleet view on a real server: boxes delivering through `edge sync` as themselves, one of each state, worst
first; the latest-report lookup's plan; `edge central fleet` text, JSON, empty fleet and errors."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from edge.records import BoxHealth, now_us
from edge.store.buffer import Buffer
from edge.store.outbox import Outbox
from sync.central.alerts import raise_alerts
from sync.central.citus import is_distributed
from sync.central.fleet import EMPTY, FLEET, FLEET_CITUS, HEADER, Box, Cameras, fleet
from sync.central.partitions import maintain
from tests.integration.test_central import assert_one_line_error, run
from tests.support.pg import CENTRAL_BACKENDS, CentralBackend, unshard
from tests.support.sync import box_dsn, camera_health, drain

pytestmark = pytest.mark.pg

OK, CAMERA_OFF, SILENT, NEVER, UNREGISTERED = "shop1-box1", "shop2-box1", "shop3-box1", "shop4-box1", "shop5-box1"
CAMERAS = {OK: ("door", "till"), CAMERA_OFF: ("door", "till"), SILENT: ("door",), NEVER: ("door", "till")}
HISTORY_DAYS = 10  # daily box_health partitions back (and reports in them): the lookup must not read them
QUIET = timedelta(hours=2)  # the silent box's last delivery


def deliver(central: str, tmp_path: Path, device: str, cameras: dict[str, str], alert: str | None = None) -> None:
    """The box buffers a health round (its cameras' statuses, its own load) and maybe an alert; `edge sync` delivers."""
    buffer, ts = tmp_path / f"{device}.sqlite", now_us()
    with Buffer(buffer, synchronous="normal") as b:
        b.record_health(
            [
                camera_health(ts, camera, device, status, fps_processed=9.5 if status == "online" else 0.0,
                              error=None if status == "online" else "no frame")
                for camera, status in cameras.items()
            ],
            BoxHealth(
                ts_us=ts, device_id=device, cpu_percent=12.5, mem_mb=300.0, buffer_bytes=2_500_000, pending_rows=40
            ),
        )
    if alert:
        with Outbox(buffer) as outbox:
            outbox.alert("buffer_size", alert, ts)
    drain(buffer, box_dsn(central, device), device_id=device)


def go_quiet(conn: psycopg.Connection, device: str, ago: timedelta) -> None:
    """Everything central has of the box happened `ago` earlier: it has been quiet since. Row by row with the new
    times computed here: Citus refuses `SET c = c - interval` (timestamptz - interval is STABLE: "STABLE functions
    used in UPDATE queries cannot be called with column references")."""
    for table, key, columns in [
        ("box_health", ("device_id", "health_ts"), ("health_ts", "received_at")),
        ("sync_batches", ("device_id", "stream", "batch_no"), ("received_at",)),
        ("camera_health", ("camera_id",), ("health_ts", "last_heartbeat")),
    ]:
        rows = conn.execute(f"SELECT {', '.join(key + columns)} FROM {table} WHERE device_id = %s", (device,))
        for row in rows.fetchall():
            conn.execute(f"UPDATE {table} SET {', '.join(f'{c} = %s' for c in columns)} "
                         f"WHERE {' AND '.join(f'{c} = %s' for c in key)}",
                         (*[t - ago for t in row[len(key):]], *row[:len(key)]))


@pytest.fixture(scope="module", params=CENTRAL_BACKENDS)
def central(central_backend: Callable[[str], CentralBackend], request: pytest.FixtureRequest,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Four registered boxes (ok, a camera offline, quiet for 2 h, never reported) and one unregistered that
    delivers, automatic camera alerts raised; before that, the reporting boxes' history: a report every 10 minutes
    back HISTORY_DAYS (daily partitions) and 2000 ledger rows each (an earlier buffer's)."""
    with central_backend(request.param).database("t_central_fleet", migrated=True) as dsn:
        maintain(dsn, backfill_days=HISTORY_DAYS)
        reporting = [OK, CAMERA_OFF, UNREGISTERED]
        with psycopg.connect(dsn, autocommit=True) as conn:
            for device, cameras in CAMERAS.items():
                conn.execute("INSERT INTO devices (device_id) VALUES (%s)", (device,))
                for camera in cameras:
                    conn.execute(
                        "INSERT INTO camera_configurations (camera_id, device_id, camera_name) VALUES (%s, %s, %s)",
                        (f"{device}/{camera}", device, camera),
                    )
            conn.execute(
                "INSERT INTO box_health (device_id, health_ts, cpu_percent, received_at) "
                "SELECT d, t, 10, t FROM unnest(%s::text[]) d, generate_series(now() - %s * interval '1 day', "
                "now() - interval '1 hour', '10 minutes') t",
                (reporting, HISTORY_DAYS),
            )
            conn.execute(
                "INSERT INTO sync_batches (device_id, stream, batch_no, row_count, received_at) "
                "SELECT d, 'events:earlier-buffer', n, 100, now() - n * interval '1 minute' "
                "FROM unnest(%s::text[]) d, generate_series(1, 2000) n",
                (reporting,),
            )
        tmp = tmp_path_factory.mktemp("boxes")
        deliver(dsn, tmp, OK, {"door": "online", "till": "online"})
        deliver(dsn, tmp, CAMERA_OFF, {"door": "online", "till": "offline"})
        deliver(dsn, tmp, SILENT, {"door": "online"}, alert="buffer is 2100 MB, over the 2000 MB limit")
        deliver(dsn, tmp, UNREGISTERED, {})
        with psycopg.connect(dsn, autocommit=True) as conn:
            go_quiet(conn, SILENT, QUIET)
            conn.execute("ANALYZE")
        raise_alerts(dsn)  # offline: shop2/till; no_heartbeat: shop3/door, shop4/door, shop4/till
        yield dsn


def summary(box: Box) -> tuple:
    return box.device_id, box.status, box.cameras, box.open_camera_alerts, box.open_box_alerts


EXPECTED = [  # worst first: silent (the one that reported before the one that never did), degraded, ok
    (SILENT, "silent", Cameras(0, 0, 0, 1), 1, 1),
    (NEVER, "silent", Cameras(0, 0, 0, 2), 2, 0),
    (CAMERA_OFF, "degraded", Cameras(1, 0, 1, 0), 1, 0),
    (OK, "ok", Cameras(2, 0, 0, 0), 0, 0),
    (UNREGISTERED, "ok", Cameras(0, 0, 0, 0), 0, 0),
]


def test_boxes_in_each_state_worst_first(central: str) -> None:
    report = fleet(central)
    assert [summary(b) for b in report.boxes] == EXPECTED
    boxes = {b.device_id: b for b in report.boxes}
    ok, silent, never = boxes[OK], boxes[SILENT], boxes[NEVER]
    assert (ok.cpu_percent, ok.mem_mb, ok.buffer_mb, ok.pending_rows) == (12.5, 300.0, 2.5, 40)
    assert 0 <= ok.report_age_s < 60 and 0 <= ok.sync_lag_s < 60
    assert QUIET.total_seconds() <= silent.report_age_s < QUIET.total_seconds() + 60
    assert QUIET.total_seconds() <= silent.sync_lag_s < QUIET.total_seconds() + 60
    assert silent.cpu_percent == 12.5  # the last report it made
    assert never.report_age_s is never.sync_lag_s is never.cpu_percent is never.pending_rows is None
    assert report.total() == {"boxes": 5, "silent": 2, "cameras_offline": 1, "open_alerts": 5}
    assert [b.status for b in fleet(central, silent_minutes=3 * 60).boxes] == [
        "silent",
        "degraded",
        "degraded",
        "ok",
        "ok",
    ]  # quiet, not silent


def test_cli_prints_a_line_per_box_and_the_total_json_the_same(central: str) -> None:
    r = run("fleet", "--dsn", central)
    assert r.exit_code == 0, r.output
    header, *rows, total = r.stdout.splitlines()
    assert header.split("  ")[0].strip() == HEADER[0] and header.endswith(HEADER[-1])
    assert [row.split()[:2] for row in rows] == [[device, status] for device, status, *_ in EXPECTED]
    assert rows[0].split()[2:5] == ["2", "h", "ago"] and rows[1].split()[2] == "never"
    assert rows[2].split()[-2:] == ["1/0/1/0", "1/0"]
    assert total == "total: boxes 5, silent 2, cameras offline 1, open alerts 5"

    r = run("fleet", "--dsn", central, "--silent-minutes", "5", "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["silent_minutes"] == 5
    assert [
        (b["device_id"], b["status"], Cameras(**b["cameras"]), b["open_camera_alerts"], b["open_box_alerts"])
        for b in out["boxes"]
    ] == EXPECTED
    assert out["total"] == {"boxes": 5, "silent": 2, "cameras_offline": 1, "open_alerts": 5}
    assert out["boxes"][1]["report_age_s"] is None and out["boxes"][3]["pending_rows"] == 40


def plan_nodes(node: dict) -> Iterator[dict]:
    yield node
    for child in node.get("Plans", []):
        yield from plan_nodes(child)


def test_latest_report_uses_the_key_and_reads_old_partitions_only_for_boxes_without_a_recent_one(central) -> None:
    """Every box_health read is a backward scan of a partition's primary key (device_id, health_ts) under LIMIT 1;
    days before yesterday are pruned from the lookup within the threshold and read only for the two boxes without
    a report in it (the quiet one, the one that never reported). The ledger is read through its indexes.
    On Citus, FLEET_CITUS: the same lookups, pushed down to every shard of the device group."""
    with psycopg.connect(central) as conn:
        if is_distributed(conn):
            return citus_fleet_plan(conn)
        [[explained]] = conn.execute(
            "EXPLAIN (ANALYZE, FORMAT JSON) " + FLEET, {"silent": timedelta(minutes=5)}
        ).fetchall()
    nodes = list(plan_nodes(explained[0]["Plan"]))
    scans = [n for n in nodes if n.get("Relation Name", "").startswith("box_health")]
    assert scans and all(
        n["Node Type"] in ("Index Scan", "Index Only Scan")
        and n["Scan Direction"] == "Backward"
        and n["Index Name"] == f"{n['Relation Name']}_pkey"
        for n in scans
    ), scans
    merged = [n for n in nodes if any(c["Node Type"] == "Merge Append" for c in n.get("Plans", []))]
    assert len(merged) == 2 and all(n["Node Type"] == "Limit" for n in merged)  # within the threshold, then all
    today = datetime.now(UTC)
    old = {f"box_health_p{today - timedelta(days=d):%Y%m%d}" for d in range(2, HISTORY_DAYS + 1)}
    loops = [(n["Relation Name"], n["Actual Loops"]) for n in scans if n["Relation Name"] in old]
    assert sorted(loops) == sorted((p, 2) for p in old), loops
    assert max(n.get("Subplans Removed", 0) for n in nodes) >= len(old)
    ledger = [n for n in nodes if n.get("Relation Name") == "sync_batches"]  # the boxes that delivered, the latest
    assert ledger and all(n["Node Type"] in ("Index Scan", "Index Only Scan") for n in ledger), ledger
    latest = [n["Index Name"] for n in ledger if n["Scan Direction"] == "Backward"]
    assert latest == ["idx_sync_batches_device_received"]


def citus_fleet_plan(conn: psycopg.Connection) -> None:
    """The boxes' part of FLEET_CITUS is one distributed subplan run on every shard of the device group, where each
    box_health read is a backward scan of a partition's primary key (the threshold's partitions only first), and
    the latest delivery a backward scan of the ledger's (device_id, received_at) index. (EXPLAIN shows one task.)"""
    text = "\n".join(r[0] for r in conn.execute("EXPLAIN ANALYZE " + FLEET_CITUS, {"silent": timedelta(minutes=5)}))
    delivered = text.split("Distributed Subplan")[1]
    assert "Task Count: 4" in delivered and "Subplans Removed:" in delivered, delivered
    scans = re.findall(r"(\w+ Scan)(?: Backward)? (?:using (\w+) )?on (box_health\w*)", delivered)
    assert scans and all(kind == "Index Scan" and index == f"{unshard(shard)}_pkey_{shard.rsplit('_', 1)[1]}"
                         for kind, index, shard in scans), scans
    assert "Index Scan Backward" in delivered and "Seq Scan on box_health" not in delivered
    assert re.search(r"Index Only Scan Backward using idx_sync_batches_device_received_\d+", delivered), delivered


def test_empty_fleet_says_so(central_dsn: str) -> None:
    r = run("fleet", "--dsn", central_dsn)
    assert (r.exit_code, r.stdout) == (0, EMPTY + "\n")
    r = run("fleet", "--dsn", central_dsn, "--json")
    assert json.loads(r.stdout) == {
        "silent_minutes": 5,
        "boxes": [],
        "total": {"boxes": 0, "silent": 0, "cameras_offline": 0, "open_alerts": 0},
    }


def test_a_silent_threshold_under_a_minute_is_refused() -> None:
    assert_one_line_error(
        run("fleet", "--dsn", "postgresql://edge:hunter2@127.0.0.1:1/central", "--silent-minutes", "0"),
        "the silent threshold must be at least 1 minute, not 0",
    )


def test_cli_on_an_unmigrated_database_says_to_migrate(pg_dsn: str) -> None:
    r = run("fleet", "--dsn", pg_dsn)
    assert r.exit_code == 2 and r.stdout == ""
    assert r.stderr.startswith("error: the central database has no fleet tables (relation ")
    assert r.stderr.endswith(" does not exist): run `edge central migrate` first\n")
