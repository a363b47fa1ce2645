"""Capture worker logic with fakes (newest-frame slot, drops, freeze flag, health aggregation) and its
reconnect loop against a closed loopback port (backoff, redacted errors, no leaked thread)."""

from __future__ import annotations

import logging
import threading
import time

import numpy as np

import edge.stream as stream
from edge.config import CaptureSettings
from edge.health import HealthWindow
from edge.stream import LiveStream, StreamStats
from tests.conftest import free_port

FAST = CaptureSettings(open_timeout_s=1, read_timeout_s=1, freeze_timeout_s=2, backoff_initial_s=0.05,
                       backoff_max_s=0.2)
IMAGE = np.zeros((48, 64, 3), np.uint8)


def test_slot_keeps_the_newest_frame_and_counts_the_replaced_ones(monkeypatch):
    clock = iter(range(0, 10_000_000, 100_000))  # a 10 fps stream, detected at 10 fps
    monkeypatch.setattr(stream, "now_us", lambda: next(clock))
    s = LiveStream("c", "rtsp://127.0.0.1:1/cam", FAST, detect_fps=10)
    for _ in range(3):
        s._deliver(IMAGE)  # the detector was busy: two wanted frames replaced
    frame = s.take()
    assert frame.index == 3 and s.take() is None
    assert (s.stats.received, s.stats.wanted, s.stats.dropped) == (3, 3, 2)
    assert (s.stats.width, s.stats.height) == (64, 48)


def test_frozen_after_the_freeze_timeout_without_a_frame(monkeypatch):
    now = [0]
    monkeypatch.setattr(stream, "now_us", lambda: now[0])
    s = LiveStream("c", "rtsp://127.0.0.1:1/cam", FAST, detect_fps=10)
    assert s.frozen()  # never had a frame
    s._deliver(IMAGE)
    now[0] = 1_900_000
    assert not s.frozen()
    now[0] = 2_100_000
    assert s.frozen()


def test_health_window_differences_rates_and_status():
    before = StreamStats(received=100, wanted=50, dropped=1, reconnects=2, online=True)
    after = StreamStats(received=120, wanted=60, dropped=4, reconnects=2, online=True, last_frame_us=7,
                        width=768, height=576)
    w = HealthWindow(processed=10, latencies_ms=[float(i) for i in range(1, 101)])
    r = w.record(after, "box", "c", 2.0, 9, False, before)
    assert (r.fps_in, r.fps_processed, r.drop_rate) == (10.0, 5.0, 0.3)
    assert r.status == "degraded" and (r.width, r.height, r.last_frame_us) == (768, 576, 7)
    assert r.latency_p50_ms == 50.5 and 95 <= r.latency_p95_ms <= 96
    quiet = HealthWindow().record(after, "box", "c", 2.0, 9, False, after)
    assert quiet.status == "online" and quiet.drop_rate == 0 and quiet.latency_p95_ms is None
    reconnected = HealthWindow().record(StreamStats(reconnects=3, online=True), "box", "c", 1, 9, False, before)
    assert reconnected.status == "degraded"
    assert HealthWindow().record(after, "box", "c", 1, 9, True, before).status == "offline"


def test_unreachable_camera_is_retried_with_backoff_and_stops_cleanly(caplog):
    url = f"rtsp://admin:s3cret@127.0.0.1:{free_port()}/cam"
    threads = threading.active_count()
    caplog.set_level(logging.INFO, logger="edge.stream")
    s = LiveStream("gate", url, FAST, detect_fps=10)
    s.start()
    time.sleep(1.5)
    assert s.stats.reconnects >= 3 and not s.stats.online
    assert "cannot open rtsp://admin:***@127.0.0.1" in s.stats.error
    s.stop()
    s.join(timeout=2)
    assert not s.is_alive() and threading.active_count() == threads
    assert "s3cret" not in caplog.text and all(r.camera == "gate" for r in caplog.records)
    waits = [r.created for r in caplog.records if r.getMessage() == "reconnecting"]
    gaps = np.diff(waits)
    assert len(gaps) >= 2 and gaps.max() <= FAST.backoff_max_s + FAST.backoff_initial_s + 0.3
