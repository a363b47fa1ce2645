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
import threading
import time

import cv2
import numpy as np
from tenacity import RetryError, Retrying, retry_if_exception_type, stop_when_event_set, wait_exponential, wait_random

from edge.config import CaptureSettings
from edge.records import now_us
from edge.secrets import mask_url
from edge.video.ffmpeg import StreamDown, open_stream
from edge.video.pacer import Pacer
from edge.video.source import Frame, StreamStats

log = logging.getLogger("edge.stream")


class LiveStream(threading.Thread):
    """Reads one RTSP camera into a one-frame slot; `take()` returns the newest unseen frame."""

    def __init__(self, camera: str, url: str, settings: CaptureSettings, detect_fps: float) -> None:
        super().__init__(name=f"stream-{camera}", daemon=True)
        self.camera, self.url, self.settings = camera, url, settings
        self.rate_hz = detect_fps
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
                stop=stop_when_event_set(self._halt),  # forever, until the worker is stopped
                sleep=self._halt.wait,  # type: ignore[arg-type]  # its bool is ignored
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
            log.info("stream open", extra={**extra, "url": mask_url(self.url)})
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
