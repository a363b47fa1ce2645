"""Line-crossing counting on tracked people: hysteresis, segment-only, re-born track linking.

Each track's bottom-centre point is followed per line. A side is *confirmed* only when the
point is at least `band` pixels from the line (band = max(min_band_px, band_frac x box height)),
so feet jittering on the line never flip sides; a track first seen inside the band starts on the
side it is on (else people who appear on the line would never be counted). A crossing is counted
when the confirmed side changes and the move from the last point confirmed on the old side to the
new point passes through the segment. Its frame is the one on which the point last changed sides,
band or not (when the feet crossed, not when the band was cleared). The crossing is held for
`hold_s`: if the track is confirmed back on the old side within them (a box that jumps over
the line and back, e.g. when it briefly covers two people), neither move is counted; otherwise
it is returned.
A new track born near where another track of similar height was lost shortly before inherits
that track's sides, so an ID switch neither double-counts nor loses a passage.
Tracks unseen for longer than `forget_s` are evicted: memory stays bounded. Frame numbers count periods
of the source's frame clock (`rate_hz`: a file's frame rate, a live camera's detect_fps), so the windows
are the same durations whatever the rate.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from edge.config import CounterSettings, frames
from edge.counting.line import Line
from edge.records import Direction
from edge.vision.detections import Tracks, bottom_centre


@dataclass(frozen=True)
class Crossing:
    """One counted passage of one track over one line; `frame` is when the feet crossed it."""

    line: str
    direction: Direction
    track_id: int
    frame: int
    score: float


@dataclass
class _Side:
    side: int                     # +1 right-hand ("in" side), -1 left-hand
    anchor: tuple[float, float]   # last point confirmed on that side
    raw: int                      # side of the latest point, inside the band or not ...
    since: int                    # ... and the frame it got there


@dataclass
class _Memory:
    point: tuple[float, float]
    height: float
    last_frame: int
    sides: dict[str, _Side] = field(default_factory=dict)
    held: dict[str, tuple[int, Crossing]] = field(default_factory=dict)  # per line: (frame seen, crossing)


class LineCounter:
    """Counts crossings of several named lines for one camera."""

    def __init__(self, lines: list[Line], settings: CounterSettings = CounterSettings(), rate_hz: float = 10.0) -> None:
        self.lines = lines
        self.settings = settings
        self.hold_frames = frames(settings.hold_s, rate_hz)
        self.relink_frames = frames(settings.relink_s, rate_hz)
        self.forget_frames = max(1, frames(settings.forget_s, rate_hz))
        self.totals: dict[str, dict[str, int]] = {ln.name: {d: 0 for d in Direction} for ln in lines}
        self._mem: dict[int, _Memory] = {}

    @property
    def tracked_states(self) -> int:
        """Number of tracks held in memory (bounded by forget_s)."""
        return len(self._mem)

    def update(self, tracks: Tracks, frame: int) -> list[Crossing]:
        """Feed one frame's confirmed tracks; returns the crossings whose hold ends on this frame."""
        points = bottom_centre(tracks.xyxy) if len(tracks) else np.zeros((0, 2))
        heights = tracks.xyxy[:, 3] - tracks.xyxy[:, 1] if len(tracks) else np.zeros(0)
        seen = set(tracks.track_id.tolist())
        for tid, (x, y), h, score in zip(tracks.track_id.tolist(), points.tolist(), heights.tolist(),
                                         tracks.score.tolist()):
            mem = self._mem.get(tid) or self._adopt(tid, (x, y), float(h), frame, seen)
            mem.point, mem.height, mem.last_frame = (x, y), float(h), frame
            band = max(self.settings.min_band_px, self.settings.band_frac * h)
            for line in self.lines:
                d = line.signed_distance(x, y)
                side = 1 if d > 0 else -1
                state = mem.sides.get(line.name)
                if state is not None and state.raw != side:
                    state.raw, state.since = side, frame
                if abs(d) < band:
                    if state is None and self.settings.first_side_in_band:
                        mem.sides[line.name] = _Side(side, (x, y), side, frame)
                    continue
                since = frame if state is None else state.since
                if state is not None and state.side != side and line.crosses(state.anchor, (x, y)):
                    # back over the line before the hold ran out: drop both moves
                    if mem.held.pop(line.name, None) is None:
                        c = Crossing(line.name, Direction.IN if side > 0 else Direction.OUT, tid, since, score)
                        mem.held[line.name] = (frame, c)
                mem.sides[line.name] = _Side(side, (x, y), side, since)
        return self._settle(frame)

    def flush(self) -> list[Crossing]:
        """Count every crossing still held (the source has ended: nobody can go back over a line)."""
        done = [c for m in self._mem.values() for _, c in m.held.values()]
        for m in self._mem.values():
            m.held.clear()
        for c in done:
            self.totals[c.line][c.direction] += 1
        return sorted(done, key=lambda c: c.frame)

    def replace_lines(self, lines: list[Line]) -> list[Crossing]:
        """Count against `lines` from the next frame on (a line edited while running). A line kept as it was keeps
        its state. Crossings held on a line that moves or goes are counted now (they happened on its old
        geometry, so none is lost), and the sides measured against it are forgotten: on the new geometry each
        person starts from the side they are on, so nobody is counted for a line that moved under their feet."""
        kept = {ln.name for ln in lines if ln in self.lines}
        done = []
        for m in self._mem.values():
            for name in [n for n in m.held if n not in kept]:
                done.append(m.held.pop(name)[1])
            for name in [n for n in m.sides if n not in kept]:
                del m.sides[name]
        for c in done:
            self.totals[c.line][c.direction] += 1
        self.lines = lines
        for ln in lines:
            self.totals.setdefault(ln.name, {d: 0 for d in Direction})
        return sorted(done, key=lambda c: c.frame)

    def _adopt(self, tid: int, point: tuple[float, float], height: float, frame: int, alive: set[int]) -> _Memory:
        """Memory for a new track: inherited from the nearest recently lost track, else fresh."""
        s = self.settings
        best, best_d = None, float("inf")
        for other_id, m in self._mem.items():
            if other_id in alive or frame - m.last_frame > self.relink_frames:
                continue
            d = float(np.hypot(point[0] - m.point[0], point[1] - m.point[1]))
            low, high = sorted((height, m.height))
            if d <= s.relink_dist * high and low >= s.relink_height * high and d < best_d:
                best, best_d = other_id, d
        mem = self._mem.pop(best) if best is not None else _Memory(point, height, frame)
        self._mem[tid] = mem
        return mem

    def _settle(self, frame: int) -> list[Crossing]:
        """Count the crossings whose hold has run out; evict tracks unseen for `forget_s`."""
        done, stale = [], []
        for tid, m in self._mem.items():
            for name, (seen, c) in list(m.held.items()):
                if frame - seen >= self.hold_frames:
                    del m.held[name]
                    self.totals[name][c.direction] += 1
                    done.append(c)
            if frame - m.last_frame > self.forget_frames:
                stale.append(tid)
        for tid in stale:
            del self._mem[tid]
        return done
