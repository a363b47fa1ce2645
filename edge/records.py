"""Records the box writes to its buffer (and the sync agent delivers), and the closed sets their fields take.

Records are built by keyword (`kw_only`): with 10-14 fields, a positional mix-up would go unnoticed.
"""

from __future__ import annotations

import os
import time
import uuid
from dataclasses import dataclass
from enum import StrEnum


class Direction(StrEnum):
    """Which way a line was crossed: into its right-hand side (looking from A to B) or out of it."""

    IN = "in"
    OUT = "out"


class CameraStatus(StrEnum):
    ONLINE = "online"
    DEGRADED = "degraded"   # frames come, but many are dropped or it reconnected
    OFFLINE = "offline"


def uuid7(ts_us: int) -> str:
    """A time-ordered UUIDv7 (RFC 9562) for a UTC timestamp in microseconds: index-friendly centrally."""
    ms = ts_us // 1000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | (rand >> 68 & 0xFFF) << 64 | 0b10 << 62 | rand & ((1 << 62) - 1)
    return str(uuid.UUID(int=value))


def now_us() -> int:
    return time.time_ns() // 1000


@dataclass(frozen=True, kw_only=True)
class CrossingEvent:
    """One crossing as stored: who, where, which way, when (frame capture time, UTC microseconds)."""

    event_id: str
    device_id: str
    camera: str
    line: str
    direction: Direction
    track_id: int
    ts_us: int
    frame: int
    score: float
    model: str


@dataclass(frozen=True, kw_only=True)
class CameraHealth:
    """A camera's state over the last health interval."""

    ts_us: int
    device_id: str
    camera: str
    status: CameraStatus
    fps_in: float
    fps_processed: float
    drop_rate: float
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    reconnects: int
    last_frame_us: int | None
    width: int | None
    height: int | None
    error: str | None
    detected_share: float | None = None  # processed frames the motion gate sent to the detector


@dataclass(frozen=True, kw_only=True)
class BoxHealth:
    ts_us: int
    device_id: str
    cpu_percent: float
    mem_mb: float
    buffer_bytes: int
    pending_rows: int


@dataclass(frozen=True, kw_only=True)
class LineVersion:
    """A counting line's geometry from `ts_us` on (UTC microseconds), until its next version; `active` False:
    removed at `ts_us` (the geometry is the one it had)."""

    ts_us: int
    device_id: str
    camera: str
    line: str
    x1: float
    y1: float
    x2: float
    y2: float
    active: bool
