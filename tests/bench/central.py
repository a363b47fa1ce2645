"""`make bench-central`: the performance guide's queries and targets on a synthetic central data set.

Starts a throwaway PostgreSQL 15 (../shared/tools/pg_temp.sh, settings of sync/central/conf/postgresql.conf.example)
and PgBouncer (pool settings of sync/central/conf/pgbouncer.ini.example) on 127.0.0.1, loads the data set
(tests/central/synth.py), then measures each query (EXPLAIN ANALYZE BUFFERS: execution time p50/p95,
shared buffers hit), real-time counting end to end through PgBouncer, and throughput with pgbench at 50 and
200 clients. Prints a Markdown report; stops both servers.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from edge.records import uuid7
from sync.central.migrate import migrate
from sync.central.partitions import maintain
from sync.central.summaries import refresh
from tests.central.queries import BY_NAME, QUERIES, Query
from tests.central.synth import SynthSpec, load
from tests.support.pg import CONF, PgServer, conf_lines, pgbouncer

E2E_TARGET_MS = 50.0
QPS_TARGET = 1000.0
COPY_EVENTS = ("COPY counting_events (event_id, device_id, camera_id, line_name, direction, track_id, event_ts, "
               "frame_index, score, model) FROM STDIN")
COPY_HEALTH = "COPY camera_health (camera_id, health_ts, status, fps_in, fps_processed, drop_rate) FROM STDIN"
INGEST_BATCHES, INGEST_ROWS = 200, 500
MIX = {"realtime_counting": 5, "camera_status": 3, "daily_analytics": 1, "stream_quality": 1}  # pgbench weights
WORKLOADS = {  # name -> {script: (SQL, weight)}; the baseline is the ceiling of pooler + pgbench on this machine
    "mix": {n: (BY_NAME[n].pgbench(), w) for n, w in MIX.items()},
    "realtime_counting": {"realtime_counting": (BY_NAME["realtime_counting"].pgbench(), 1)},
    "baseline SELECT 1": {"select1": ("SELECT 1", 1)},
}


@contextmanager
def postgres(workdir: Path) -> Iterator[str]:
    """A throwaway server with the production example's settings; yields the URL of its `postgres` database."""
    with PgServer(extra_conf=conf_lines(CONF / "postgresql.conf.example")) as srv:
        yield srv.url


def explain_runs(dsn: str, query: Query, params: list[dict]) -> dict[str, float]:
    """EXPLAIN (ANALYZE, BUFFERS) of each parameter set: execution/planning p50, p95, buffers, rows returned."""
    execution, planning, hits, reads, rows = [], [], [], [], []
    with psycopg.connect(dsn, prepare_threshold=None) as conn:
        for p in params:
            (doc,), = conn.execute("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + query.psycopg(), p).fetchall()
            execution.append(doc[0]["Execution Time"])
            planning.append(doc[0]["Planning Time"])
            hits.append(doc[0]["Plan"]["Shared Hit Blocks"])
            reads.append(doc[0]["Plan"]["Shared Read Blocks"])
            rows.append(doc[0]["Plan"]["Actual Rows"])
            conn.rollback()
    return {"p50": pct(execution, 50), "p95": pct(execution, 95), "plan_p50": pct(planning, 50),
            "hits_p50": pct(hits, 50), "reads_p50": pct(reads, 50), "rows_p50": pct(rows, 50)}


def end_to_end(dsn: str, query: Query, params: list[dict]) -> dict[str, float]:
    """Client-side latency of the query (send, execute, fetch all rows) over one pooled connection."""
    took = []
    with psycopg.connect(dsn, prepare_threshold=None, autocommit=True) as conn:
        for p in params:
            start = time.perf_counter()
            conn.execute(query.psycopg(), p).fetchall()
            took.append((time.perf_counter() - start) * 1000)
    return {"p50": pct(took, 50), "p95": pct(took, 95)}


def ingest(dsn: str, spec: SynthSpec, batches: int, rows: int) -> dict[str, float]:
    """Sync-like delivery: per transaction, a ledger row and `rows` crossing events COPYed (batch p50/p95 ms);
    then one health report of every camera COPYed through the camera_health trigger (ms)."""
    took = []
    with psycopg.connect(dsn, autocommit=True) as conn:
        for b in range(batches):
            now_us = int(time.time() * 1e6)
            data = [(uuid7(now_us + i), "bench-box1", f"bench-box1/cam{i % 2 + 1}", f"line{i % 2 + 1}",
                     ("in", "out")[i % 3 == 0], i, datetime.fromtimestamp((now_us + i) / 1e6, UTC),
                     i * 3, 0.8, "yolox_nano") for i in range(rows)]
            start = time.perf_counter()
            with conn.transaction():
                conn.execute("INSERT INTO sync_batches (device_id, stream, batch_no, row_count) "
                             "VALUES ('bench-box1', 'events', %s, %s)", (b, rows))
                with conn.cursor().copy(COPY_EVENTS) as copy:
                    for row in data:
                        copy.write_row(row)
            took.append((time.perf_counter() - start) * 1000)
        cameras = [f"site{n // 2 + 1:04d}-box1/cam{n % 2 + 1}" for n in range(spec.cameras)]
        now = datetime.now(UTC)
        start = time.perf_counter()
        with conn.transaction(), conn.cursor().copy(COPY_HEALTH) as copy:
            for camera in cameras:
                copy.write_row((camera, now, "online", 10.0, 9.9, 0.01))
        health_ms = (time.perf_counter() - start) * 1000
    return {"p50": pct(took, 50), "p95": pct(took, 95), "rows_s": batches * rows / (sum(took) / 1000),
            "health_ms": health_ms}


def throughput(port: int, dbname: str, workdir: Path, clients: int, seconds: int, spec: SynthSpec,
               scripts: dict[str, tuple[str, int]]) -> float:
    """Queries/s of pgbench (simple protocol, one query per transaction) through PgBouncer."""
    header = (f"\\set device random(1, {(spec.cameras + 1) // 2})\n\\set cam random(1, 2)\n"
              f"\\set tenant random(1, {spec.tenants})\n")
    args = []
    for name, (text, weight) in scripts.items():
        path = workdir / f"{name}.sql"
        path.write_text(f"{header}{text};\n")
        args += ["-f", f"{path}@{weight}"]
    out = subprocess.run(["pgbench", "-n", "-M", "simple", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres",
                          "-c", str(clients), "-j", "2", "-T", str(seconds), *args, dbname],
                         check=True, capture_output=True, text=True).stdout
    return float(re.search(r"tps = ([\d.]+) \(without initial connection time\)", out).group(1))


def pct(values: list[float], p: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1] if len(values) > 1 else values[0]


def random_params(spec: SynthSpec, n: int, rng: random.Random) -> list[dict]:
    return [{"camera": f"site{rng.randint(1, (spec.cameras + 1) // 2):04d}-box1/cam{rng.randint(1, 2)}",
             "tenant": rng.randint(1, spec.tenants)} for _ in range(n)]


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    pgb = subprocess.run(["pgbouncer", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    return f"{cpu}, {os.cpu_count()} cores, {ram:.0f} GiB RAM, {platform.platform()}, {pgb}"


def say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def verdict(value: float, limit: float) -> str:
    return "yes" if value < limit else "**no**"


def bench(spec: SynthSpec, runs: int, seconds: int, clients: list[int]) -> None:
    rng = random.Random(1)
    workdir = Path(tempfile.mkdtemp(prefix="pg.bench.", dir="/tmp"))  # user postgres must reach it
    os.chmod(workdir, 0o755)
    try:
        with postgres(workdir) as url:
            dbname = "central"
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute(f"CREATE DATABASE {dbname}")
                server = conn.execute("SELECT version()").fetchone()[0].split(" on ")[0]
            dsn = url.rsplit("/", 1)[0] + "/" + dbname
            t0 = time.perf_counter()
            migrate(dsn)
            maintain(dsn, backfill_days=spec.days)
            rows = load(dsn, spec, say)
            load_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            with psycopg.connect(dsn, autocommit=True) as conn:
                conn.execute("VACUUM ANALYZE")
                size = conn.execute("SELECT pg_size_pretty(pg_database_size(current_database()))").fetchone()[0]
            vacuum_s = time.perf_counter() - t0
            refreshed = refresh(dsn)
            say("measuring queries")
            load_avg = os.getloadavg()[0]
            results = {q.name: explain_runs(dsn, q, random_params(spec, runs, rng)) for q in QUERIES}
            say("measuring ingest")
            delivered = ingest(dsn, spec, INGEST_BATCHES, INGEST_ROWS)
            port = int(url.rsplit(":", 1)[1].split("/", 1)[0])
            with pgbouncer(workdir, port, dbname) as bport:
                pooled = f"postgresql://postgres@127.0.0.1:{bport}/{dbname}"
                realtime = BY_NAME["realtime_counting"]
                e2e = end_to_end(pooled, realtime, random_params(spec, runs, rng))
                qps = {}
                for name, scripts in WORKLOADS.items():
                    for c in clients:
                        say(f"pgbench {name}, {c} clients")
                        qps[(name, c)] = throughput(bport, dbname, workdir, c, seconds, spec, scripts)
        report(spec, rows, size, load_s, vacuum_s, refreshed, results, e2e, delivered, qps, runs, seconds,
               f"{server}; 1-min load average {load_avg:.1f} when measuring started, "
               f"{os.getloadavg()[0]:.1f} at the end")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def report(spec: SynthSpec, rows: dict[str, int], size: str, load_s: float, vacuum_s: float,
           refreshed: dict[str, float], results: dict[str, dict[str, float]], e2e: dict[str, float],
           delivered: dict[str, float], qps: dict[tuple[str, int], float], runs: int, seconds: int,
           server: str) -> None:
    print(f"Machine: {machine()}; {server}.\n")
    print(f"Data set: {spec.cameras} cameras x {spec.lines} lines, {spec.days} days, {spec.tenants} tenants, "
          f"peak {spec.peak_per_minute}/min per line and direction; health every {spec.health_interval_s} s "
          f"for {spec.health_hours} h. Rows: " + ", ".join(f"{t} {n:,}" for t, n in rows.items())
          + f". Database {size}. Load {load_s:.0f} s (2 connections), VACUUM ANALYZE {vacuum_s:.0f} s, refresh "
          + ", ".join(f"{v} {s:.1f} s" for v, s in refreshed.items()) + ".\n")
    print(f"Per query: {runs} runs of EXPLAIN (ANALYZE, BUFFERS) with random cameras/tenants, warm cache.\n")
    print("| query | target | p50 ms | p95 ms | planning p50 ms | rows p50 | shared hit p50 | read p50 "
          "| p95 within target |")
    print("|---|---|---|---|---|---|---|---|---|")
    for q in QUERIES:
        r = results[q.name]
        print(f"| {q.name} | < {q.target_ms:g} ms | {r['p50']:.3f} | {r['p95']:.3f} | {r['plan_p50']:.3f} | "
              f"{r['rows_p50']:g} | {r['hits_p50']:g} | {r['reads_p50']:g} | {verdict(r['p95'], q.target_ms)} |")
    print(f"\nReal-time counting end to end through PgBouncer (client send -> all rows fetched, {runs} runs): "
          f"p50 {e2e['p50']:.2f} ms, p95 {e2e['p95']:.2f} ms (target < {E2E_TARGET_MS:g} ms: "
          f"{verdict(e2e['p95'], E2E_TARGET_MS)}).\n")
    print(f"Ingest, as the sync agent delivers (ledger row + COPY in one transaction, direct connection): "
          f"{INGEST_BATCHES} batches of {INGEST_ROWS} crossing events, p50 {delivered['p50']:.1f} ms, "
          f"p95 {delivered['p95']:.1f} ms per batch ({delivered['rows_s']:,.0f} events/s; guide: inference "
          f"result storage < 100 ms). One health report of each of the {spec.cameras} cameras through the "
          f"camera_health trigger: {delivered['health_ms']:.0f} ms (guide: stream data ingestion < 200 ms).\n")
    print(f"Throughput through PgBouncer (transaction pooling), pgbench -M simple -j 2 -T {seconds} on the same "
          f"2 cores; mix = " + ", ".join(f"{n} x{w}" for n, w in MIX.items()) + ":\n")
    print("| workload | clients | queries/s | > 1000/s |")
    print("|---|---|---|---|")
    for (name, c), v in qps.items():
        print(f"| {name} | {c} | {v:,.0f} | {verdict(QPS_TARGET, v)} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    d = SynthSpec()
    ap.add_argument("--cameras", type=int, default=d.cameras)
    ap.add_argument("--lines", type=int, default=d.lines)
    ap.add_argument("--days", type=int, default=d.days)
    ap.add_argument("--tenants", type=int, default=d.tenants)
    ap.add_argument("--peak", type=float, default=d.peak_per_minute,
                    help="crossings/min per line and direction at peak")
    ap.add_argument("--health-hours", type=int, default=d.health_hours)
    ap.add_argument("--runs", type=int, default=300, help="runs per query")
    ap.add_argument("--seconds", type=int, default=20, help="pgbench duration per run")
    ap.add_argument("--clients", type=int, nargs="+", default=[50, 200])
    a = ap.parse_args()
    spec = SynthSpec(cameras=a.cameras, lines=a.lines, days=a.days, tenants=a.tenants, peak_per_minute=a.peak,
                     health_hours=a.health_hours)
    bench(spec, a.runs, a.seconds, a.clients)


if __name__ == "__main__":
    main()
