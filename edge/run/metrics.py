"""The box's Prometheus metrics (`/metrics` of the web page), following Prometheus' naming conventions.

Everything is read when scraped, so counting pays nothing for it: per camera the stream's counters, frames
processed, status and crossings per line and direction, from the runner; buffer and sync state from the
buffer file, read-only (the sync agent is another process: what it did is in the buffer's outbox tables).
Only the capture-to-commit latency histogram is fed by the runner, one observation per detected frame.
Counters start at 0 with `edge run` (Prometheus' rate() and increase() expect that); labels carry camera,
line and stream names, never a source URL.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from edge.records import CameraStatus, Direction, now_us
from edge.store.outbox import OutboxView
from edge.store.schema import SYNC_SCHEMA_VERSION

if TYPE_CHECKING:
    from edge.run.loop import Runner

# capture -> committed, seconds: a 10 fps camera should stay well under 0.1 s
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 1.0, 2.5, 5.0)


class _RunnerCollector(Collector):
    def __init__(self, runner: Runner) -> None:
        self.runner = runner

    def collect(self) -> Iterator[Metric]:
        cameras = self.runner.cameras
        per_camera = {
            "received": CounterMetricFamily("edge_camera_frames_received", "Frames decoded from the camera",
                                            labels=["camera"]),
            "processed": CounterMetricFamily("edge_camera_frames_processed",
                                             "Frames looked at: detected, or held back by the motion gate",
                                             labels=["camera"]),
            "detected": CounterMetricFamily("edge_camera_frames_detected",
                                            "Frames the motion gate sent to the detector (then tracked and counted)",
                                            labels=["camera"]),
            "dropped": CounterMetricFamily("edge_camera_frames_dropped",
                                           "Frames due for detection replaced by a newer one before the detector "
                                           "took them", labels=["camera"]),
            "reconnects": CounterMetricFamily("edge_camera_reconnects", "Reconnections to the camera",
                                              labels=["camera"]),
        }
        status = GaugeMetricFamily("edge_camera_status", "1 for the camera's current status (online, degraded, "
                                   "offline), 0 for the others", labels=["camera", "status"])
        crossings = CounterMetricFamily("edge_crossings", "People counted crossing a line, per direction",
                                        labels=["camera", "line", "direction"])
        for cam in cameras:
            stats = cam.stream.stats
            per_camera["received"].add_metric([cam.name], stats.received)
            per_camera["processed"].add_metric([cam.name], cam.processed)
            per_camera["detected"].add_metric([cam.name], cam.detected)
            per_camera["dropped"].add_metric([cam.name], stats.dropped)
            per_camera["reconnects"].add_metric([cam.name], stats.reconnects)
            now = cam.live_status()
            for s in CameraStatus:
                status.add_metric([cam.name, s.value], float(s == now))
            lines = [ln.name for ln in cam.pipeline.lines] + sorted({ln for ln, _ in cam.crossings} -
                                                                     {ln.name for ln in cam.pipeline.lines})
            for line in lines:
                for d in Direction:
                    crossings.add_metric([cam.name, line, d.value], cam.crossings[(line, d.value)])
        yield from per_camera.values()
        yield status
        yield crossings
        yield from buffer_metrics(Path(self.runner.config.buffer.path))


def buffer_metrics(path: Path) -> list[Metric]:
    """Buffer depth and size, and the sync agent's progress as its outbox tables record it."""
    size = GaugeMetricFamily("edge_buffer_size_bytes", "Size of the SQLite buffer and its write-ahead log")
    size.add_metric([], sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists()))
    out: list[Metric] = [size]
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1.0)
    except sqlite3.Error:
        return out
    try:
        if conn.execute("PRAGMA user_version").fetchone()[0] < SYNC_SCHEMA_VERSION:
            return out
        view = OutboxView(conn)
        summary = view.summary(now_us())
        sent = view.batches_sent()
        retries = view.retries()
    except sqlite3.Error:  # busy or being migrated: this scrape goes without
        return out
    finally:
        conn.close()
    pending = GaugeMetricFamily("edge_buffer_pending_rows", "Rows not yet confirmed by the central database")
    pending.add_metric([], summary["rows_pending"])
    lag = GaugeMetricFamily("edge_sync_lag_seconds", "Age of the oldest row not yet confirmed by central")
    lag.add_metric([], summary["oldest_pending_age_s"])
    batches = CounterMetricFamily("edge_sync_batches_sent", "Batches central confirmed, per stream",
                                  labels=["stream"])
    for stream, n in sent.items():
        batches.add_metric([stream.value], n)
    retried = CounterMetricFamily("edge_sync_retries", "Deliveries the sync agent tried again")
    retried.add_metric([], retries)
    dead = GaugeMetricFamily("edge_sync_dead_letter_rows", "Rows central refused, kept in the buffer")
    dead.add_metric([], summary["dead_letters"])
    return out + [pending, lag, batches, retried, dead]


class BoxMetrics:
    """One registry per runner (tests run several in a process); `render()` is what /metrics serves."""

    def __init__(self, runner: Runner) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        latency = Histogram("edge_camera_latency_seconds", "From a frame's capture to its results committed to "
                            "the buffer", ["camera"], buckets=LATENCY_BUCKETS, registry=self.registry)
        self._latency = {c.name: latency.labels(c.name) for c in runner.cameras}
        self.registry.register(_RunnerCollector(runner))

    def observe_latency(self, camera: str, seconds: float) -> None:
        self._latency[camera].observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
