"""What the cameras page shows, read from the running box: per camera its status, rates, drops, last crossing,
today's counts per line (from the buffer), lines, the people tracked on the newest frame, recent crossings;
and that frame as JPEG. Nothing here carries a camera's source URL: errors are masked with edge.secrets.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections import deque
from datetime import datetime
from pathlib import Path
from typing import Any

import cv2

from edge.records import now_us
from edge.run.loop import Camera, Runner
from edge.secrets import mask

JPEG_QUALITY = 80


def today_start_us() -> int:
    """Midnight of the box's local day, UTC microseconds: 'today' as the people on site mean it."""
    midnight = datetime.now().astimezone().replace(hour=0, minute=0, second=0, microsecond=0)
    return int(midnight.timestamp() * 1_000_000)


class Rates:
    """Frames/s received and processed per camera over the last few seconds, from the runner's counters."""

    def __init__(self, span_s: float = 5.0) -> None:
        self.span_s = span_s
        self._samples: dict[str, deque[tuple[float, int, int]]] = {}

    def update(self, cam: Camera) -> tuple[float | None, float | None]:
        now = time.monotonic()
        samples = self._samples.setdefault(cam.name, deque())
        samples.append((now, cam.stream.stats.received, cam.processed))
        while len(samples) > 2 and samples[1][0] <= now - self.span_s:
            samples.popleft()
        t0, rec0, proc0 = samples[0]
        if now - t0 < 0.5:
            return None, None
        return round((cam.stream.stats.received - rec0) / (now - t0), 1), round((cam.processed - proc0) / (now - t0), 1)


class BoxState:
    """The page's view of one running box; `snapshot()` is cached for `ttl_s` (many open pages cost as one)."""

    def __init__(self, runner: Runner, ttl_s: float = 0.5) -> None:
        self.runner, self.ttl_s = runner, ttl_s
        self.rates = Rates()
        self._lock = threading.Lock()
        self._cached: tuple[float, dict[str, Any]] | None = None
        self._jpeg: dict[str, tuple[int, bytes]] = {}  # camera -> (frame index, JPEG of it)
        self._last_stored: dict[str, int | None] | None = None
        path = Path(runner.config.buffer.path)
        self._conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1.0, check_same_thread=False)

    def close(self) -> None:
        self._conn.close()

    def camera(self, name: str) -> Camera | None:
        return next((c for c in self.runner.cameras if c.name == name), None)

    def jpeg(self, cam: Camera) -> bytes | None:
        """The camera's newest processed frame as JPEG (encoded once per frame, whoever asks)."""
        view = cam.view
        if view is None:
            return None
        with self._lock:
            cached = self._jpeg.get(cam.name)
            if cached is None or cached[0] != view.frame.index:
                ok, data = cv2.imencode(".jpg", view.frame.image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
                if not ok:
                    return None
                cached = self._jpeg[cam.name] = (view.frame.index, data.tobytes())
        return cached[1]

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            now = time.monotonic()
            if self._cached is None or now - self._cached[0] >= self.ttl_s:
                self._cached = (now, self._build())
            return self._cached[1]

    def _build(self) -> dict[str, Any]:
        since = today_start_us()
        if self._last_stored is None:  # once: the last crossing stored before this edge run
            self._last_stored = {c.name: self._one("SELECT MAX(ts_us) FROM crossings WHERE camera = ?", c.name)
                                 for c in self.runner.cameras}
        return {"device_id": self.runner.config.device_id, "now_us": now_us(),
                "cameras": [self._camera(c, since) for c in self.runner.cameras]}

    def _one(self, sql: str, *args: object) -> Any:
        try:
            row = self._conn.execute(sql, args).fetchone()
        except sqlite3.Error:  # not created yet, or busy: shown as unknown
            return None
        return row[0] if row else None

    def _today(self, cam: Camera, line: str, since: int) -> dict[str, int]:
        try:
            n_in, n_out = self._conn.execute(
                "SELECT COALESCE(SUM(count_in), 0), COALESCE(SUM(count_out), 0) FROM minute_counts "
                "WHERE camera = ? AND line = ? AND minute_us >= ?", (cam.name, line, since)).fetchone()
        except sqlite3.Error:
            n_in = n_out = 0
        return {"in": n_in, "out": n_out}

    def _camera(self, cam: Camera, since: int) -> dict[str, Any]:
        stats = cam.stream.stats
        fps_in, fps_processed = self.rates.update(cam)
        view = cam.view
        people = []
        if view is not None:
            for tid, (x1, y1, x2, y2) in zip(view.tracks.track_id.tolist(), view.tracks.xyxy.tolist()):
                people.append({"id": tid, "box": [round(v, 1) for v in (x1, y1, x2, y2)],
                               "foot": [round((x1 + x2) / 2, 1), round(y2, 1)]})
        recent = list(cam.recent)
        last = recent[-1].ts_us if recent else (self._last_stored or {}).get(cam.name)
        height, width = view.frame.image.shape[:2] if view is not None else (stats.height, stats.width)
        return {
            "name": cam.name,
            "status": cam.live_status().value,
            "error": mask(stats.error, cam.source) if stats.error else None,
            "fps_in": fps_in,
            "fps_processed": fps_processed,
            "frames_received": stats.received,
            "frames_processed": cam.processed,
            "drops": stats.dropped,
            "drop_rate": round(stats.dropped / stats.wanted, 4) if stats.wanted else 0.0,
            "reconnects": stats.reconnects,
            "last_crossing_us": last,
            "width": width,
            "height": height,
            "frame": view.frame.index if view is not None else None,
            "frame_ts_us": view.frame.ts_us if view is not None else None,
            "lines": [{"name": ln.name, "a": [ln.x1, ln.y1], "b": [ln.x2, ln.y2]} for ln in cam.pipeline.lines],
            "today": {ln.name: self._today(cam, ln.name, since) for ln in cam.pipeline.lines},
            "people": people,
            "recent": [{"line": e.line, "direction": e.direction.value, "ts_us": e.ts_us, "track_id": e.track_id}
                       for e in recent],
        }
