"""`python -m tests.bench.daily`: the incremental daily summary (migration 0006) against a full recompute.

On a throwaway PostgreSQL with the example settings (as `make bench-central`), the synthetic data set of
tests.central.synth (N cameras x 2 lines x D days). Measured in the same run:
- full: the materialized view of migration 0002 (`REFRESH MATERIALIZED VIEW`, the baseline) and
  `edge central refresh --rebuild` (every camera queued whole and recomputed);
- incremental: a delivery of the current minute of every camera and line (what the fleet sends in a
  minute), then `refresh_daily_analytics()`; and a box back after a week offline (one camera, 7 days);
- the fleet's minute again with two years of older days in the summary (days outlive the minutes);
- ingest: the same minute upserts (2 x cameras rows a statement) with the queueing trigger and without it,
  alternating, median of the per-pair ratios.
The summary is checked against the full aggregate at the end.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import psycopg

from sync.central.migrate import migrate
from sync.central.partitions import maintain
from sync.central.summaries import refresh
from tests.bench.central import machine, postgres, say
from tests.central.oracles import FULL_AGGREGATE
from tests.central.synth import SynthSpec, load

OLD_VIEW = f"CREATE MATERIALIZED VIEW bench_daily_matview AS {FULL_AGGREGATE} WITH NO DATA"
DAILY = ("daily_analytics_summary",)
# The current minute of every camera and line, counts bumped by `bump` (a delivery of the whole fleet).
UPSERT_MINUTE = """
INSERT INTO counting_results (camera_id, line_name, result_timestamp, count_in, count_out)
SELECT camera_id, line_name, date_trunc('minute', now()) - %(back)s * interval '1 minute', %(bump)s, 1
FROM counting_lines WHERE %(camera)s::text IS NULL OR camera_id = %(camera)s
ON CONFLICT (camera_id, line_name, result_timestamp) DO UPDATE SET count_in = EXCLUDED.count_in,
    count_out = EXCLUDED.count_out"""

# Days older than the data (outlived counting_results' retention), up to 730 per camera.
OLDER_DAYS = """
INSERT INTO daily_analytics_summary (camera_id, date, daily_in, daily_out, daily_peak_minute, active_line_minutes)
SELECT camera_id, (SELECT min(date) FROM daily_analytics_summary) - d, 500, 480, 9, 1200
FROM camera_configurations, generate_series(1, 730 - %(days)s) d"""


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def upsert(conn: psycopg.Connection, bump: int, back: int = 0, camera: str | None = None) -> None:
    conn.execute(UPSERT_MINUTE, {"bump": bump, "back": back, "camera": camera})


def ingest_ratio(conn: psycopg.Connection, pairs: int) -> tuple[float, float, float]:
    """Seconds per fleet-minute upsert with the queueing triggers and without; median per-pair ratio."""
    on, off, ratios = [], [], []
    for i in range(pairs):
        with_trigger = timed(lambda i=i: upsert(conn, 100 + 2 * i))
        conn.execute("ALTER TABLE counting_results DISABLE TRIGGER counting_results_daily_change, "
                     "DISABLE TRIGGER counting_results_daily")
        without = timed(lambda i=i: upsert(conn, 101 + 2 * i))
        conn.execute("ALTER TABLE counting_results ENABLE TRIGGER counting_results_daily_change, "
                     "ENABLE TRIGGER counting_results_daily")
        on.append(with_trigger)
        off.append(without)
        ratios.append(with_trigger / without)
    conn.execute("SELECT queue_daily_rebuild()")  # the untriggered upserts must reach the summary too
    return statistics.median(on), statistics.median(off), statistics.median(ratios)


def bench(spec: SynthSpec, repeat: int) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="pg.bench_daily.", dir="/tmp"))
    os.chmod(workdir, 0o755)
    try:
        with postgres(workdir) as url:
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute("CREATE DATABASE central")
                server = conn.execute("SELECT version()").fetchone()[0].split(" on ")[0]
            dsn = url.rsplit("/", 1)[0] + "/central"
            migrate(dsn)
            maintain(dsn, backfill_days=spec.days)
            say("loading")
            rows = load(dsn, spec, say)["counting_results"]
            with psycopg.connect(dsn, autocommit=True, options="-c TimeZone=UTC") as conn:
                conn.execute("VACUUM ANALYZE")
                conn.execute(OLD_VIEW)
                say("measuring full recomputes")
                first_rebuild = timed(lambda: refresh(dsn, DAILY))
                old = [timed(lambda: conn.execute("REFRESH MATERIALIZED VIEW bench_daily_matview"))
                       for _ in range(repeat)]
                full = [timed(lambda: refresh(dsn, DAILY, rebuild=True))
                        for _ in range(repeat)]
                say("measuring incremental refreshes")
                fleet, late = [], []
                for i in range(repeat):
                    upsert(conn, 50 + i)
                    fleet.append(timed(lambda: refresh(dsn, DAILY)))
                    camera = conn.execute("SELECT camera_id FROM counting_lines ORDER BY random() LIMIT 1").fetchone()[
                        0
                    ]
                    for back in range(0, 7 * 1440, 15):  # a week, a minute every quarter hour
                        upsert(conn, 60 + i, back, camera)
                    late.append(timed(lambda: refresh(dsn, DAILY)))
                say("measuring ingest")
                on, off, ratio = ingest_ratio(conn, max(repeat, 5))
                refresh(dsn, DAILY)
                conn.execute("REFRESH MATERIALIZED VIEW bench_daily_matview")
                diff = conn.execute(
                    "SELECT count(*) FROM ((SELECT camera_id, date, daily_in, daily_out, daily_peak_minute, "
                    "active_line_minutes FROM daily_analytics_summary) EXCEPT ALL "
                    "(SELECT * FROM bench_daily_matview)) d"
                ).fetchone()[0]
                days = conn.execute("SELECT count(*) FROM daily_analytics_summary").fetchone()[0]
                say("measuring with two years of older days in the summary")
                conn.execute(OLDER_DAYS, {"days": spec.days})
                conn.execute("VACUUM ANALYZE daily_analytics_summary")
                aged = []
                for i in range(repeat):
                    upsert(conn, 70 + i)
                    aged.append(timed(lambda: refresh(dsn, DAILY)))
        med = statistics.median
        print(f"machine: {machine()}; {server}; load average {os.getloadavg()[0]:.1f} at the end")
        print(
            f"data: {spec.cameras} cameras x {spec.lines} lines x {spec.days} days: {rows:,} counting_results "
            f"rows, {days:,} camera-days; medians of {repeat} runs"
        )
        print(f"first refresh after the bulk load (every camera queued whole): {first_rebuild:.2f} s")
        print(f"baseline, REFRESH MATERIALIZED VIEW (0002): {med(old):.2f} s")
        print(
            f"refresh --rebuild (every camera recomputed whole): {med(full):.2f} s "
            f"({med(full) / med(old):.2f} x baseline)"
        )
        print(
            f"incremental, one minute of every camera delivered: {1000 * med(fleet):.0f} ms "
            f"({med(old) / med(fleet):.0f} x faster than the baseline)"
        )
        print(f"incremental, one camera back after 7 days offline: {1000 * med(late):.0f} ms")
        print(
            f"incremental, one minute of every camera, with 730 days per camera in the summary: "
            f"{1000 * med(aged):.0f} ms"
        )
        print(
            f"ingest, {2 * spec.cameras} minute upserts per statement: {1000 * on:.1f} ms with the queueing "
            f"trigger, {1000 * off:.1f} ms without (ratio {ratio:.2f})"
        )
        print(f"summary rows differing from the full aggregate at the end: {diff}")
        if diff:
            raise SystemExit("the incremental summary differs from the full aggregate")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cameras", type=int, default=1000)
    ap.add_argument("--days", type=int, default=7)
    ap.add_argument("--repeat", type=int, default=5)
    a = ap.parse_args()
    bench(SynthSpec(cameras=a.cameras, days=a.days, health_hours=1), a.repeat)


if __name__ == "__main__":
    main()
