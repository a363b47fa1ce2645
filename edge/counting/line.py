"""Counting lines: directed segments A->B in image pixels, and which side a point is on.

Image y points down. Looking along A->B on the image, the right-hand side is "in":
a person whose point moves from the left-hand side to the right-hand side crosses **in**.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from edge.errors import UserError
from edge.names import check_name


@dataclass(frozen=True)
class Line:
    """A named directed counting segment."""

    name: str
    x1: float
    y1: float
    x2: float
    y2: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", check_name("line", self.name))  # NFC: one name however it was typed
        if self.length == 0:
            raise UserError(f"line {self.name!r} has zero length: give two different end points x1,y1,x2,y2")

    @property
    def length(self) -> float:
        return math.hypot(self.x2 - self.x1, self.y2 - self.y1)

    def signed_distance(self, x: float, y: float) -> float:
        """Pixels from the line's extension; > 0 on the right-hand ("in") side."""
        dx, dy = self.x2 - self.x1, self.y2 - self.y1
        return (dx * (y - self.y1) - dy * (x - self.x1)) / self.length

    def crosses(self, p: tuple[float, float], q: tuple[float, float]) -> bool:
        """Whether the move p -> q passes through the segment itself (not its extension).

        p and q must lie on opposite sides (a point on the line counts as left-hand); the point where
        p->q meets the line must fall within A..B.
        """
        dp, dq = self.signed_distance(*p), self.signed_distance(*q)
        if (dp > 0) == (dq > 0):
            return False
        t = dp / (dp - dq)
        cx, cy = p[0] + (q[0] - p[0]) * t, p[1] + (q[1] - p[1]) * t
        dx, dy = self.x2 - self.x1, self.y2 - self.y1
        u = ((cx - self.x1) * dx + (cy - self.y1) * dy) / (self.length**2)
        return 0.0 <= u <= 1.0

    def distance(self, points: np.ndarray) -> np.ndarray:
        """Pixels from each of (N, 2) points to the segment itself (an end point beyond its ends)."""
        a = np.array([self.x1, self.y1])
        ab = np.array([self.x2 - self.x1, self.y2 - self.y1])
        t = np.clip((points - a) @ ab / self.length**2, 0.0, 1.0)
        gaps: np.ndarray = np.hypot(*(points - a - t[:, None] * ab).T)
        return gaps

    def inside(self, width: int, height: int) -> bool:
        """Whether any part of the segment lies within a width x height frame."""
        lo_x, hi_x = sorted((self.x1, self.x2))
        lo_y, hi_y = sorted((self.y1, self.y2))
        if hi_x < 0 or hi_y < 0 or lo_x > width or lo_y > height:
            return False
        corners = [(0, 0), (width, 0), (width, height), (0, height)]
        if any(0 <= x <= width and 0 <= y <= height for x, y in ((self.x1, self.y1), (self.x2, self.y2))):
            return True
        return any(self.crosses(corners[i], corners[(i + 1) % 4]) for i in range(4))


def parse_line(spec: str) -> Line:
    """Parse `NAME:x1,y1,x2,y2` as given on the command line."""
    name, sep, coords = spec.partition(":")
    parts = coords.split(",")
    if not sep or len(parts) != 4:
        raise UserError(f"--line {spec!r} is malformed: write NAME:x1,y1,x2,y2 (e.g. door:0,150,480,150)")
    try:
        x1, y1, x2, y2 = (float(v) for v in parts)
    except ValueError:
        raise UserError(f"--line {spec!r} has a non-numeric coordinate: write NAME:x1,y1,x2,y2 in pixels") from None
    if not all(math.isfinite(v) for v in (x1, y1, x2, y2)):
        raise UserError(f"--line {spec!r} has a non-finite coordinate: use pixel values")
    return Line(name, x1, y1, x2, y2)


def check_lines(lines: list[Line], width: int, height: int, where: str = "") -> None:
    """Reject duplicate names and lines entirely outside a width x height frame."""
    seen: set[str] = set()
    for line in lines:
        if line.name in seen:
            raise UserError(f"{where}line name {line.name!r} is used twice: give each line a unique name")
        seen.add(line.name)
        if not line.inside(width, height):
            raise UserError(f"{where}line {line.name!r} ({line.x1:g},{line.y1:g} -> {line.x2:g},{line.y2:g}) lies "
                            f"entirely outside the {width}x{height} frame: use pixel coordinates inside the image")
