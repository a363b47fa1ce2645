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


def match_pairs(gt_frames: list[int], counted_frames: list[int], tolerance: int) -> list[tuple[int, int]]:
    """A largest one-to-one matching of events at most `tolerance` frames apart, as (gt index, counted index).

    Pairing the earliest unmatched events first (two pointers over the frame-sorted events) is optimal for
    intervals on a line: it never uses up a partner a later event would need.
    """
    gt = sorted(range(len(gt_frames)), key=gt_frames.__getitem__)
    counted = sorted(range(len(counted_frames)), key=counted_frames.__getitem__)
    pairs: list[tuple[int, int]] = []
    i = j = 0
    while i < len(gt) and j < len(counted):
        g, c = gt_frames[gt[i]], counted_frames[counted[j]]
        if abs(g - c) <= tolerance:
            pairs.append((gt[i], counted[j]))
            i, j = i + 1, j + 1
        elif c < g:
            j += 1
        else:
            i += 1
    return pairs


def match(gt_frames: list[int], counted_frames: list[int], tolerance: int) -> int:
    """How many events a largest one-to-one matching pairs (see `match_pairs`)."""
    return len(match_pairs(gt_frames, counted_frames, tolerance))


Event = tuple[str, str, int]  # (line, direction, frame)


def matched_gt(gt: list[Event], counted: list[Event], tolerance: int) -> set[int]:
    """Indices into `gt` of the events the matching pairs with a counted one (same line and direction)."""
    out: set[int] = set()
    for key in {(ln, d) for ln, d, _ in gt}:
        g = [i for i, e in enumerate(gt) if e[:2] == key]
        c = [e[2] for e in counted if e[:2] == key]
        out.update(g[a] for a, _ in match_pairs([gt[i][2] for i in g], c, tolerance))
    return out


def evaluate(gt: Iterable[Event], counted: Iterable[Event], lines: list[str], tolerance: int) -> list[Score]:
    """Scores per (line, direction) for `(line, direction, frame)` events, then a total row."""
    gt, counted = list(gt), list(counted)
    rows = []
    for line in lines:
        for direction in Direction:
            g = [f for ln, d, f in gt if ln == line and d == direction]
            c = [f for ln, d, f in counted if ln == line and d == direction]
            rows.append(Score(line, direction, len(g), len(c), match(g, c, tolerance)))
    rows.append(pool(rows, "total"))
    return rows


def pool(rows: list[Score], name: str) -> Score:
    """One row summing `rows`: the total of a sequence's lines, or of a suite's sequences."""
    return Score(name, "both", sum(r.gt for r in rows), sum(r.counted for r in rows), sum(r.matched for r in rows))


def total_abs_error(rows: list[Score]) -> int:
    """Sum of |counted - gt| over every line and direction (errors do not cancel out)."""
    return sum(r.abs_error for r in rows if r.direction != "both")
