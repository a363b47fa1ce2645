"""Opening a camera through OpenCV's FFmpeg backend: explicit timeouts, and the process-wide options lock."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import cv2

from edge.config import CaptureSettings
from edge.secrets import mask_url
from edge.video.rtsp_probe import probe


class StreamDown(Exception):
    """The stream could not be opened or stopped delivering frames."""


class FfmpegOptions:
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


_FFMPEG_OPTIONS = FfmpegOptions()
PROBE_S = 1.0  # how long a failed open's diagnosis may wait for the camera's answer


def open_stream(url: str, settings: CaptureSettings) -> cv2.VideoCapture:
    """Open an RTSP stream with explicit open/read timeouts (FFmpeg's defaults are 30 s each)."""
    options = f"rtsp_transport;{settings.transport}" + (
        f"|{settings.ffmpeg_options}" if settings.ffmpeg_options else ""
    )
    with _FFMPEG_OPTIONS.use(options):
        cap = cv2.VideoCapture(
            url,
            cv2.CAP_FFMPEG,
            [
                cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
                int(settings.open_timeout_s * 1000),
                cv2.CAP_PROP_READ_TIMEOUT_MSEC,
                int(settings.read_timeout_s * 1000),
            ],
        )
    if not cap.isOpened():
        cap.release()
        # the open already waited its timeout: ask the camera why briefly, so a stopping box is not held up
        raise StreamDown(diagnose(url, min(settings.open_timeout_s, PROBE_S)))
    return cap


def diagnose(url: str, timeout_s: float) -> str:
    """Why `url` did not open, asked of the camera itself (nothing listens, no answer, not RTSP, 401, 404)."""
    return probe(url, timeout_s).problem or (
        f"{mask_url(url)} answered but gave no picture: check the stream settings on the camera "
        "(codec H.264/H.265) and [capture] transport")
