"""The installer's picture: a camera frame with each counting line, its name, in/out arrows and detected people."""

from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path

import cv2
import numpy as np

from edge.counting.line import Line
from edge.vision.detections import Detections

LINE_COLOUR = (0, 0, 255)       # BGR red
IN_COLOUR = (0, 200, 0)         # green
OUT_COLOUR = (0, 140, 255)      # orange
BOX_COLOUR = (255, 200, 0)      # light blue


def _label(img: np.ndarray, text: str, at: tuple[int, int], colour: tuple[int, int, int]) -> None:
    cv2.putText(img, text, at, cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(img, text, at, cv2.FONT_HERSHEY_SIMPLEX, 0.5, colour, 1, cv2.LINE_AA)


def draw(frame: np.ndarray, lines: list[Line], people: Detections | None = None) -> np.ndarray:
    """A copy of `frame` with people boxed, lines drawn, named, and arrows to their in and out sides."""
    img = frame.copy()
    for (x1, y1, x2, y2), score in zip((people or Detections.empty()).xyxy.astype(int).tolist(),
                                       (people or Detections.empty()).score.tolist()):
        cv2.rectangle(img, (x1, y1), (x2, y2), BOX_COLOUR, 1)
        _label(img, f"{score:.2f}", (x1, max(y1 - 3, 10)), BOX_COLOUR)
    arrow = max(12.0, 0.06 * max(img.shape[:2]))
    for ln in lines:
        a, b = (int(round(ln.x1)), int(round(ln.y1))), (int(round(ln.x2)), int(round(ln.y2)))
        cv2.line(img, a, b, LINE_COLOUR, 2, cv2.LINE_AA)
        cv2.circle(img, a, 4, LINE_COLOUR, -1)
        mx, my = (ln.x1 + ln.x2) / 2, (ln.y1 + ln.y2) / 2
        nx, ny = -(ln.y2 - ln.y1) / ln.length, (ln.x2 - ln.x1) / ln.length   # unit normal to the "in" side
        for sign, colour, word in ((1, IN_COLOUR, "in"), (-1, OUT_COLOUR, "out")):
            tip = (int(mx + sign * nx * arrow), int(my + sign * ny * arrow))
            cv2.arrowedLine(img, (int(mx), int(my)), tip, colour, 2, cv2.LINE_AA, tipLength=0.35)
            _label(img, word, (tip[0] + int(sign * nx * 6) - 8, tip[1] + int(sign * ny * 10) + 4), colour)
        angle = math.atan2(ln.y2 - ln.y1, ln.x2 - ln.x1)
        off = (int(mx - 0.5 * arrow * math.cos(angle)) + 4, int(my - 0.5 * arrow * math.sin(angle)) - 6)
        _label(img, ln.name, off, LINE_COLOUR)
    return img


def save_png(path: Path, image: np.ndarray) -> None:
    """Write a PNG atomically (a reader never sees half a picture)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    ok, data = cv2.imencode(".png", image)
    if not ok:
        raise OSError(f"cannot encode {path}")
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".png.tmp")
    with os.fdopen(fd, "wb") as f:
        f.write(data.tobytes())
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)
