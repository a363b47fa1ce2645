"""Ground truth from MOTChallenge files: boxes per frame, and crossings by the counter's own line rules.

Rows are `frame,id,bb_left,bb_top,bb_width,bb_height,flag,...`; rows with flag 0 are ignored. MOT16 files have
a ninth column, the visible fraction of the person (MOT15's have ten: world coordinates, no visibility).
For each id, the bottom centres of successive annotated frames form its path; a step p -> q that passes through
a line's segment is a crossing at q's frame, "in" when q is on the right-hand side.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from edge.counting.line import Line
from edge.errors import UserError
from edge.records import Direction

Path_ = list[tuple[int, float, float]]  # (frame, foot x, foot y), by frame


@dataclass(frozen=True)
class GtBox:
    """One annotated person on one frame."""

    track_id: int
    xyxy: tuple[float, float, float, float]
    visibility: float = 1.0


@dataclass(frozen=True)
class GtCrossing:
    """One labelled passage of track `track_id` over `line`, at the first frame on the new side."""

    line: str
    direction: Direction
    track_id: int
    frame: int


def load_boxes(path: Path, scale: float = 1.0) -> dict[int, list[GtBox]]:
    """{frame: [GtBox]} of the rows with a non-zero flag; a one-line UserError for a missing or malformed file."""
    boxes: dict[int, list[GtBox]] = defaultdict(list)
    try:
        with open(path, newline="") as f:
            for n, row in enumerate(csv.reader(f), start=1):
                if not row or not "".join(row).strip():
                    continue
                try:
                    frame, tid = int(float(row[0])), int(float(row[1]))
                    x, y, w, h = (float(v) * scale for v in row[2:6])
                    flag = int(float(row[6])) if len(row) > 6 else 1
                    visibility = float(row[8]) if len(row) == 9 else 1.0
                except (ValueError, IndexError):
                    raise UserError(f"ground truth {path} line {n} is malformed: expected "
                                    "frame,id,bb_left,bb_top,bb_width,bb_height,flag,...") from None
                if w <= 0 or h <= 0:
                    raise UserError(f"ground truth {path} line {n} has a box of width {w:g} and height {h:g}: "
                                    "expected a MOTChallenge file with positive box sizes")
                if flag != 0:
                    boxes[frame].append(GtBox(tid, (x, y, x + w, y + h), visibility))
    except OSError as e:
        raise UserError(f"cannot read ground truth {path}: {e.strerror}: give a MOTChallenge gt.txt") from None
    return dict(boxes)


def paths(boxes: dict[int, list[GtBox]]) -> dict[int, Path_]:
    """Each id's foot points (bottom centre of its box), in frame order."""
    out: dict[int, Path_] = defaultdict(list)
    for frame in sorted(boxes):
        for b in boxes[frame]:
            out[b.track_id].append((frame, (b.xyxy[0] + b.xyxy[2]) / 2, b.xyxy[3]))
    return dict(out)


def load_tracks(path: Path, scale: float = 1.0) -> dict[int, Path_]:
    """{id: [(frame, foot x, foot y), ...] sorted by frame} from a MOTChallenge file."""
    return paths(load_boxes(path, scale))


def gt_crossings(tracks: dict[int, Path_], lines: list[Line]) -> list[GtCrossing]:
    """Every crossing of every line by every track, in frame order."""
    out = []
    for tid, pts in tracks.items():
        for (_, px, py), (frame, qx, qy) in zip(pts, pts[1:]):
            for line in lines:
                if line.crosses((px, py), (qx, qy)):
                    direction = Direction.IN if line.signed_distance(qx, qy) > 0 else Direction.OUT
                    out.append(GtCrossing(line.name, direction, tid, frame))
    return sorted(out, key=lambda c: (c.frame, c.line, c.track_id))
