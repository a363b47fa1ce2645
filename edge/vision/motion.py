"""Whether the detector must look at a frame: movement near a counting line, or a person there to keep.

The difference is taken on a small grey image against the last frame the detector saw, inside the watched area
(each line's bounding box grown by a margin): slow movements add up until they count, and a change elsewhere
in the picture (a door far from any line, trees) does not wake the detector. Only people near a line can cross
it. A confirmed track whose feet are in the watched area keeps the detector on, so people standing on a line
are not lost; and no camera goes longer than `max_quiet_s` without a detection. A frame not detected is not
fed to the tracker at all: its people were not looked at, which is not the same as not seen.

A busy camera (people about all the time) is paced by where its people are: while none has feet within
`crossing_zone` of their own heights of a line, the detector looks every `busy_interval_s` (the tracker
predicts across the gap, as DeepStream's inference interval does); a person that close gets every frame, so
the counter sees each crossing as often as without the pacing. Heights make the zone the same stretch of
ground near the camera and far from it.
"""

from __future__ import annotations

import cv2
import numpy as np

from edge.config import MotionSettings, frames
from edge.counting.line import Line
from edge.vision.detections import Tracks, bottom_centre


class MotionGate:
    """One camera's gate. `needs_detection` once per due frame, in frame order."""

    def __init__(self, settings: MotionSettings, lines: list[Line], rate_hz: float) -> None:
        self.settings = settings
        self.lines = lines
        self.max_quiet = max(1, frames(settings.max_quiet_s, rate_hz))
        self.busy_gap = max(1, frames(settings.busy_interval_s, rate_hz))
        self._shape: tuple[int, int] | None = None
        self._mask = np.zeros((0, 0), bool)
        self._scale = 1.0
        self._reference: np.ndarray | None = None
        self._last_detected = -(10**9)

    def _watch(self, shape: tuple[int, int]) -> None:
        """The watched area at the small image's scale, for frames of `shape` (h, w)."""
        h, w = shape
        self._shape, self._scale = shape, self.settings.width / w
        sh, sw = max(1, round(h * self._scale)), self.settings.width
        mask = np.zeros((sh, sw), bool)
        grow = self.settings.margin * h
        for ln in self.lines:
            x0, x1 = sorted((ln.x1, ln.x2))
            y0, y1 = sorted((ln.y1, ln.y2))
            c0, c1 = (int(np.clip(v * self._scale, 0, sw)) for v in (x0 - grow, x1 + grow + 1))
            r0, r1 = (int(np.clip(v * self._scale, 0, sh)) for v in (y0 - grow, y1 + grow + 1))
            mask[r0:r1, c0:c1] = True
        self._mask = mask if self.lines else np.ones((sh, sw), bool)
        self._reference = None

    def _small(self, image: np.ndarray) -> np.ndarray:
        small = cv2.resize(image, (self._mask.shape[1], self._mask.shape[0]), interpolation=cv2.INTER_AREA)
        return cv2.cvtColor(small, cv2.COLOR_BGR2GRAY) if small.ndim == 3 else small

    def _near_lines(self, tracks: Tracks) -> bool:
        if len(tracks) == 0:
            return False
        feet = np.floor(bottom_centre(tracks.xyxy) * self._scale).astype(int)
        rows = np.clip(feet[:, 1], 0, self._mask.shape[0] - 1)
        cols = np.clip(feet[:, 0], 0, self._mask.shape[1] - 1)
        return bool(self._mask[rows, cols].any())

    def _close_to_lines(self, tracks: Tracks) -> bool:
        """Whether a track's feet are within `crossing_zone` of its heights of a line: it may cross next."""
        if len(tracks) == 0:
            return False
        feet = bottom_centre(tracks.xyxy)
        reach = self.settings.crossing_zone * (tracks.xyxy[:, 3] - tracks.xyxy[:, 1])
        return any(bool((ln.distance(feet) <= reach).any()) for ln in self.lines)

    def replace_lines(self, lines: list[Line]) -> None:
        """Watch around `lines` from the next frame on (which is detected: the area changed)."""
        self.lines, self._shape = lines, None

    def reset(self) -> None:
        """The detector did not see the last frame it was given (it failed): the next frame must be detected."""
        self._reference = None

    def needs_detection(self, image: np.ndarray, frame: int, tracks: Tracks) -> bool:
        """Whether frame number `frame` must be detected; `tracks` are the camera's confirmed tracks so far."""
        if image.shape[:2] != self._shape:
            self._watch(image.shape[:2])
        small = self._small(image)
        detect = (self.settings.detect_always or self._reference is None
                  or frame - self._last_detected >= self.max_quiet or self._close_to_lines(tracks))
        if not detect and frame - self._last_detected < self.busy_gap:
            return False  # looked at a moment ago, nobody close enough to cross before the next look
        detect = detect or self._near_lines(tracks)
        if not detect:
            assert self._reference is not None
            changed = cv2.absdiff(small, self._reference) > self.settings.threshold
            needed = self.settings.min_area * np.count_nonzero(self._mask)
            detect = bool(np.count_nonzero(changed & self._mask) >= needed)
        if detect:
            self._reference, self._last_detected = small, frame
        return detect
