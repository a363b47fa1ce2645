"""Recorded video files: read in full, frame by frame, as a source of their own or as a camera."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from edge.errors import UserError
from edge.records import now_us
from edge.video.source import Frame, StreamStats


class FileSource:
    """Every frame of a video file, timestamped from the moment it was opened at the file's frame rate."""

    def __init__(self, path: Path, start_us: int | None = None) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise UserError(f"video file {self.path} does not exist: give the path to a video file")
        self.cap = cv2.VideoCapture(str(self.path))
        ok, first = self.cap.read() if self.cap.isOpened() else (False, None)
        if not ok or first is None:
            self.cap.release()
            raise UserError(f"video file {self.path} cannot be decoded: it is not a video OpenCV/FFmpeg can read")
        self._first: np.ndarray | None = first
        fps = self.cap.get(cv2.CAP_PROP_FPS)
        self.fps = fps if fps and 0 < fps < 1000 else 25.0
        self.frame_count = int(self.cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        self.height, self.width = first.shape[:2]
        self.start_us = now_us() if start_us is None else start_us

    def __iter__(self) -> Iterator[Frame]:
        index = 0
        while True:
            if self._first is not None:
                image, self._first = self._first, None
            else:
                ok, image = self.cap.read()
                if not ok:
                    return
            index += 1
            yield Frame(index, self.start_us + round((index - 1) * 1e6 / self.fps), image)

    def close(self) -> None:
        self.cap.release()


class FileStream:
    """A recorded file as a camera: every frame in order (no drops), then finished."""

    def __init__(self, camera: str, path: str) -> None:
        self.camera = camera
        self.source = FileSource(Path(path))
        self.rate_hz = self.source.fps
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
