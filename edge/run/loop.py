"""`edge run`: every camera of a box in one process, one shared detector, results into the buffer.

Cameras are served round-robin: a camera whose newest frame is due (its `detect_fps`) and that has no
frame in the detector gets the next free inference slot; the detector never works on a backlog.
The one onnxruntime session takes `[model] threads` single-threaded calls at once (for a small model
on a small box, measured ~1.6x the frames/s of one call on as many threads, at half the CPU per frame).
With batches (`[model] batching`: on, or "auto" when a start-up probe finds them faster on this machine) one
call at a time takes every frame that is due now, grouped by input size (edge/vision/batching.py).
Tracking, counting and SQLite stay on the main thread, in each camera's frame order.
Recorded files are processed frame by frame to their end.
SIGTERM/SIGINT: stop capture, finish the frames in the detector, commit, close, exit 0.
Other threads (the web page, edge/web) read each camera's counters and newest processed frame, and hand new
lines to the main thread (`change_lines`), which applies them between two frames of that camera.
"""

from __future__ import annotations

import copy
import logging
import queue
import signal
import sqlite3
import threading
import time
from collections import Counter, deque
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import psutil

from edge.config import Batching, BoxConfig, DetectorSettings
from edge.counting.line import Line, check_lines
from edge.counting.pipeline import CameraPipeline
from edge.errors import Fatal, UserError
from edge.records import BoxHealth, CameraStatus, CrossingEvent, now_us
from edge.run.health import HealthWindow
from edge.run.line_history import LineHistory
from edge.run.malloc import trim
from edge.run.metrics import BoxMetrics
from edge.store.buffer import Buffer
from edge.store.held import HeldWrites
from edge.store.outbox import OutboxView
from edge.video.file import FileStream
from edge.video.live import LiveStream
from edge.video.source import Frame, Source, StreamStats, is_live
from edge.vision.batching import group_by_size, probe_frames, use_batches
from edge.vision.detections import Detections, Region, Tracks
from edge.vision.detector import Detector, batched_detector, concurrent_calls, parallel_detector, probe_batching
from edge.vision.motion import MotionGate

log = logging.getLogger("edge.run")

InFlight = dict[Future[list[Detections]], list[tuple["Camera", Frame]]]


@dataclass(frozen=True)
class LiveView:
    """A camera's newest processed frame and the people tracked on it (what the web page shows)."""

    frame: Frame
    tracks: Tracks


@dataclass
class Camera:
    """One camera's stream, counting pipeline and health window; counters since the start for /metrics."""

    name: str
    stream: Source
    pipeline: CameraPipeline
    gate: MotionGate
    window: HealthWindow = field(default_factory=HealthWindow)
    baseline: StreamStats = field(default_factory=StreamStats)
    shape: tuple[int, int] | None = None  # frame size the lines were last checked against
    last_ts_us: int = 0
    busy: bool = False      # a frame of this camera is in the detector
    finished: bool = False  # held crossings flushed: nothing more will come
    source: str = ""        # with its password: never shown (edge.secrets masks it in errors)
    processed: int = 0      # frames looked at since the start (as the health window counts them) ...
    detected: int = 0       # ... of which the motion gate sent these to the detector
    crossings: Counter[tuple[str, str]] = field(default_factory=Counter)  # (line, direction) -> crossings
    recent: deque[CrossingEvent] = field(default_factory=lambda: deque(maxlen=20))
    status: CameraStatus | None = None  # as of the last health record
    view: LiveView | None = None
    looking: Region | None = None  # the part of the frame in the detector (None: all of it): what the tracker saw

    def saw(self, frame: Frame, detected: bool) -> None:
        """Count a frame looked at (in the health window and since the start; `detected`: by the detector, not
        held back by the motion gate) and make it the picture the web page shows."""
        self.window.processed += 1
        self.processed += 1
        if detected:
            self.window.detected += 1
            self.detected += 1
        self.view = LiveView(frame, self.pipeline.tracks)

    def live_status(self) -> CameraStatus:
        """Offline as soon as the stream is down or frozen; otherwise as the last health record said."""
        if self.stream.frozen() or not self.stream.stats.online:
            return CameraStatus.OFFLINE
        return self.status or CameraStatus.ONLINE


def box_detector(settings: DetectorSettings, cameras: int) -> tuple[Detector, int, int]:
    """The detector of `edge run`, how many calls it takes at once, and the most frames in a call (1: no batches).

    Batches as `[model] batching` says; with "auto" (and two cameras or more) whichever of one batched call and
    single calls several at once a short probe on this machine finds faster, logged."""
    fields: dict[str, object] = {"setting": str(settings.batching), "cameras": cameras}
    batched = parallel = probe = None
    if settings.batching != Batching.OFF and (settings.batching == Batching.ON or cameras >= 2):
        batched = batched_detector(settings)
    if settings.batching != Batching.ON:
        parallel, calls = parallel_detector(settings)
    if batched is not None and parallel is not None:
        start = time.monotonic()
        probe = probe_batching(parallel, calls, batched, probe_frames(cameras, settings.max_batch))
        fields |= {"probe_frames": probe.frames, "batched_ms": round(probe.batched_ms, 2),
                   "parallel_ms": round(probe.parallel_ms, 2), "probe_s": round(time.monotonic() - start, 2)}
    batches = use_batches(settings.batching, cameras, probe)
    log.info("batches" if batches else "single frames", extra=fields)
    if batches:
        assert batched is not None
        return batched, 1, settings.max_batch
    assert parallel is not None
    return parallel, calls, 1


def _single(detector: Detector, image: np.ndarray, region: Region | None) -> list[Detections]:
    return [detector(image) if region is None else detector.region(image, region)]


class Runner:
    def __init__(self, config: BoxConfig, detector: Detector | None = None) -> None:
        """`detector`: one already made (tests), used single-threaded unless `[model] batching = "on"`."""
        self.config = config
        if detector is None:
            detector, self.workers, self.max_batch = box_detector(config.model, sum(c.enabled for c in config.cameras))
        elif config.model.batching == Batching.ON:
            self.workers, self.max_batch = 1, config.model.max_batch
        else:
            self.workers, self.max_batch = concurrent_calls(config.model.threads), 1
        self.detector = detector
        self._next = 0  # round-robin position
        self.stopping = threading.Event()
        self.cameras: list[Camera] = []
        for cam in config.cameras:
            if not cam.enabled:
                continue
            stream = (LiveStream(cam.name, cam.source, config.capture_for(cam), cam.detect_fps)
                      if is_live(cam.source) else FileStream(cam.name, cam.source))
            lines = [ln.to_line() for ln in cam.lines]
            pipe = CameraPipeline(config.device_id, cam.name, lines, self.detector.name, config.tracker, config.counter,
                                  stream.rate_hz)
            self.cameras.append(Camera(cam.name, stream, pipe, MotionGate(config.motion, lines, stream.rate_hz),
                                       source=cam.source))
        if not self.cameras:
            raise UserError("no enabled camera in the config: add a [[cameras]] entry with a name and a source")
        self.buffer = Buffer(config.buffer.path, config.buffer.synchronous)
        self.writer = HeldWrites(self.buffer)
        self.metrics = BoxMetrics(self)
        self._line_changes: queue.SimpleQueue[tuple[Camera, list[Line], Future[int]]] = queue.SimpleQueue()
        self.line_history = LineHistory(self.buffer, config.device_id)  # what changed since the last run
        self.line_history.record(now_us(), {c.name: c.pipeline.lines for c in self.cameras}, everywhere=True)

    def stop(self, *_: object) -> None:
        self.stopping.set()

    def run(self) -> None:
        """Until stopped (or, with only files, until every file is done)."""
        process = psutil.Process()
        process.cpu_percent()
        for c in self.cameras:
            c.stream.start()
        last_health = time.monotonic()
        inflight: InFlight = {}
        try:
            with ThreadPoolExecutor(self.workers, thread_name_prefix="detect") as pool:
                while inflight or not (self.stopping.is_set() or all(c.finished for c in self.cameras)):
                    if not self.stopping.is_set():
                        self._apply_line_changes()
                        self._dispatch(pool, inflight)
                    if inflight:
                        done, _ = wait(inflight, timeout=0.002, return_when=FIRST_COMPLETED)
                        for future in done:
                            self._results(inflight.pop(future), future)
                    else:
                        time.sleep(0.002)
                    now = time.monotonic()
                    if now - last_health >= self.config.health.interval_s:
                        self._health(now - last_health, process)
                        last_health = now
            for cam in self.cameras:  # stopping: crossings still held will not be undone now
                self._finish(cam)
            self._health(max(time.monotonic() - last_health, 1e-3), process)
        finally:
            self._refuse_line_changes()
            for c in self.cameras:
                c.stream.stop()
            deadline = time.monotonic() + 5  # a reader may be blocked in an open or a read until its timeout
            for c in self.cameras:
                c.stream.join(timeout=max(0.0, deadline - time.monotonic()))
            self.buffer.close()
        if (lost := self.writer.unsaved()) is not None:
            raise Fatal(lost)

    def _dispatch(self, pool: ThreadPoolExecutor, inflight: InFlight) -> None:
        """Fill free inference slots with the newest due frames, one camera after the other."""
        if self.max_batch > 1:
            if not inflight:
                self._dispatch_batches(pool, inflight)
            return
        n, start = len(self.cameras), self._next
        for step in range(n):
            if len(inflight) >= self.workers:
                return
            cam = self.cameras[(start + step) % n]
            if (frame := self._due(cam)) is None:
                continue
            self._submit_one(pool, inflight, cam, frame)
            self._next = (start + step + 1) % n

    def _submit_one(self, pool: ThreadPoolExecutor, inflight: InFlight, cam: Camera, frame: Frame) -> None:
        """The camera's frame (or the crop of it the gate chose) in an inference call of its own."""
        cam.busy = True
        inflight[pool.submit(_single, self.detector, frame.image, cam.looking)] = [(cam, frame)]

    def _dispatch_batches(self, pool: ThreadPoolExecutor, inflight: InFlight) -> None:
        """Every frame due now, one call per input size (at most max_batch frames each); the calls run one after
        the other and the next frames are taken when they are done: no camera waits for a batch to fill."""
        ready = [(cam, frame) for cam in self.cameras if (frame := self._due(cam)) is not None]
        for cam, frame in [(c, f) for c, f in ready if c.looking is not None]:  # a crop is a call of its own
            self._submit_one(pool, inflight, cam, frame)
        ready = [(c, f) for c, f in ready if c.looking is None]
        sizes = [self.detector.input_size(frame.image.shape[:2]) for _, frame in ready]
        for call in group_by_size(sizes, self.max_batch):
            batch = [ready[i] for i in call]
            for cam, _ in batch:
                cam.busy = True
            inflight[pool.submit(self.detector.batch, [frame.image for _, frame in batch])] = batch

    def _due(self, cam: Camera) -> Frame | None:
        """The camera's newest frame if it goes to the detector now; None if it has none, is finished or busy, or
        the motion gate holds it back."""
        if cam.busy or cam.finished:
            return None
        frame = cam.stream.take()
        if frame is None:
            if cam.stream.finished:
                self._finish(cam)
            return None
        if not cam.gate.needs_detection(frame.image, frame.index, cam.pipeline.tracks):
            cam.saw(frame, detected=False)  # nothing moved near a line: no inference, no tracker step
            return None
        cam.looking = cam.gate.region
        return frame

    def _results(self, batch: list[tuple[Camera, Frame]], future: Future[list[Detections]]) -> None:
        for cam, _ in batch:
            cam.busy = False
        try:
            found = future.result()
        except Exception:  # a frame the detector cannot take must not stop the other cameras
            for cam, frame in batch:
                log.exception("detection failed, frame skipped", extra={"camera": cam.name, "frame": frame.index})
                cam.gate.reset()
            return
        for (cam, frame), dets in zip(batch, found):
            self._result(cam, frame, dets)

    def _result(self, cam: Camera, frame: Frame, dets: Detections) -> None:
        """Track, count and commit one detected frame (in the camera's frame order: one in flight per camera)."""
        if frame.image.shape[:2] != cam.shape:
            if cam.shape is not None:  # back at another resolution: tracks and sides from before mean nothing
                self._record(cam, cam.pipeline.finish(cam.last_ts_us))
                cam.pipeline = replace(cam.pipeline)  # same settings, fresh tracker and counter
            self._check_lines(cam, frame)
        cam.last_ts_us = frame.ts_us
        self._record(cam, cam.pipeline.step(dets, frame.index, frame.ts_us, cam.looking))
        cam.saw(frame, detected=True)
        if isinstance(cam.stream, LiveStream):  # a file's frame times are made up: no latency to speak of
            latency_ms = (now_us() - frame.ts_us) / 1000
            cam.window.latencies_ms.append(latency_ms)
            self.metrics.observe_latency(cam.name, latency_ms / 1000)

    def _finish(self, cam: Camera) -> None:
        if not cam.finished:
            cam.finished = True
            self._record(cam, cam.pipeline.finish(cam.last_ts_us or now_us()))

    def _record(self, cam: Camera, events: list[CrossingEvent]) -> None:
        if events:
            self.writer.record_frame(events, now_us())
            cam.recent.extend(events)
            for e in events:
                cam.crossings[(e.line, e.direction)] += 1
                log.info("crossing", extra={"camera": cam.name, "line": e.line, "direction": e.direction,
                                            "track": e.track_id})

    def change_lines(self, camera: str, lines: list[Line]) -> Future[int]:
        """From any thread: count `camera` against `lines` from its next frame on. The future gives the time
        (UTC microseconds) from which they count, once the main loop has applied them between two frames."""
        done: Future[int] = Future()
        cam = next((c for c in self.cameras if c.name == camera), None)
        if cam is None:
            done.set_exception(UserError(f"camera {camera!r} is not counted by this edge run: check its name"))
        else:
            self._line_changes.put((cam, lines, done))
        return done

    def _apply_line_changes(self) -> None:
        """Crossings held on a moved or removed line are stored now, stamped with their own frames; the new lines
        take effect just after the capture time of the camera's last processed frame (so every crossing stored
        belongs to exactly one version of its line); the versions go to the buffer for central."""
        while not self._line_changes.empty():
            cam, lines, done = self._line_changes.get()
            ts = cam.last_ts_us + 1 if cam.last_ts_us else now_us()
            self._record(cam, cam.pipeline.replace_lines(lines, ts))
            cam.gate.replace_lines(lines)
            self.line_history.record(ts, {cam.name: lines})
            log.info("lines changed", extra={"camera": cam.name, "lines": ",".join(ln.name for ln in lines)})
            done.set_result(ts)

    def _refuse_line_changes(self) -> None:
        while not self._line_changes.empty():
            self._line_changes.get()[2].set_exception(UserError("edge run is stopping: lines not applied"))

    def _check_lines(self, cam: Camera, frame: Frame) -> None:
        """On the first frame and whenever the camera comes back at another resolution."""
        h, w = cam.shape = frame.image.shape[:2]
        try:
            check_lines(cam.pipeline.lines, w, h, where=f"camera {cam.name}: ")
        except UserError as e:  # counted anyway (the camera may have changed resolution); say so loudly
            log.error("line outside frame", extra={"camera": cam.name, "error": str(e)})

    def _health(self, seconds: float, process: psutil.Process) -> None:
        trim()  # frames freed across threads stay in malloc's heaps otherwise: RSS would creep
        ts = now_us()
        records = []
        for cam in self.cameras:
            stats = copy.copy(cam.stream.stats)
            records.append(cam.window.record(stats, self.config.device_id, cam.name, seconds, ts,
                                             cam.stream.frozen(), cam.baseline))
            cam.window, cam.baseline, cam.status = HealthWindow(), stats, records[-1].status
        for r in records:
            log.info("health", extra={"camera": r.camera, "status": r.status, "fps_in": r.fps_in,
                                      "fps_processed": r.fps_processed, "drop_rate": r.drop_rate,
                                      "detected_share": r.detected_share})
        path = Path(self.config.buffer.path)
        size = sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists())
        if self.writer.retry(ts):
            try:
                pending = int(OutboxView(self.buffer.conn).summary(ts)["rows_pending"])
            except sqlite3.Error as e:
                self.writer.refused(e)
                return
            self.writer.record_health(records, BoxHealth(
                ts_us=ts, device_id=self.config.device_id, cpu_percent=process.cpu_percent(),
                mem_mb=process.memory_info().rss / 2**20, buffer_bytes=size, pending_rows=pending))


def run(config: BoxConfig, path: Path | None = None) -> Runner:
    """Run a box until SIGTERM/SIGINT (or the end of its files), with its web page unless [web] turns it off
    (`path`: the config file, which the page's line editor rewrites)."""
    runner = Runner(config)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, runner.stop)
    web = None
    if config.web.enabled and path is not None:
        from edge.web.server import WebServer  # the ASGI stack: loaded only when the page is served

        web = WebServer(runner, path).start()
    try:
        runner.run()
    finally:
        if web is not None:
            web.stop()
    return runner
