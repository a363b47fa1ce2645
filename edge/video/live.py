"""Per-camera capture workers: a thread that always holds the newest frame, and reconnects forever.

A live camera never builds a backlog: each new frame replaces the one not yet taken (a drop).
A stream is declared dead when `read()` fails *or* no frame has arrived for `freeze_timeout_s`;
the worker then releases the capture and reopens it with exponential backoff and jitter, until stopped.
A frozen server keeps the socket open: each read blocks for `read_timeout_s` and the first one or two
still return the decoder's leftovers, which are not counted as frames. `frozen()` is the watchdog the
runner's health records use: it depends on the time of the last frame only, not on a blocked reader.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import cv2
import numpy as np
from tenacity import RetryError, Retrying, retry_if_exception_type, wait_exponential, wait_random
from tenacity.stop import stop_base

from edge.capture import FileSource, Frame
from edge.config import CaptureSettings
from edge.records import now_us
from edge.redact import redact

log = logging.getLogger("edge.stream")


class StreamDown(Exception):
    """The stream could not be opened or stopped delivering frames."""


@dataclass
class StreamStats:
    """Counters since the worker started; the runner turns differences into health records."""

    received: int = 0
    wanted: int = 0           # frames due for detection at the camera's detect_fps
    dropped: int = 0          # wanted frames replaced before the detector took them
    reconnects: int = 0
    last_frame_us: int | None = None
    width: int | None = None
    height: int | None = None
    error: str | None = None
    online: bool = False


@dataclass
class Pacer:
    """Picks frames for detection at a target rate by their timestamps, and numbers them (pure).

    A frame is due when it is at most a fifth of a period early; a 10 fps stream detected at 10 fps
    keeps every frame despite arrival jitter, a 25 fps stream detected at 10 fps keeps 10 of 25.
    A due frame's `tick` counts detection periods since the first one: a drop or an outage leaves a gap,
    so the tracker's and counter's frame windows span the same time whatever the stream's rate.
    """

    period_us: float
    next_us: float = 0.0
    start_us: int | None = None
    tick: int = 0

    def due(self, ts_us: int) -> bool:
        if ts_us < self.next_us - 0.2 * self.period_us:
            return False
        if self.start_us is None:
            self.start_us = ts_us
        self.tick = max(self.tick + 1, round((ts_us - self.start_us) / self.period_us) + 1)
        self.next_us = max(self.next_us + self.period_us, ts_us + 0.8 * self.period_us)
        return True


class _StopWhen(stop_base):
    """Tenacity stop condition: the event is set."""

    def __init__(self, event: threading.Event) -> None:
        self.event = event

    def __call__(self, retry_state) -> bool:  # noqa: ANN001 - tenacity's RetryCallState
        return self.event.is_set()


class _FfmpegOptions:
    """OpenCV reads FFmpeg's options from one process-wide variable at open time: opens with the same
    options run together, an open with other options waits until they are done; the variable is put
    back once no open is running (other captures of the process, e.g. of files, keep their defaults)."""

    VAR = "OPENCV_FFMPEG_CAPTURE_OPTIONS"

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._current: str | None = None
        self._saved: str | None = None
        self._opening = 0

    @contextmanager
    def use(self, options: str) -> Iterator[None]:
        with self._cond:
            self._cond.wait_for(lambda: self._opening == 0 or self._current == options)
            if self._opening == 0:
                self._saved = os.environ.get(self.VAR)
            os.environ[self.VAR] = self._current = options
            self._opening += 1
        try:
            yield
        finally:
            with self._cond:
                self._opening -= 1
                if self._opening == 0:
                    self._restore()
                    self._cond.notify_all()

    def _restore(self) -> None:
        if self._saved is None:
            os.environ.pop(self.VAR, None)
        else:
            os.environ[self.VAR] = self._saved


_FFMPEG_OPTIONS = _FfmpegOptions()


def open_stream(url: str, settings: CaptureSettings) -> cv2.VideoCapture:
    """Open an RTSP stream with explicit open/read timeouts (FFmpeg's defaults are 30 s each)."""
    options = f"rtsp_transport;{settings.transport}" + (f"|{settings.ffmpeg_options}" if settings.ffmpeg_options else "")
    with _FFMPEG_OPTIONS.use(options):
        cap = cv2.VideoCapture(url, cv2.CAP_FFMPEG, [
            cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, int(settings.open_timeout_s * 1000),
            cv2.CAP_PROP_READ_TIMEOUT_MSEC, int(settings.read_timeout_s * 1000)])
    if not cap.isOpened():
        cap.release()
        raise StreamDown(f"cannot open {redact(url)} (refused, unreachable, wrong path or credentials)")
    return cap


class LiveStream(threading.Thread):
    """Reads one RTSP camera into a one-frame slot; `take()` returns the newest unseen frame."""

    def __init__(self, camera: str, url: str, settings: CaptureSettings, detect_fps: float) -> None:
        super().__init__(name=f"stream-{camera}", daemon=True)
        self.camera, self.url, self.settings = camera, url, settings
        self.pacer = Pacer(1e6 / detect_fps)
        self.stats = StreamStats()
        self._halt = threading.Event()
        self._lock = threading.Lock()
        self._slot: Frame | None = None
        self._sessions = 0

    def take(self) -> Frame | None:
        with self._lock:
            frame, self._slot = self._slot, None
        return frame

    def stop(self) -> None:
        self._halt.set()

    @property
    def finished(self) -> bool:
        return False  # a live camera never ends by itself

    def frozen(self) -> bool:
        """No frame for longer than the freeze timeout (checked by the runner; the reader may be blocked)."""
        last = self.stats.last_frame_us
        return last is None or now_us() - last > self.settings.freeze_timeout_s * 1e6

    def run(self) -> None:
        """Connect, read, reconnect until stopped. Backoff grows while the camera stays down and starts
        again from the initial wait once a session has lasted longer than the longest wait."""
        while not self._halt.is_set():
            retry = Retrying(
                retry=retry_if_exception_type(StreamDown),
                wait=(wait_exponential(multiplier=self.settings.backoff_initial_s, max=self.settings.backoff_max_s)
                      + wait_random(0, self.settings.backoff_initial_s)),  # jitter: cameras do not retry in step
                stop=_StopWhen(self._halt),  # forever, until the worker is stopped
                sleep=self._halt.wait,
            )
            try:
                for attempt in retry:
                    with attempt:
                        self._session()
            except RetryError:
                return  # stopped while waiting to reconnect

    def _session(self) -> None:
        """One connection, until the worker is stopped (returns) or the stream fails: StreamDown, except
        after a long session (returns: the next connection attempt starts a fresh backoff)."""
        if self._halt.is_set():  # stopped during the wait: no last attempt
            return
        extra = {"camera": self.camera}
        self._sessions += 1
        if self._sessions > 1:
            self.stats.reconnects += 1
            log.info("reconnecting", extra={**extra, "attempt": self._sessions})
        try:
            cap = open_stream(self.url, self.settings)
        except StreamDown as e:
            self._down(str(e))
            raise
        opened = time.monotonic()
        try:
            self.stats.online, self.stats.error = True, None
            log.info("stream open", extra={**extra, "url": redact(self.url)})
            why = self._read(cap)
        finally:
            cap.release()
        if why is not None:
            down = self._down(why)
            if time.monotonic() - opened < self.settings.backoff_max_s:
                raise down

    def _read(self, cap: cv2.VideoCapture) -> str | None:
        """Deliver frames until stopped (None) or the stream fails (why)."""
        last_ok = time.monotonic()
        while not self._halt.is_set():
            asked = time.monotonic()
            ok, image = cap.read()
            now = time.monotonic()
            if not ok or image is None:
                return "stream closed by the camera or network"
            # a read that ran into the read timeout returns the decoder's leftovers, not a new frame
            if now - asked < 0.9 * self.settings.read_timeout_s:
                last_ok = now
                self._deliver(image)
            elif now - last_ok > self.settings.freeze_timeout_s:
                return f"stream frozen: no new frame for {now - last_ok:.1f} s"
        return None

    def _deliver(self, image: np.ndarray) -> None:
        ts = now_us()
        s = self.stats
        s.received += 1
        s.last_frame_us = ts
        s.height, s.width = image.shape[:2]
        if not self.pacer.due(ts):
            return
        s.wanted += 1
        with self._lock:
            if self._slot is not None:
                s.dropped += 1
            self._slot = Frame(self.pacer.tick, ts, image)

    def _down(self, why: str) -> StreamDown:
        self.stats.online, self.stats.error = False, why
        log.warning("stream down", extra={"camera": self.camera, "error": why})
        return StreamDown(why)


class FileStream:
    """A recorded file as a camera: every frame in order (no drops), then finished."""

    def __init__(self, camera: str, path: str) -> None:
        self.camera = camera
        self.source = FileSource(path)
        self._frames = iter(self.source)
        self.stats = StreamStats(online=True, width=self.source.width, height=self.source.height)
        self.finished = False

    def take(self) -> Frame | None:
        frame = next(self._frames, None)
        if frame is None:
            self.finished, self.stats.online = True, False
            return None
        self.stats.received += 1
        self.stats.last_frame_us = frame.ts_us
        return frame

    def frozen(self) -> bool:
        return False

    def start(self) -> None:
        """Files need no reader thread."""

    def stop(self) -> None:
        self.source.close()

    def join(self, timeout: float | None = None) -> None:
        """Nothing to wait for."""
