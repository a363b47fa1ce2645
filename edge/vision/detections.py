"""Small composable types shared by detector, tracker and counter: boxes of one frame, with or without ids."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

Region = tuple[int, int, int, int]  # x0, y0, x1, y1 in image pixels: the part of a frame that was looked at


@dataclass(frozen=True)
class Detections:
    """N person boxes in image pixels: `xyxy` float32 (N, 4), `score` float32 (N,)."""

    xyxy: np.ndarray
    score: np.ndarray

    @classmethod
    def empty(cls) -> Detections:
        return cls(np.zeros((0, 4), np.float32), np.zeros((0,), np.float32))

    def __len__(self) -> int:
        return len(self.score)

    def __getitem__(self, index: np.ndarray | slice) -> Detections:
        return Detections(self.xyxy[index], self.score[index])


@dataclass(frozen=True)
class Tracks:
    """Confirmed tracks of one frame: ids, boxes (xyxy) and the score of the matched detection."""

    track_id: np.ndarray
    xyxy: np.ndarray
    score: np.ndarray

    @classmethod
    def empty(cls) -> Tracks:
        return cls(np.zeros(0, np.int64), np.zeros((0, 4), np.float32), np.zeros(0, np.float32))

    def __len__(self) -> int:
        return len(self.track_id)

    def __getitem__(self, index: np.ndarray | slice) -> Tracks:
        return Tracks(self.track_id[index], self.xyxy[index], self.score[index])

    def plus(self, other: Tracks) -> Tracks:
        """These tracks and those of `other` whose ids are not among them."""
        new = other[~np.isin(other.track_id, self.track_id)]
        return Tracks(np.concatenate([self.track_id, new.track_id]), np.concatenate([self.xyxy, new.xyxy]),
                      np.concatenate([self.score, new.score]))


def bottom_centre(xyxy: np.ndarray) -> np.ndarray:
    """(N, 2) bottom-centre points of (N, 4) boxes: where a person's feet are."""
    points: np.ndarray = np.stack([(xyxy[:, 0] + xyxy[:, 2]) * 0.5, xyxy[:, 3]], axis=1)
    return points


def within(xyxy: np.ndarray, region: Region) -> np.ndarray:
    """(N,) whether each of (N, 4) boxes lies entirely inside `region`."""
    x0, y0, x1, y1 = region
    inside: np.ndarray = (xyxy[:, 0] >= x0) & (xyxy[:, 1] >= y0) & (xyxy[:, 2] <= x1) & (xyxy[:, 3] <= y1)
    return inside


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of (N, 4) and (M, 4) xyxy boxes."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)), np.float32)
    tl = np.maximum(a[:, None, :2], b[None, :, :2])
    br = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(br - tl, 0, None), axis=2)
    area_a = np.prod(a[:, 2:] - a[:, :2], axis=1)
    area_b = np.prod(b[:, 2:] - b[:, :2], axis=1)
    iou: np.ndarray = inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-9)
    return iou
