"""Ground-truth crossings from MOTChallenge tracks, with the counter's own line rules.

Rows are `frame,id,bb_left,bb_top,bb_width,bb_height,flag,...`; rows with flag 0 are ignored.
For each id, the bottom centres of successive annotated frames form its path; a step p -> q that
passes through a line's segment is a crossing at q's frame, "in" when q is on the right-hand side.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from edge.counting.line import Line
from edge.errors import UserError
from edge.records import Direction


@dataclass(frozen=True)
class GtCrossing:
    """One labelled passage of track `track_id` over `line`, at the first frame on the new side."""

    line: str
    direction: Direction
    track_id: int
    frame: int


def load_tracks(path: Path, scale: float = 1.0) -> dict[int, list[tuple[int, float, float]]]:
    """{id: [(frame, foot x, foot y), ...] sorted by frame} from a MOTChallenge file."""
    tracks: dict[int, list[tuple[int, float, float]]] = defaultdict(list)
    try:
        with open(path, newline="") as f:
            for n, row in enumerate(csv.reader(f), start=1):
                if not row or not "".join(row).strip():
                    continue
                try:
                    frame, tid = int(float(row[0])), int(float(row[1]))
                    x, y, w, h = (float(v) * scale for v in row[2:6])
                    flag = int(float(row[6])) if len(row) > 6 else 1
                except (ValueError, IndexError):
                    raise UserError(f"ground truth {path} line {n} is malformed: expected "
                                    "frame,id,bb_left,bb_top,bb_width,bb_height,flag,...") from None
                if flag != 0:
                    tracks[tid].append((frame, x + w / 2, y + h))
    except OSError as e:
        raise UserError(f"cannot read ground truth {path}: {e.strerror}: give a MOTChallenge gt.txt") from None
    return {tid: sorted(pts) for tid, pts in tracks.items()}


def gt_crossings(tracks: dict[int, list[tuple[int, float, float]]], lines: list[Line]) -> list[GtCrossing]:
    """Every crossing of every line by every track, in frame order."""
    out = []
    for tid, pts in tracks.items():
        for (_, px, py), (frame, qx, qy) in zip(pts, pts[1:]):
            for line in lines:
                if line.crosses((px, py), (qx, qy)):
                    direction = Direction.IN if line.signed_distance(qx, qy) > 0 else Direction.OUT
                    out.append(GtCrossing(line.name, direction, tid, frame))
    return sorted(out, key=lambda c: (c.frame, c.line, c.track_id))
