"""Shared pieces of the sync and buffer tests: a migrated central database with box roles, box buffers and configs."""

from __future__ import annotations

import itertools
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import psycopg

from edge.config import BoxConfig
from edge.records import CameraHealth, CrossingEvent, now_us, uuid7
from edge.store.buffer import Buffer
from edge.store.outbox import Batch, Outbox
from models.paths import REPO_ROOT
from sync.agent.deliver import Delivery, Target
from sync.agent.loop import Agent
from sync.central.roles import create_device_role


def migrate_central(admin_dsn: str) -> None:
    """`edge central migrate`: the central schema, then the sync migrations (0100...)."""
    subprocess.run([sys.executable, "-m", "edge.cli", "central", "migrate", "--dsn", admin_dsn], check=True,
                   capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})


def box_dsn(admin_dsn: str, device_id: str) -> str:
    """Create the device's role as provisioning does and return its DSN (the test server trusts loopback)."""
    role = create_device_role(admin_dsn, device_id, "not-checked-on-loopback")
    return admin_dsn.replace("postgres@", f"{role}@", 1)


def box_config(buffer: Path, dsn: str, device_id: str = "box1", **sync: object) -> BoxConfig:
    return BoxConfig(device_id=device_id, buffer={"path": buffer, "synchronous": "normal"},
                     sync={"dsn": dsn, "retry_initial_s": 0.05, "retry_max_s": 0.5, **sync})


def drain(buffer: Path, dsn: str, routes: list[str] | None = None, device_id: str = "box1", **sync: object) -> Agent:
    """Drain as the `--once` command does; `routes` collects the route each events batch took."""

    def on_delivered(batch: Batch, target: Target, result: Delivery) -> None:
        if routes is not None and batch.stream == "events":
            routes.append(result.route)

    with Outbox(buffer) as outbox:
        agent = Agent(box_config(buffer, dsn, device_id, **sync), outbox, on_delivered=on_delivered)
        try:
            agent.drain()
        finally:
            agent.close()
    return agent


def crossing(device_id: str = "box1", camera: str = "door", ts_us: int | None = None, line: str = "entrance",
             direction: str = "in", track_id: int = 1) -> CrossingEvent:
    ts = now_us() if ts_us is None else ts_us
    return CrossingEvent(
        event_id=uuid7(ts),
        device_id=device_id,
        camera=camera,
        line=line,
        direction=direction,
        track_id=track_id,
        ts_us=ts,
        frame=1,
        score=0.9,
        model="yolox-nano",
    )


def camera_health(ts_us: int, camera: str = "cam0", device_id: str = "box1", status: str = "online",
                  **fields: object) -> CameraHealth:
    """A health record of a camera streaming well (`fields` override any of its figures)."""
    values: dict[str, object] = dict(fps_in=10.0, fps_processed=9.5, drop_rate=0.0, latency_p50_ms=40.0,
                                     latency_p95_ms=120.0, reconnects=0, last_frame_us=ts_us, width=640, height=480,
                                     error=None)
    values.update(fields)
    return CameraHealth(ts_us=ts_us, device_id=device_id, camera=camera, status=status, **values)  # type: ignore[arg-type]


def fill(buffer: Path, n: int, device_id: str = "box1", per_frame: int = 100, ts_us: int | None = None) -> None:
    """`n` crossings over two cameras and both directions, `per_frame` per transaction, plus a health record."""
    t0 = now_us() if ts_us is None else ts_us
    with Buffer(buffer, synchronous="normal") as b:
        for start in range(0, n, per_frame):
            b.record_frame(
                [
                    crossing(device_id, f"cam{i % 2}", t0 + i, direction=("in", "out")[i % 3 == 0], track_id=i)
                    for i in range(start, min(n, start + per_frame))
                ],
                now_us(),
            )
        b.record_health([camera_health(t0, device_id=device_id, drop_rate=0.05, latency_p50_ms=80.0)])


def buffer_event_ids(buffer: Path) -> list[str]:
    with Buffer(buffer, synchronous="normal") as b:
        return sorted(r[0] for r in b.conn.execute("SELECT event_id FROM crossings"))


def central_event_ids(admin_dsn: str) -> list[str]:
    with psycopg.connect(admin_dsn) as conn:
        return sorted(str(r[0]) for r in conn.execute("SELECT event_id FROM counting_events"))


def buffer_minutes(buffer: Path, device_id: str = "box1") -> list[tuple]:
    """(camera_id, line, minute in µs, in, out) of the buffer's per-minute counts, as central names cameras."""
    with Buffer(buffer, synchronous="normal") as b:
        return sorted((f"{device_id}/{c}", line, m, i, o) for c, line, m, i, o in
                      b.conn.execute("SELECT camera, line, minute_us, count_in, count_out FROM minute_counts"))


def central_minutes(admin_dsn: str) -> list[tuple]:
    """The same of central's counting_results."""
    with psycopg.connect(admin_dsn) as conn:
        return sorted(conn.execute("SELECT camera_id, line_name, (extract(epoch FROM result_timestamp) * 1e6)::bigint, "
                                   "count_in, count_out FROM counting_results").fetchall())


def full(buffer: Buffer) -> None:
    """Let the database grow no further and fill its last free space: the next insert fails with SQLITE_FULL,
    as on a full disk (filler crossings are on camera "filler")."""
    pages = buffer.conn.execute("PRAGMA page_count").fetchone()[0]
    buffer.conn.execute(f"PRAGMA max_page_count = {pages}")
    for track in itertools.count(100_000):
        try:
            buffer.record_frame([crossing(camera="filler", track_id=track)], now_us())
        except sqlite3.OperationalError as e:
            assert "full" in str(e)
            return
