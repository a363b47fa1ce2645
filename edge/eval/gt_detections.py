"""Ground-truth boxes fed to the tracker as if a detector had found them: the ceiling of tracking and counting.

`drop` removes that share of boxes at random, `jitter` moves each edge by Gaussian noise of that fraction of the
box size: how much an imperfect detector would cost with a perfect tracker and counter. Seeded: repeatable.
"""

from __future__ import annotations

import numpy as np

from edge.eval.groundtruth import GtBox
from edge.vision.detections import Detections

GT_SCORE = 0.9  # confident: a ground-truth box starts and keeps tracks like a clear detection


def gt_detections(boxes: list[GtBox], rng: np.random.Generator, drop: float = 0.0, jitter: float = 0.0) -> Detections:
    """One frame's labelled boxes as detections."""
    kept = [b for b in boxes if not (drop and rng.random() < drop)]
    if not kept:
        return Detections.empty()
    xyxy = np.array([b.xyxy for b in kept], np.float32)
    if jitter:
        w, h = xyxy[:, 2] - xyxy[:, 0], xyxy[:, 3] - xyxy[:, 1]
        xyxy = xyxy + rng.normal(0.0, jitter, xyxy.shape).astype(np.float32) * np.stack([w, h, w, h], axis=1)
        xyxy[:, 2:] = np.maximum(xyxy[:, 2:], xyxy[:, :2] + 1)
    return Detections(xyxy, np.full(len(kept), GT_SCORE, np.float32))
