"""One camera's chain after detection: track -> count -> crossing records."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

from edge.config import CounterSettings, TrackerSettings
from edge.counting.crossing import Crossing, LineCounter
from edge.counting.line import Line
from edge.records import CrossingEvent, uuid7
from edge.vision.detections import Detections, Region, Tracks, within
from edge.vision.tracker import ByteTracker


@dataclass
class CameraPipeline:
    """Turns detections of successive frames of one camera into crossing events."""

    device_id: str
    camera: str
    lines: list[Line]
    model: str
    tracker_settings: TrackerSettings = field(default_factory=TrackerSettings)
    counter_settings: CounterSettings = field(default_factory=CounterSettings)
    rate_hz: float = 10.0  # frames numbered per second: a file's frame rate, a live camera's detect_fps

    def __post_init__(self) -> None:
        self.tracker = ByteTracker(self.tracker_settings, self.rate_hz)
        self.counter = LineCounter(self.lines, self.counter_settings, self.rate_hz)
        # the confirmed tracks of the last frame (after a crop: those outside it as last seen): what evaluation,
        # pictures and the motion gate go by
        self.tracks = Tracks.empty()
        # capture times of recent frames: a crossing is reported a few frames after the one it happened on
        self._times: OrderedDict[int, int] = OrderedDict()

    def step(self, dets: Detections, frame: int, ts_us: int, region: Region | None = None) -> list[CrossingEvent]:
        """`region`: the part of the frame `dets` come from (None: all of it); only its people are followed."""
        self._times[frame] = ts_us
        if len(self._times) > self.counter.forget_frames:
            self._times.popitem(last=False)
        seen = self.tracker.update(dets, frame, region)
        crossings = self.counter.update(seen, frame)  # only people looked at are counted
        self.tracks = seen if region is None else seen.plus(self.tracks[~within(self.tracks.xyxy, region)])
        return [self._event(c, ts_us) for c in crossings]

    def finish(self, ts_us: int) -> list[CrossingEvent]:
        """At the end of a finite source: the crossings the counter still holds, as events."""
        return [self._event(c, ts_us) for c in self.counter.flush()]

    def replace_lines(self, lines: list[Line], ts_us: int) -> list[CrossingEvent]:
        """Count against `lines` from the next frame on; the crossings this settles, as events (LineCounter)."""
        self.lines = lines
        return [self._event(c, ts_us) for c in self.counter.replace_lines(lines)]

    def _event(self, c: Crossing, now_ts_us: int) -> CrossingEvent:
        """The event, stamped with the capture time of the frame the crossing happened on."""
        ts_us = self._times.get(c.frame, now_ts_us)
        return CrossingEvent(event_id=uuid7(ts_us), device_id=self.device_id, camera=self.camera, line=c.line,
                             direction=c.direction, track_id=c.track_id, ts_us=ts_us, frame=c.frame,
                             score=round(c.score, 4), model=self.model)

    @property
    def totals(self) -> dict[str, dict[str, int]]:
        return self.counter.totals
