"""Count a recorded video end to end: decode -> detect -> track -> count -> (buffer)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from edge.config import CounterSettings, MotionSettings, TrackerSettings
from edge.counting.line import Line, check_lines
from edge.counting.pipeline import CameraPipeline
from edge.records import CrossingEvent, now_us
from edge.run.parallel import ordered_map, prefetch
from edge.store.buffer import Buffer
from edge.video.file import FileSource
from edge.vision.detector import Detector
from edge.vision.motion import MotionGate

log = logging.getLogger("edge.count")


@dataclass
class CountResult:
    frames: int
    seconds: float
    video_fps: float
    lines: dict[str, dict[str, int]]
    events: list[CrossingEvent] = field(default_factory=list)

    @property
    def fps(self) -> float:
        """Frames processed per second of wall time, end to end."""
        return self.frames / self.seconds if self.seconds > 0 else 0.0


def count_video(video: Path, lines: list[Line], detector: Detector, *, device_id: str, camera: str = "video",
                buffer: Buffer | None = None, tracker: TrackerSettings = TrackerSettings(),
                counter: CounterSettings = CounterSettings(), motion: MotionSettings = MotionSettings(),
                on_frame: Callable[[int], None] | None = None, workers: int = 1) -> CountResult:
    """Process every frame of `video`; crossings go to `buffer` (one transaction per frame) if given.

    Decoding runs ahead in a thread and `workers` frames are detected at once; tracking and counting take
    the results in frame order, through the motion gate as `edge run` would (so a recorded file counts as the
    live box counts it).
    """
    source = FileSource(video)
    try:
        check_lines(lines, source.width, source.height)
        pipe = CameraPipeline(device_id, camera, lines, detector.name, tracker, counter, source.fps)
        gate = MotionGate(motion, lines, source.fps)
        events: list[CrossingEvent] = []
        frames, ts_us = 0, source.start_us

        def keep(new: list[CrossingEvent]) -> None:
            if not new:
                return
            if buffer is not None:
                buffer.record_frame(new, now_us())
            for e in new:
                log.info("crossing", extra={"camera": camera, "line": e.line, "direction": e.direction,
                                            "track": e.track_id, "frame": e.frame})
            events.extend(new)

        start = time.perf_counter()
        detected = ordered_map(prefetch(iter(source), lambda f: f), lambda f: (f, detector(f.image)), workers)
        for frame, dets in detected:
            if gate.needs_detection(frame.image, frame.index, pipe.tracks):
                if (region := gate.region) is not None:  # as `edge run`: only a crop is detected
                    dets = detector.region(frame.image, region)
                keep(pipe.step(dets, frame.index, frame.ts_us, region))
            frames, ts_us = frame.index, frame.ts_us
            if on_frame is not None:
                on_frame(frames)
        keep(pipe.finish(ts_us))  # crossings still held when the file ends
        seconds = time.perf_counter() - start
    finally:
        source.close()
    return CountResult(frames, seconds, source.fps, pipe.totals, events)
