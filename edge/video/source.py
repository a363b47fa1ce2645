"""What every frame source gives the runner: frames, counters, and whether it has ended or frozen."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

LIVE_SCHEMES = ("rtsp://", "rtsps://", "http://", "https://")


def is_live(source: str) -> bool:
    """A camera URL (read live, never ends) rather than a recorded file."""
    return source.lower().startswith(LIVE_SCHEMES)


@dataclass(frozen=True)
class Frame:
    """A decoded frame: 1-based index in its source, UTC capture time (microseconds), BGR pixels."""

    index: int
    ts_us: int
    image: np.ndarray


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


class Source(Protocol):
    """A camera as the runner sees it: `take()` the next due frame (None: none yet, or ended)."""

    camera: str
    stats: StreamStats
    rate_hz: float  # frame numbers per second (a file's frame rate, a live camera's detect_fps): tracking windows

    @property
    def finished(self) -> bool: ...

    def take(self) -> Frame | None: ...

    def frozen(self) -> bool: ...

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def join(self, timeout: float | None = None) -> None: ...
