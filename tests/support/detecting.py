"""A real detector that runs a test's hook before each of its calls (a whole frame or a crop): to act at a
known point of a run, e.g. change the lines or free the disk during the Nth call."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from edge.vision.detections import Detections, Region
from edge.vision.detector import Detector


class Hooked:
    def __init__(self, detector: Detector, hook: Callable[[int], None]) -> None:
        self.detector, self.hook, self.calls = detector, hook, 0

    def _called(self) -> None:
        self.calls += 1
        self.hook(self.calls)

    def __call__(self, image: np.ndarray) -> Detections:
        self._called()
        return self.detector(image)

    def region(self, image: np.ndarray, box: Region) -> Detections:
        self._called()
        return self.detector.region(image, box)
