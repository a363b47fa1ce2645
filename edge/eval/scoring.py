"""Compare counted crossings with ground truth: per line and direction, counts and event-level P/R/F1."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass

from edge.records import Direction


@dataclass(frozen=True)
class Score:
    """Counts of one line and direction (or the total): `matched` counted events met a gt event."""

    line: str
    direction: str               # in, out; "both" on the total row
    gt: int
    counted: int
    matched: int

    @property
    def abs_error(self) -> int:
        return abs(self.counted - self.gt)

    @property
    def false(self) -> int:
        return self.counted - self.matched

    @property
    def missed(self) -> int:
        return self.gt - self.matched

    @property
    def precision(self) -> float:
        return self.matched / self.counted if self.counted else 1.0

    @property
    def recall(self) -> float:
        return self.matched / self.gt if self.gt else 1.0

    @property
    def f1(self) -> float:
        total = self.counted + self.gt
        return 2 * self.matched / total if total else 1.0

    def as_dict(self) -> dict[str, object]:
        return {**asdict(self), "abs_error": self.abs_error, "false": self.false, "missed": self.missed,
                "precision": round(self.precision, 4), "recall": round(self.recall, 4), "f1": round(self.f1, 4)}


def match(gt_frames: list[int], counted_frames: list[int], tolerance: int) -> int:
    """Largest one-to-one matching of events at most `tolerance` frames apart.

    Both lists sorted; pairing the earliest unmatched events first (two pointers) is optimal for
    intervals on a line: it never uses up a partner a later event would need.
    """
    gt, counted = sorted(gt_frames), sorted(counted_frames)
    i = j = matched = 0
    while i < len(gt) and j < len(counted):
        if abs(gt[i] - counted[j]) <= tolerance:
            matched, i, j = matched + 1, i + 1, j + 1
        elif counted[j] < gt[i]:
            j += 1
        else:
            i += 1
    return matched


def evaluate(gt: Iterable[tuple[str, str, int]], counted: Iterable[tuple[str, str, int]],
             lines: list[str], tolerance: int) -> list[Score]:
    """Scores per (line, direction) for `(line, direction, frame)` events, then a total row."""
    gt, counted = list(gt), list(counted)
    rows = []
    for line in lines:
        for direction in Direction:
            g = [f for ln, d, f in gt if ln == line and d == direction]
            c = [f for ln, d, f in counted if ln == line and d == direction]
            rows.append(Score(line, direction, len(g), len(c), match(g, c, tolerance)))
    rows.append(Score("total", "both", sum(r.gt for r in rows), sum(r.counted for r in rows),
                      sum(r.matched for r in rows)))
    return rows


def total_abs_error(rows: list[Score]) -> int:
    """Sum of |counted - gt| over every line and direction (errors do not cancel out)."""
    return sum(r.abs_error for r in rows if r.line != "total")
