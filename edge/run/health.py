"""Health records from stream counters and latency samples (pure: no I/O)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from edge.records import CameraHealth, CameraStatus
from edge.video.source import StreamStats


@dataclass
class HealthWindow:
    """What happened to one camera since its last health record."""

    received: int = 0
    dropped: int = 0
    processed: int = 0      # due frames handled: detected, or held back by the motion gate
    detected: int = 0
    latencies_ms: list[float] = field(default_factory=list)

    def record(self, stats: StreamStats, device_id: str, camera: str, seconds: float, now_us: int,
               frozen: bool, before: StreamStats) -> CameraHealth:
        """A health record over `seconds`, using counter differences against `before`."""
        received = stats.received - before.received
        wanted = stats.wanted - before.wanted
        dropped = stats.dropped - before.dropped
        lat = np.percentile(self.latencies_ms, [50, 95]) if self.latencies_ms else (None, None)
        drop_rate = dropped / wanted if wanted else 0.0
        if frozen or not stats.online:
            status = CameraStatus.OFFLINE
        elif drop_rate > 0.2 or stats.reconnects > before.reconnects:
            status = CameraStatus.DEGRADED
        else:
            status = CameraStatus.ONLINE
        return CameraHealth(
            ts_us=now_us, device_id=device_id, camera=camera, status=status,
            fps_in=round(received / seconds, 2), fps_processed=round(self.processed / seconds, 2),
            drop_rate=round(drop_rate, 4),
            latency_p50_ms=None if lat[0] is None else round(float(lat[0]), 2),
            latency_p95_ms=None if lat[1] is None else round(float(lat[1]), 2),
            reconnects=stats.reconnects, last_frame_us=stats.last_frame_us,
            width=stats.width, height=stats.height,
            error=stats.error or ("stream frozen: no frame within the freeze timeout" if frozen else None),
            detected_share=round(self.detected / self.processed, 4) if self.processed else None)
