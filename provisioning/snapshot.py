"""The installer's picture: a camera frame with each counting line, its name, green "in" / orange "out" arrows, and
every person the detector sees boxed ("person 0.82") with the foot point that is counted.

Text and strokes scale with the image (as readable at 1080p as at 360p). Labels sit on a dark plate and are placed
one by one at the first of several candidate spots that collides with no label or arrow placed before, so lines
that cross or share a midpoint stay readable."""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from edge.counting.line import Line
from edge.vision.detections import Detections, bottom_centre

LINE_COLOUR = (0, 0, 255)       # BGR red
IN_COLOUR = (0, 200, 0)         # green
OUT_COLOUR = (0, 140, 255)      # orange
BOX_COLOUR = (255, 200, 0)      # light blue
FOOT_COLOUR = (255, 0, 255)     # magenta: the point that crosses lines
PLATE = (20, 20, 20)
FONT = cv2.FONT_HERSHEY_SIMPLEX

Box = tuple[int, int, int, int]  # x1, y1, x2, y2


@dataclass(frozen=True)
class Style:
    """Sizes for an image: a 360-line image gets the base sizes, a 1080-line one three times them."""

    scale: float

    @classmethod
    def for_size(cls, width: int, height: int) -> Style:
        return cls(max(1.0, min(height, width * 9 / 16) / 360))

    @property
    def font(self) -> float:
        return 0.5 * self.scale

    @property
    def text(self) -> int:
        return max(1, round(1.3 * self.scale))

    @property
    def stroke(self) -> int:
        return max(2, round(2 * self.scale))

    @property
    def pad(self) -> int:
        return max(2, round(3 * self.scale))

    @property
    def arrow(self) -> float:
        return 28 * self.scale


@dataclass(frozen=True)
class Label:
    text: str
    colour: tuple[int, int, int]
    box: Box             # the plate, in pixels
    origin: tuple[int, int]  # where cv2.putText starts


@dataclass(frozen=True)
class Arrow:
    start: tuple[int, int]
    tip: tuple[int, int]
    colour: tuple[int, int, int]


def _intersects(a: Box, b: Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _arrow_box(arrow: Arrow, pad: int) -> Box:
    (x1, y1), (x2, y2) = arrow.start, arrow.tip
    return min(x1, x2) - pad, min(y1, y2) - pad, max(x1, x2) + pad, max(y1, y2) + pad


class _Placer:
    """Places labels at the first candidate spot that is inside the image and free."""

    def __init__(self, width: int, height: int, style: Style) -> None:
        self.width, self.height, self.style = width, height, style
        self.taken: list[Box] = []
        self.labels: list[Label] = []

    def plate(self, text: str, centre: tuple[float, float]) -> tuple[Box, tuple[int, int]]:
        (tw, th), base = cv2.getTextSize(text, FONT, self.style.font, self.style.text)
        p = self.style.pad
        x, y = round(centre[0] - tw / 2), round(centre[1] + th / 2)
        return (x - p, y - th - p, x + tw + p, y + base + p), (x, y)

    def place(self, text: str, colour: tuple[int, int, int], candidates: list[tuple[float, float]]) -> None:
        fitting = []
        for c in candidates:
            box, origin = self.plate(text, c)
            if box[0] < 0 or box[1] < 0 or box[2] > self.width or box[3] > self.height:
                continue
            fitting.append((box, origin))
            if not any(_intersects(box, t) for t in self.taken):
                break
        else:  # nowhere free: the least crowded fitting spot (or the first candidate, clamped into the image)
            if not fitting:
                box, origin = self.plate(text, candidates[0])
                dx = max(0, -box[0]) - max(0, box[2] - self.width)
                dy = max(0, -box[1]) - max(0, box[3] - self.height)
                fitting = [((box[0] + dx, box[1] + dy, box[2] + dx, box[3] + dy), (origin[0] + dx, origin[1] + dy))]
            box, origin = min(fitting, key=lambda f: sum(_intersects(f[0], t) for t in self.taken))
        self.taken.append(box)
        self.labels.append(Label(text, colour, box, origin))


def layout(lines: list[Line], width: int, height: int) -> tuple[list[Label], list[Arrow]]:
    """Where each line's in/out arrows and its name, "in" and "out" labels go in a width x height image."""
    style = Style.for_size(width, height)
    length = style.arrow
    arrows: list[Arrow] = []
    anchors: list[tuple[float, float]] = []
    for ln in lines:  # arrows start at the middle of the line, or further along if another line's arrows are there
        nx, ny = -(ln.y2 - ln.y1) / ln.length, (ln.x2 - ln.x1) / ln.length  # unit normal towards "in"
        spots = [(ln.x1 + (ln.x2 - ln.x1) * t, ln.y1 + (ln.y2 - ln.y1) * t) for t in (0.5, 0.3, 0.7, 0.15, 0.85)]
        mx, my = next((s for s in spots if all(math.dist(s, a) > 2.5 * length for a in anchors)), spots[0])
        anchors.append((mx, my))
        for sign, colour in ((1, IN_COLOUR), (-1, OUT_COLOUR)):
            tip = (round(mx + sign * nx * length), round(my + sign * ny * length))
            arrows.append(Arrow((round(mx), round(my)), tip, colour))
    placer = _Placer(width, height, style)
    placer.taken = [_arrow_box(a, style.stroke) for a in arrows]
    gap = 1.9 * length
    for ln, (mx, my) in zip(lines, anchors):  # "in" and "out" beyond their arrows' tips, or beside them
        nx, ny = -(ln.y2 - ln.y1) / ln.length, (ln.x2 - ln.x1) / ln.length
        for sign, colour, word in ((1, IN_COLOUR, "in"), (-1, OUT_COLOUR, "out")):
            candidates = [(mx + sign * nx * d - ny * s, my + sign * ny * d + nx * s)
                          for d in (gap, 1.4 * gap, 2 * gap) for s in (0, length, -length, 2 * length, -2 * length)]
            placer.place(word, colour, candidates)
    for ln in lines:  # the name near one end, on either side
        nx, ny = -(ln.y2 - ln.y1) / ln.length, (ln.x2 - ln.x1) / ln.length
        candidates = [(ln.x1 + (ln.x2 - ln.x1) * t + nx * d, ln.y1 + (ln.y2 - ln.y1) * t + ny * d)
                      for t in (0.12, 0.88, 0.25, 0.75, 0.05, 0.95, 0.4, 0.6)
                      for d in (-length, length, -2 * length, 2 * length)]
        placer.place(ln.name, LINE_COLOUR, candidates)
    return placer.labels, arrows


def _text(img: np.ndarray, label: Label, style: Style) -> None:
    x1, y1, x2, y2 = label.box
    cv2.rectangle(img, (x1, y1), (x2, y2), PLATE, -1)
    cv2.putText(img, label.text, label.origin, FONT, style.font, label.colour, style.text, cv2.LINE_AA)


def draw(frame: np.ndarray, lines: list[Line], people: Detections | None = None) -> np.ndarray:
    """A copy of `frame` with people boxed and their foot points marked, lines drawn, named, and arrows to their
    in and out sides."""
    img = frame.copy()
    height, width = img.shape[:2]
    style = Style.for_size(width, height)
    people = people if people is not None else Detections.empty()
    feet = bottom_centre(people.xyxy) if len(people) else np.zeros((0, 2))
    for (x1, y1, x2, y2), score, (fx, fy) in zip(people.xyxy.astype(int).tolist(), people.score.tolist(),
                                                  feet.tolist()):
        cv2.rectangle(img, (x1, y1), (x2, y2), BOX_COLOUR, style.stroke)
        tag = _Placer(width, height, style)
        tag.place(f"person {score:.2f}", BOX_COLOUR, [(x1 + (x2 - x1) / 2, y1 - 4 * style.scale * 2.5),
                                                      (x1 + (x2 - x1) / 2, y1 + 4 * style.scale * 2.5)])
        _text(img, tag.labels[0], style)
        cv2.circle(img, (round(fx), round(fy)), 2 * style.stroke, (0, 0, 0), -1, cv2.LINE_AA)
        cv2.circle(img, (round(fx), round(fy)), round(1.4 * style.stroke), FOOT_COLOUR, -1, cv2.LINE_AA)
    labels, arrows = layout(lines, width, height)
    for ln in lines:
        a, b = (round(ln.x1), round(ln.y1)), (round(ln.x2), round(ln.y2))
        cv2.line(img, a, b, LINE_COLOUR, style.stroke, cv2.LINE_AA)
        cv2.circle(img, a, 2 * style.stroke, LINE_COLOUR, -1, cv2.LINE_AA)
    for arrow in arrows:
        cv2.arrowedLine(img, arrow.start, arrow.tip, arrow.colour, style.stroke, cv2.LINE_AA, tipLength=0.35)
    for label in labels:
        _text(img, label, style)
    return img


def encode_png(image: np.ndarray) -> bytes:
    ok, data = cv2.imencode(".png", image)
    if not ok:
        raise ValueError("OpenCV could not encode the snapshot as PNG")
    return bytes(data.tobytes())
