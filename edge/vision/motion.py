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
ground near the camera and far from it. With `busy_crops`, between two whole looks only a crop around the people
close to a line is detected (Frigate detects regions, not frames): on a crowded scene someone is always close
to a line, but rarely everywhere; the tracker leaves the people outside the crop alone until the next whole look.
"""

from __future__ import annotations

import cv2
import numpy as np

from edge.config import MotionSettings, frames
from edge.counting.line import Line
from edge.vision.detections import Region, Tracks, bottom_centre

CROP_MARGIN = 0.5  # a crop holds the people close to a line and this many of their heights around them
MAX_CROP = 0.6     # a crop larger than this share of the frame saves too little: the whole frame is detected


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
        self._last_detected = self._last_whole = -(10**9)
        self.region: Region | None = None  # where the frame just let through is to be detected (None: whole)

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

    def _close_to_lines(self, tracks: Tracks) -> np.ndarray:
        """(N,) which tracks have feet within `crossing_zone` of their heights of a line: they may cross next."""
        close = np.zeros(len(tracks), bool)
        if len(tracks):
            feet = bottom_centre(tracks.xyxy)
            reach = self.settings.crossing_zone * (tracks.xyxy[:, 3] - tracks.xyxy[:, 1])
            for ln in self.lines:
                close |= ln.distance(feet) <= reach
        return close

    def replace_lines(self, lines: list[Line]) -> None:
        """Watch around `lines` from the next frame on (which is detected: the area changed)."""
        self.lines, self._shape = lines, None

    def reset(self) -> None:
        """The detector did not see the last frame it was given (it failed): the next frame must be detected."""
        self._reference = None

    def needs_detection(self, image: np.ndarray, frame: int, tracks: Tracks) -> bool:
        """Whether frame number `frame` must be detected; `tracks` are the camera's confirmed tracks so far. When
        it must, `region` says where: None for the whole frame, or a crop around the people close to a line."""
        if image.shape[:2] != self._shape:
            self._watch(image.shape[:2])
        small = self._small(image)
        self.region = None
        close = self._close_to_lines(tracks)
        forced = (self.settings.detect_always or self._reference is None
                  or frame - self._last_detected >= self.max_quiet)
        if not forced and frame - self._last_whole < self.busy_gap:
            if not close.any():
                return False  # looked at a moment ago, nobody close enough to cross before the next look
            if self.settings.busy_crops and (crop := self._around(tracks.xyxy[close])) is not None:
                self.region, self._last_detected = crop, frame
                return True
        detect = forced or bool(close.any()) or self._near_lines(tracks)
        if not detect:
            assert self._reference is not None
            changed = cv2.absdiff(small, self._reference) > self.settings.threshold
            needed = self.settings.min_area * np.count_nonzero(self._mask)
            detect = bool(np.count_nonzero(changed & self._mask) >= needed)
        if detect:
            self._reference, self._last_detected, self._last_whole = small, frame, frame
        return detect

    def _around(self, boxes: np.ndarray) -> Region | None:
        """The crop holding `boxes` grown by CROP_MARGIN of their heights, in whole pixels; None when it would
        be most of the frame anyway."""
        assert self._shape is not None
        h, w = self._shape
        grow = CROP_MARGIN * (boxes[:, 3] - boxes[:, 1])
        x0, y0 = max(0, int((boxes[:, 0] - grow).min())), max(0, int((boxes[:, 1] - grow).min()))
        x1, y1 = min(w, int(np.ceil((boxes[:, 2] + grow).max()))), min(h, int(np.ceil((boxes[:, 3] + grow).max())))
        if x1 <= x0 or y1 <= y0 or (x1 - x0) * (y1 - y0) > MAX_CROP * h * w:
            return None
        return x0, y0, x1, y1
