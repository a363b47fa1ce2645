"""Capture worker logic with fakes (newest-frame slot, drops, frame numbering, stale reads, freeze, health
aggregation, fair shared detector) and its reconnect loop against a closed loopback port and a real server
killed and restarted (backoff, redacted errors, no leaked thread or socket)."""

from __future__ import annotations

import logging
import os
import signal
import sqlite3
import threading
import time
from collections import Counter

import numpy as np

import edge.video.live as stream
from edge.config import CaptureSettings, parse_config
from edge.run.loop import Runner
from edge.video.live import LiveStream
from edge.video.source import Frame, StreamStats
from edge.vision.detections import Detections
from tests.support import free_port

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


def test_unreachable_camera_is_retried_with_backoff_and_stops_cleanly(caplog):
    url = f"rtsp://admin:s3cret@127.0.0.1:{free_port()}/cam"
    threads = threading.active_count()
    caplog.set_level(logging.INFO, logger="edge.stream")
    s = LiveStream("gate", url, FAST, detect_fps=10)
    s.start()
    time.sleep(1.5)
    assert s.stats.reconnects >= 3 and not s.stats.online
    assert s.stats.error.startswith("nothing listens on 127.0.0.1:")  # the camera was asked why (rtsp_probe)
    s.stop()
    s.join(timeout=2)
    assert not s.is_alive() and threading.active_count() == threads
    assert "s3cret" not in caplog.text and all(r.camera == "gate" for r in caplog.records)
    waits = [r.created for r in caplog.records if r.getMessage() == "reconnecting"]
    gaps = np.diff(waits)
    assert len(gaps) >= 2 and gaps.max() <= FAST.backoff_max_s + FAST.backoff_initial_s + 0.3


class FakeCapture:
    """Frames every 10 ms, then a frozen server: reads block for the read timeout, the first two still 'succeed'."""

    def __init__(self, frames: int, timeout: float) -> None:
        self.frames, self.timeout, self.reads, self.released = frames, timeout, 0, 0.0

    def read(self) -> tuple[bool, np.ndarray | None]:
        self.reads += 1
        if self.reads <= self.frames:
            time.sleep(0.01)
            return True, IMAGE
        time.sleep(self.timeout)
        return self.reads <= self.frames + 2, IMAGE  # decoder leftovers, then False

    def release(self) -> None:
        self.released = time.monotonic()


def poll(cond, timeout: float = 3.0) -> float:
    """Seconds until `cond()` held (fails the test after `timeout`)."""
    start = time.monotonic()
    while not cond():
        assert time.monotonic() - start < timeout, "timed out"
        time.sleep(0.005)
    return time.monotonic() - start


def test_reads_that_hit_the_timeout_are_not_frames_and_a_freeze_is_noticed_in_time(monkeypatch):
    settings = CaptureSettings(read_timeout_s=0.2, freeze_timeout_s=0.3, backoff_initial_s=5)
    cap = FakeCapture(frames=5, timeout=settings.read_timeout_s)
    monkeypatch.setattr(stream, "open_stream", lambda url, s: cap)
    s = LiveStream("c", "rtsp://127.0.0.1:1/cam", settings, detect_fps=1000)
    s.start()
    poll(lambda: s.stats.received == 5)
    assert 0.25 <= poll(s.frozen) <= 0.3 + 0.1  # the watchdog: the freeze timeout after the last frame
    poll(lambda: not s.stats.online, timeout=0.2 + 0.2)  # the reader gives up within one more read timeout
    assert "frozen" in s.stats.error and cap.released and s.stats.received == 5  # leftovers were not frames
    s.stop()
    s.join(timeout=1)
    assert not s.is_alive()


def test_backoff_grows_while_down_and_starts_again_after_a_long_session(monkeypatch):
    settings = CaptureSettings(backoff_initial_s=0.1, backoff_max_s=0.3)
    cap = FakeCapture(frames=40, timeout=0)  # up for 0.4 s (> the longest wait), then closed
    opens, script = [], iter([False, False, False, True])

    def fake_open(url: str, s: CaptureSettings) -> FakeCapture:
        opens.append(time.monotonic())
        if not next(script, False):
            raise stream.StreamDown("cannot open")
        return cap

    monkeypatch.setattr(stream, "open_stream", fake_open)
    s = LiveStream("c", "rtsp://127.0.0.1:1/cam", settings, detect_fps=10)
    s.start()
    poll(lambda: len(opens) >= 6)
    s.stop()
    s.join(timeout=1)
    gaps = np.diff(opens)
    assert 0.1 <= gaps[0] < gaps[2] <= 0.3 + 0.1 + 0.15  # waits between failed opens: growing, capped, jittered
    assert opens[4] - cap.released < 0.08  # right after a long session: reconnect at once ...
    assert gaps[4] >= 0.1  # ... then back off again
    assert s.stats.reconnects == len(opens) - 1 and not s.is_alive()


class FakeStream:
    """A camera whose newest frame is always ready (or never, when idle)."""

    def __init__(self, image: np.ndarray | None) -> None:
        self.image, self.stats, self.finished, self.index = image, StreamStats(online=True), False, 0

    def take(self) -> Frame | None:
        if self.image is None:
            return None
        self.index += 1
        return Frame(self.index, time.time_ns() // 1000, self.image)

    def frozen(self) -> bool:
        return False

    def start(self) -> None: ...
    def stop(self) -> None: ...
    def join(self, timeout: float | None = None) -> None: ...


class CountingDetector:
    """Counts detections per camera (told apart by their images), stops the runner after `limit`."""

    name = "fake"

    def __init__(self, limit: int, bad: int | None = None) -> None:
        self.limit, self.bad, self.seen, self.lock, self.runner = limit, bad, Counter(), threading.Lock(), None

    def __call__(self, image: np.ndarray) -> Detections:
        time.sleep(0.001)
        with self.lock:
            self.seen[int(image[0, 0, 0])] += 1
            if sum(self.seen.values()) == self.limit:
                self.runner.stop()
        if image[0, 0, 0] == self.bad:
            raise ValueError("cannot take this frame")
        return Detections.empty()


def fake_box(tmp_path, detector: CountingDetector, idle: int | None = None, lines: str = "") -> Runner:
    """Four cameras with a frame always ready (but `idle`), on a fake detector taking two calls at once. Their
    still fake pictures never move: the motion gate is off, so every frame is one for the scheduler to place."""
    cams = "".join(f'[[cameras]]\nname = "c{i}"\nsource = "rtsp://127.0.0.1:1/c{i}"\n{lines}' for i in range(4))
    config = parse_config(f'[buffer]\npath = "{tmp_path / "b.sqlite"}"\n[model]\nthreads = 2\n'
                          f'[motion]\ndetect_always = true\n{cams}')
    runner = detector.runner = Runner(config, detector)
    for i, cam in enumerate(runner.cameras):
        cam.stream = FakeStream(None if i == idle else np.full((36, 48, 3), i, np.uint8))
    return runner


def test_shared_detector_serves_busy_cameras_round_robin_and_skips_idle_ones(tmp_path):
    detector = CountingDetector(limit=60)
    fake_box(tmp_path, detector, idle=2).run()
    assert set(detector.seen) == {0, 1, 3}  # two detections at a time, the idle camera never waited for
    assert 60 <= detector.seen.total() <= 61 and max(detector.seen.values()) - min(detector.seen.values()) <= 1


def test_a_frame_the_detector_rejects_is_skipped_and_logged_the_other_cameras_go_on(tmp_path, caplog):
    detector = CountingDetector(limit=40, bad=1)
    runner = fake_box(tmp_path, detector)
    runner.run()
    assert min(detector.seen.values()) >= 9  # camera c1 kept being served, and so did the others
    failed = [r for r in caplog.records if r.getMessage() == "detection failed, frame skipped"]
    assert failed and {r.camera for r in failed} == {"c1"}
    with sqlite3.connect(tmp_path / "b.sqlite") as conn:
        processed = dict(conn.execute("SELECT camera, fps_processed FROM camera_health"))
    assert processed["c1"] == 0 and min(processed[c] for c in ("c0", "c2", "c3")) > 0


def test_a_camera_back_at_another_resolution_has_its_lines_checked_and_counts_afresh(tmp_path, caplog):
    detector = CountingDetector(limit=40)
    runner = fake_box(tmp_path, detector, lines='lines = [{ name = "door", a = [40, 0], b = [40, 30] }]\n')
    big = np.zeros((120, 160, 3), np.uint8)
    runner.cameras[0].stream = shrinking = FakeStream(big)
    taken = shrinking.take
    shrinking.take = lambda: Frame(0, 0, big[:20, :30]) if shrinking.index >= 5 else taken()  # after 5 frames
    first = runner.cameras[0].pipeline
    runner.run()
    outside = [r for r in caplog.records if r.getMessage() == "line outside frame"]
    assert len(outside) == 1 and outside[0].camera == "c0" and "30x20 frame" in outside[0].error
    assert runner.cameras[0].pipeline is not first  # c0 counts afresh at its new size


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_killed_server_is_reconnected_each_time_without_leaking(rtsp_server):
    settings = FAST.model_copy(update={"ffmpeg_options": "probesize;32"})
    s = LiveStream("cam", rtsp_server.url, settings, detect_fps=10)
    threads, fds = threading.active_count(), open_fds()
    s.start()
    for outage in range(3):
        deadline = time.monotonic() + 10
        while not (s.stats.reconnects >= outage and s.stats.online and not s.frozen()) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert s.stats.reconnects >= outage and s.stats.online and not s.frozen()  # frames flow again
        rtsp_server.stop(signal.SIGKILL)
        rtsp_server.start()
    assert s.take().index > 1
    s.stop()
    s.join(timeout=3)
    assert not s.is_alive() and threading.active_count() == threads and open_fds() == fds


