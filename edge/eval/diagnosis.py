"""Why a labelled crossing was missed: not detected, lost by the tracker, or not counted by the counter (pure).

Each missed crossing (person P over a line at frame f) is put in the first class that fits:
- not detected: P's box is covered by a detection (IoU >= 0.5, and no other labelled person overlaps that
  detection more) on fewer than half of the processed frames in the half second before f, or in the half
  second from f on. The tracker cannot follow what it is not given.
- lost by the tracker: detected, but no single confirmed track covers P (IoU >= 0.5) both on a frame within
  the match window before f and on one within it from f on (an ID switch, a track lost while occluded, a
  track confirmed only after the line).
- not counted: one track followed P across, yet no matching event was counted (band, hold, relinking,
  segment ends, or an event later than the match window).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from edge.eval.groundtruth import GtBox, GtCrossing
from edge.vision.detections import Detections, Tracks, iou_matrix

COVER_IOU = 0.5


class Miss(StrEnum):
    NOT_DETECTED = "not detected"
    LOST_BY_TRACKER = "lost by the tracker"
    NOT_COUNTED = "not counted"


@dataclass(frozen=True)
class Frames:
    """What evaluation saw of a sequence, by frame number: labels, detections, confirmed tracks."""

    truth: Mapping[int, list[GtBox]]
    detections: Mapping[int, Detections]
    tracks: Mapping[int, Tracks]


def _person(boxes: list[GtBox], track_id: int) -> GtBox | None:
    return next((b for b in boxes if b.track_id == track_id), None)


def _covered(frames: Frames, frame: int, track_id: int) -> bool | None:
    """Whether a detection covers the person on `frame` (None: not processed there, or not labelled)."""
    boxes, dets = frames.truth.get(frame, []), frames.detections.get(frame)
    person = _person(boxes, track_id)
    if person is None or dets is None:
        return None
    if len(dets) == 0:
        return False
    iou = iou_matrix(np.array([b.xyxy for b in boxes], np.float32), dets.xyxy)
    me = next(i for i, b in enumerate(boxes) if b is person)
    best_person = iou.argmax(axis=0)  # whom each detection overlaps most
    return bool(((iou[me] >= COVER_IOU) & (best_person == me)).any())


def _track_ids(frames: Frames, frame: int, track_id: int) -> set[int]:
    """Ids of the confirmed tracks covering the person on `frame`."""
    person, tracks = _person(frames.truth.get(frame, []), track_id), frames.tracks.get(frame)
    if person is None or tracks is None or len(tracks) == 0:
        return set()
    iou = iou_matrix(np.array([person.xyxy], np.float32), tracks.xyxy)[0]
    return {int(t) for t in tracks.track_id[iou >= COVER_IOU]}


def classify(crossing: GtCrossing, frames: Frames, window: int) -> Miss:
    """The kind of a missed crossing; `window` is the match window in frames (1 s of video)."""
    f, person, half = crossing.frame, crossing.track_id, max(1, window // 2)
    for side in (range(f - half, f), range(f, f + half + 1)):
        seen = [c for c in (_covered(frames, g, person) for g in side) if c is not None]
        if not seen or sum(seen) * 2 < len(seen):
            return Miss.NOT_DETECTED
    before = set().union(*(_track_ids(frames, g, person) for g in range(f - window, f)))
    after = set().union(*(_track_ids(frames, g, person) for g in range(f, f + window + 1)))
    return Miss.NOT_COUNTED if before & after else Miss.LOST_BY_TRACKER
