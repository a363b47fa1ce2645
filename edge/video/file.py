"""Frame sources. A source yields `Frame`s; recorded files are read in full, frame by frame."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from edge.errors import EdgeError
from edge.records import now_us


@dataclass(frozen=True)
class Frame:
    """A decoded frame: 1-based index in its source, UTC capture time (microseconds), BGR pixels."""

    index: int
    ts_us: int
    image: np.ndarray


class FileSource:
    """Every frame of a video file, timestamped from the moment it was opened at the file's frame rate."""

    def __init__(self, path: Path, start_us: int | None = None) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise EdgeError(f"video file {self.path} does not exist: give the path to a video file")
        self.cap = cv2.VideoCapture(str(self.path))
        ok, first = self.cap.read() if self.cap.isOpened() else (False, None)
        if not ok or first is None:
            self.cap.release()
            raise EdgeError(f"video file {self.path} cannot be decoded: it is not a video OpenCV/FFmpeg can read")
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
