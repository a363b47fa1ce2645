"""Open a camera with short timeouts, grab one frame, and explain a failure in words an installer can act on."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import cv2
import numpy as np

from edge.config import CaptureSettings
from edge.secrets import mask_url
from edge.video.ffmpeg import StreamDown, diagnose, open_stream
from edge.video.source import is_live


@dataclass
class CameraCheck:
    name: str
    source: str                 # as given (may hold credentials: never print it, use `shown`)
    frame: np.ndarray | None = None
    fps: float = 0.0
    seconds: float = 0.0
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.frame is not None

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the grabbed frame."""
        assert self.frame is not None
        return self.frame.shape[1], self.frame.shape[0]

    @property
    def shown(self) -> str:
        return mask_url(self.source)


def check_camera(name: str, source: str, timeout_s: float = 5.0) -> CameraCheck:
    """Grab one frame from `source` (RTSP URL or file) within about `timeout_s` seconds."""
    result = CameraCheck(name, source)
    live = is_live(source)
    if not live and not os.path.exists(source):
        result.error = f"camera {name}: {source} is neither an rtsp:// URL nor an existing file: check the source"
        return result
    start = time.monotonic()
    try:  # the same opening and diagnosis as `edge run`'s (transport, timeouts), with the installer's patience
        cap = (open_stream(source, CaptureSettings(open_timeout_s=timeout_s, read_timeout_s=timeout_s,
                                                   freeze_timeout_s=max(timeout_s, 5.0)))
               if live else cv2.VideoCapture(source, cv2.CAP_FFMPEG))
    except StreamDown as e:
        result.error = f"camera {name}: {e}"
        return result
    try:
        ok, frame = cap.read() if cap.isOpened() else (False, None)
        result.seconds = time.monotonic() - start
        if ok and frame is not None:
            result.frame = frame
            result.fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
            return result
    finally:
        cap.release()
    why = diagnose(source, timeout_s) if live else f"{source} is not a video OpenCV can read: check the file"
    result.error = f"camera {name}: {why}"
    return result
