"""`python -m tests.bench.sync`: sync agent throughput and lag on a throwaway PostgreSQL (../shared/tools/pg_temp.sh).

Throughput: a box buffer of N crossings (spread over the last hour, so they land in daily partitions) is
drained by the agent into the central tables, alternating with a plain `executemany` INSERT of the same rows
(pipelined by psycopg) into the same table; the tables are emptied between runs. Reported: rows/s of each and
the median of the per-pair ratios (drifting machine load cancels out).
Lag: a producer records crossings at a steady rate while the agent runs with the default settings; each
event's lag is the central commit time of its batch minus its box commit time (same clock).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from edge.config import BoxConfig
from edge.records import CrossingEvent, now_us, uuid7
from edge.store.buffer import Buffer
from edge.store.outbox import Batch, Outbox
from sync.agent.deliver import Delivery, Target
from sync.agent.loop import Agent
from tests.support.pg import PgServer

DEVICE = "bench1"
HOUR_US = 3_600_000_000


def edge(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "edge.cli", *args], check=True, capture_output=True, text=True)


def setup_central(admin_url: str) -> tuple[str, str]:
    """A migrated database with today's partitions and the bench box's role: (admin DSN, box DSN)."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute("CREATE DATABASE bench_sync")
    admin = admin_url.rsplit("/", 1)[0] + "/bench_sync"
    edge("central", "migrate", "--dsn", admin)
    edge("central", "maintain", "--dsn", admin)
    with psycopg.connect(admin, autocommit=True) as conn:
        role = conn.execute("SELECT sync_device_role(%s)", (DEVICE,)).fetchone()[0]
    return admin, admin.replace("postgres@", f"{role}@", 1)


def fill(path: Path, n: int, cameras: int = 8) -> None:
    """`n` crossings over the last hour (of today, UTC), 100 per transaction (as a busy box records frames)."""
    now = now_us()
    start = max(now - HOUR_US, now - now % (24 * HOUR_US))
    step = (now - start) // max(n, 1)
    with Buffer(path, synchronous="normal") as b:
        for first in range(0, n, 100):
            frame = []
            for i in range(first, min(n, first + 100)):
                ts = start + i * step
                frame.append(
                    CrossingEvent(
                        event_id=uuid7(ts),
                        device_id=DEVICE,
                        camera=f"cam{i % cameras}",
                        line=f"line{i % 2}",
                        direction=("in", "out")[i % 3 == 0],
                        track_id=i,
                        ts_us=ts,
                        frame=i // 10,
                        score=0.87,
                        model="yolox-nano",
                    )
                )
            b.record_frame(frame, now_us())


def reset(admin: str, buffer: Path) -> None:
    """Empty the central tables and make the whole buffer unsent again."""
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute("TRUNCATE counting_events, counting_results, sync_batches")
        conn.execute("VACUUM ANALYZE counting_events")
    with Buffer(buffer, synchronous="normal") as b, b.conn:
        b.conn.execute("DELETE FROM sync_batches")
        b.conn.execute("DELETE FROM sync_minute_rows")
        b.conn.execute("UPDATE sync_streams SET next_seq = 1, next_batch_no = 1")
        b.conn.execute("INSERT OR IGNORE INTO sync_dirty_minutes SELECT camera, line, minute_us FROM minute_counts")


def config(buffer: Path, dsn: str, **sync: object) -> BoxConfig:
    return BoxConfig(device_id=DEVICE, buffer={"path": buffer, "synchronous": "normal"}, sync={"dsn": dsn, **sync})


@dataclass(frozen=True)
class Run:
    seconds: float
    client_cpu_s: float  # this process (the agent and its lanes, or the executemany loop)
    server_cpu_s: float  # the PostgreSQL backends serving it


def backend_cpu_s(admin: psycopg.Connection, role: str) -> float:
    """CPU time used so far by the backends of `role` (read from /proc: the server runs on this machine)."""
    total = 0.0
    for (pid,) in admin.execute("SELECT pid FROM pg_stat_activity WHERE usename = %s", (role,)):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def agent_run(admin: psycopg.Connection, buffer: Path, dsn: str) -> Run:
    """Drain the buffer like `edge sync --once` (crossings and their per-minute counts)."""
    with Outbox(buffer) as outbox:
        agent = Agent(config(buffer, dsn), outbox)
        try:
            t, cpu = time.perf_counter(), time.process_time()
            agent.drain()
            seconds, client = time.perf_counter() - t, time.process_time() - cpu
            return Run(seconds, client, backend_cpu_s(admin, f"box_{DEVICE}"))
        finally:
            agent.close()


def baseline_run(admin: psycopg.Connection, buffer: Path, dsn: str) -> Run:
    """The same crossings with a pipelined executemany INSERT (row conversion not timed)."""
    with Buffer(buffer, synchronous="normal") as b:
        rows = [
            (uuid.UUID(e), d, f"{d}/{c}", ln, dr, tr, datetime.fromtimestamp(ts / 1e6, UTC), fr, sc, mo)
            for e, d, c, ln, dr, tr, ts, fr, sc, mo in b.conn.execute(
                "SELECT event_id, device_id, camera, line, direction, track_id, ts_us, frame, score, model "
                "FROM crossings ORDER BY seq"
            )
        ]
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        server = backend_cpu_s(admin, f"box_{DEVICE}")
        t, cpu = time.perf_counter(), time.process_time()
        cur.executemany(
            "INSERT INTO counting_events (event_id, device_id, camera_id, line_name, direction, "
            "track_id, event_ts, frame_index, score, model) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            rows,
        )
        conn.commit()
        seconds, client = time.perf_counter() - t, time.process_time() - cpu
        return Run(seconds, client, backend_cpu_s(admin, f"box_{DEVICE}") - server)


def throughput(admin_dsn: str, dsn: str, work: Path, events: int, pairs: int) -> dict[str, list[Run]]:
    """Alternating baseline and agent runs over the same buffer: {"baseline": [...], "agent": [...]}."""
    buffer = work / "throughput.sqlite"
    fill(buffer, events)
    runs: dict[str, list[Run]] = {"baseline": [], "agent": []}
    with psycopg.connect(admin_dsn, autocommit=True) as admin:
        for _ in range(pairs):
            for name, run in (("baseline", baseline_run), ("agent", agent_run)):
                reset(admin_dsn, buffer)
                runs[name].append(run(admin, buffer, dsn))
        default_rows = admin.execute("SELECT COUNT(*) FROM counting_events_default").fetchone()[0]
        delivered = admin.execute("SELECT COUNT(*) FROM counting_events").fetchone()[0]
    assert delivered == events and default_rows == 0, (delivered, default_rows)
    return runs


def lag(dsn: str, work: Path, seconds: float, rate: int) -> list[float]:
    """Per-event lag (s) from box commit to central commit, the agent running with default settings."""
    buffer = work / "lag.sqlite"
    lags: list[float] = []
    stop = threading.Event()

    def on_delivered(batch: Batch, target: Target, result: Delivery) -> None:
        if batch.stream == "events" and not result.duplicate:
            done = now_us()
            lags.extend(
                (done - ts) / 1e6
                for (ts,) in outbox.conn.execute(
                    "SELECT ts_us FROM crossings WHERE seq BETWEEN ? AND ?", (batch.first_seq, batch.last_seq)
                )
            )

    def produce() -> None:
        per_frame, interval = max(1, rate // 50), 1 / 50  # 50 frames/s with crossings across the cameras
        with Buffer(buffer, synchronous="normal") as b:
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                ts = now_us()
                b.record_frame(
                    [
                        CrossingEvent(
                            event_id=uuid7(ts),
                            device_id=DEVICE,
                            camera=f"cam{i % 8}",
                            line="line0",
                            direction="in",
                            track_id=i,
                            ts_us=ts,
                            frame=0,
                            score=0.9,
                            model="m",
                        )
                        for i in range(per_frame)
                    ],
                    ts,
                )
                time.sleep(interval)
        time.sleep(3)  # let the last batches go
        stop.set()

    with Buffer(buffer):
        pass
    with Outbox(buffer) as outbox:
        agent = Agent(config(buffer, dsn), outbox, stop, on_delivered)
        producer = threading.Thread(target=produce)
        producer.start()
        try:
            agent.run()
        finally:
            agent.close()
            producer.join()
    return lags


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=500_000, help="crossings in the throughput buffer")
    parser.add_argument("--pairs", type=int, default=3, help="alternating agent/baseline runs")
    parser.add_argument("--lag-seconds", type=float, default=20.0)
    parser.add_argument("--lag-rate", type=int, default=2000, help="crossings per second while measuring lag")
    args = parser.parse_args(argv)
    load_before = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    with PgServer() as srv, tempfile.TemporaryDirectory(prefix="bench_sync.") as tmp:
        admin, dsn = setup_central(srv.url)
        runs = throughput(admin, dsn, Path(tmp), args.events, args.pairs)
        lags = sorted(lag(dsn, Path(tmp), args.lag_seconds, args.lag_rate))
    n = args.events

    def rate(name: str) -> float:
        return statistics.median(n / r.seconds for r in runs[name])

    def cpu_us(name: str, side: str) -> float:
        return statistics.median(getattr(r, side) / n * 1e6 for r in runs[name])

    ratio = statistics.median(b.seconds / a.seconds for a, b in zip(runs["agent"], runs["baseline"]))
    p = statistics.quantiles(lags, n=100)
    print(
        f"events: {n} per run, {args.pairs} alternating pairs; load average before: {load_before}, after: "
        f"{' '.join(Path('/proc/loadavg').read_text().split()[:3])}"
    )
    print("                                           rows/s     CPU us/row: client  server")
    for name, label in (
        ("agent", "agent (binary COPY + ledger, partitioned)"),
        ("baseline", "baseline (pipelined executemany INSERT)"),
    ):
        print(
            f"{label:42s} {rate(name):9,.0f}   {cpu_us(name, 'client_cpu_s'):17.2f} {cpu_us(name, 'server_cpu_s'):7.2f}"
        )
    print(f"ratio (median of pairs): {ratio:.2f}x")
    print(
        f"lag box commit -> central commit over {len(lags)} events at {args.lag_rate}/s: "
        f"p50 {p[49]:.3f} s, p95 {p[94]:.3f} s, max {lags[-1]:.3f} s"
    )


if __name__ == "__main__":
    main()
