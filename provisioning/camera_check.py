"""Open a camera with short timeouts, grab one frame, and explain a failure in words an installer can act on."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
import cv2
import numpy as np

from edge.redact import redact
from provisioning.rtsp_probe import probe


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
        return redact(self.source)


def check_camera(name: str, source: str, timeout_s: float = 5.0) -> CameraCheck:
    """Grab one frame from `source` (RTSP URL or file) within about `timeout_s` seconds."""
    result = CameraCheck(name, source)
    is_rtsp = source.lower().startswith(("rtsp://", "rtsps://"))
    if not is_rtsp and not os.path.exists(source):
        result.error = f"camera {name}: {source} is neither an rtsp:// URL nor an existing file: check the source"
        return result
    if is_rtsp:
        os.environ.setdefault("OPENCV_FFMPEG_CAPTURE_OPTIONS", "rtsp_transport;tcp")
    ms = int(timeout_s * 1000)
    start = time.monotonic()
    cap = cv2.VideoCapture(source, cv2.CAP_FFMPEG, [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, ms,
                                                    cv2.CAP_PROP_READ_TIMEOUT_MSEC, ms])
    try:
        ok, frame = cap.read() if cap.isOpened() else (False, None)
        result.seconds = time.monotonic() - start
        if ok and frame is not None:
            result.frame = frame
            result.fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
            return result
    finally:
        cap.release()
    why = probe(source, timeout_s).problem if is_rtsp else None
    result.error = f"camera {name}: " + (why or f"{result.shown} opened but gave no frame within {timeout_s:g} s: "
                                         "check the stream settings (codec H.264/H.265) on the camera")
    return result
