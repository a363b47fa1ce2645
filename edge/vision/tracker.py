"""ByteTrack-style multi-object tracking: Kalman motion model + two-stage association.

High-score detections are matched first to every live track (tracked or recently lost); tracks left
without one may then take a leftover confident detection near where they were predicted (IoU is 0 when a
person moved more than a box width between processed frames: a low frame rate, a lost track's drift);
low-score detections then rescue tracked ones that these stages left unmatched
(occluded people score low but are still there). New tracks start only from confident,
unmatched detections, and must be seen twice to be confirmed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

from edge.config import TrackerSettings, frames
from edge.vision.detections import Detections, Region, Tracks, iou_matrix, within

# Constant-velocity model on (cx, cy, aspect, h); noise scales with box height, as in SORT/ByteTrack. Velocities
# are per frame of the source's clock, and a prediction spans the frames since the last update: frames the
# motion gate held back were not looked at, but the people in them went on walking.
_NDIM = 4
_H = np.eye(_NDIM, 2 * _NDIM)
_STD_POS, _STD_VEL = 1.0 / 20, 1.0 / 160


def _transition(steps: int) -> np.ndarray:
    f = np.eye(2 * _NDIM)
    f[:_NDIM, _NDIM:] = steps * np.eye(_NDIM)
    return f


def _xyxy_to_xyah(b: np.ndarray) -> np.ndarray:
    w, h = b[2] - b[0], b[3] - b[1]
    return np.array([b[0] + w / 2, b[1] + h / 2, w / max(h, 1e-6), h], dtype=np.float64)


@dataclass
class _Track:
    track_id: int
    mean: np.ndarray
    cov: np.ndarray
    score: float
    confirmed: bool = False
    last_frame: int = 0
    lost: bool = False

    @classmethod
    def start(cls, track_id: int, box: np.ndarray, score: float, frame: int) -> _Track:
        z = _xyxy_to_xyah(box)
        h = z[3]
        std = np.array([2 * _STD_POS * h, 2 * _STD_POS * h, 1e-2, 2 * _STD_POS * h,
                        10 * _STD_VEL * h, 10 * _STD_VEL * h, 1e-5, 10 * _STD_VEL * h])
        return cls(track_id, np.concatenate([z, np.zeros(_NDIM)]), np.diag(std**2), score, last_frame=frame)


def _boxes(tracks: list[_Track]) -> np.ndarray:
    """(N, 4) xyxy boxes of the tracks' current states."""
    m = np.stack([t.mean[:4] for t in tracks])
    w = m[:, 2] * m[:, 3]
    return np.stack([m[:, 0] - w / 2, m[:, 1] - m[:, 3] / 2, m[:, 0] + w / 2, m[:, 1] + m[:, 3] / 2],
                    axis=1).astype(np.float32)


def _correct(tracks: list[_Track], boxes: np.ndarray, scores: np.ndarray, frame: int) -> None:
    """Kalman measurement update of all matched tracks at once (they are disjoint, so order is irrelevant)."""
    if not tracks:
        return
    means = np.stack([t.mean for t in tracks])
    covs = np.stack([t.cov for t in tracks])
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    z = np.stack([boxes[:, 0] + w / 2, boxes[:, 1] + h / 2, w / np.maximum(h, 1e-6), h], axis=1)
    hh = means[:, 3]
    r = np.stack([_STD_POS * hh, _STD_POS * hh, np.full_like(hh, 1e-1), _STD_POS * hh], axis=1) ** 2
    s = covs[:, :4, :4].copy()
    s[:, range(4), range(4)] += r
    k = np.linalg.solve(s, covs[:, :4, :]).transpose(0, 2, 1)  # (M, 8, 4) gain
    means = means + np.einsum("mij,mj->mi", k, z - means[:, :4])
    covs = covs - k @ s @ k.transpose(0, 2, 1)
    for t, m, c, sc in zip(tracks, means, covs, scores.tolist()):
        t.mean, t.cov, t.score, t.last_frame, t.lost = m, c, sc, frame, False


def _predict(tracks: list[_Track], steps: int) -> None:
    """Advance every track `steps` frames (batched); the process noise grows with them."""
    if not tracks:
        return
    means = np.stack([t.mean for t in tracks])
    covs = np.stack([t.cov for t in tracks])
    h = means[:, 3]
    std = np.stack([_STD_POS * h, _STD_POS * h, np.full_like(h, 1e-2), _STD_POS * h,
                    _STD_VEL * h, _STD_VEL * h, np.full_like(h, 1e-5), _STD_VEL * h], axis=1)
    f = _transition(steps)
    means = means @ f.T
    covs = f @ covs @ f.T
    covs[:, range(8), range(8)] += steps * std**2
    for t, m, c in zip(tracks, means, covs):
        if t.lost:
            m[7] = 0.0  # a lost box keeps moving but stops changing size
        t.mean, t.cov = m, c


def _associate(tracks: list[_Track], boxes: np.ndarray, min_iou: float,
               scores: np.ndarray | None = None) -> tuple[list[tuple[int, int]], list[int], list[int]]:
    """Optimal one-to-one matching on IoU (optionally weighted by detection score, as ByteTrack fuses it)."""
    if not tracks or len(boxes) == 0:
        return [], list(range(len(tracks))), list(range(len(boxes)))
    iou = iou_matrix(_boxes(tracks), boxes)
    sim = iou * scores[None, :] if scores is not None else iou
    rows, cols = linear_sum_assignment(-sim)
    pairs = [(r, c) for r, c in zip(rows, cols) if iou[r, c] >= min_iou]
    matched_t = {r for r, _ in pairs}
    matched_d = {c for _, c in pairs}
    return (pairs, [i for i in range(len(tracks)) if i not in matched_t],
            [j for j in range(len(boxes)) if j not in matched_d])


def _gated(tracks: list[_Track], boxes: np.ndarray, distance: float,
           height: float) -> tuple[list[tuple[int, int]], list[int], list[int]]:
    """Nearest-first matching on centre distance in track heights, for pairs within `distance` whose heights
    are within a ratio `height` of each other; as `_associate`, (pairs, unmatched tracks, unmatched boxes)."""
    if not tracks or len(boxes) == 0:
        return [], list(range(len(tracks))), list(range(len(boxes)))
    tb = _boxes(tracks)
    th, bh = tb[:, 3] - tb[:, 1], boxes[:, 3] - boxes[:, 1]
    centres = ((tb[:, :2] + tb[:, 2:]) / 2)[:, None] - ((boxes[:, :2] + boxes[:, 2:]) / 2)[None]
    far = np.linalg.norm(centres, axis=2) / np.maximum(th[:, None], 1.0)
    ratio = np.minimum(th[:, None], bh[None]) / np.maximum(np.maximum(th[:, None], bh[None]), 1.0)
    far[(far > distance) | (ratio < height)] = np.inf
    pairs: list[tuple[int, int]] = []
    used_t: set[int] = set()
    used_b: set[int] = set()
    for k in np.argsort(far, axis=None):
        i, j = divmod(int(k), len(boxes))
        if not np.isfinite(far[i, j]):
            break
        if i not in used_t and j not in used_b:
            pairs.append((i, j))
            used_t.add(i)
            used_b.add(j)
    return (pairs, [i for i in range(len(tracks)) if i not in used_t],
            [j for j in range(len(boxes)) if j not in used_b])


@dataclass
class ByteTracker:
    """Tracks people across frames of one camera. `update` once per processed frame."""

    settings: TrackerSettings = field(default_factory=TrackerSettings)
    rate_hz: float = 10.0  # frames numbered per second: a file's frame rate, a live camera's detect_fps
    _tracks: list[_Track] = field(default_factory=list)
    _next_id: int = 1
    _frame: int | None = None  # of the last update

    def __post_init__(self) -> None:
        self.lost_frames = frames(self.settings.lost_s, self.rate_hz)

    def reset(self) -> None:
        """Forget every track (a camera back at another resolution, new lines): ids keep counting up."""
        self._tracks = []

    def update(self, dets: Detections, frame: int, region: Region | None = None) -> Tracks:
        """`dets` of frame number `frame`; with `region`, only that part of the frame was looked at: tracks
        outside it are predicted on but neither matched, nor lost, nor reported, and a detection on one of them
        starts no new track; a track inside it left unmatched is not reported either, but not lost: the crop's
        detector sees less around a person than the whole frame's (docs/accuracy.md, "Pacing busy cameras")."""
        s = self.settings
        _predict(self._tracks, 1 if self._frame is None else max(1, frame - self._frame))
        self._frame = frame
        looked, unlooked = self._tracks, []
        if region is not None and self._tracks:
            inside = within(_boxes(self._tracks), region)
            looked = [t for t, i in zip(self._tracks, inside) if i]
            unlooked = [t for t, i in zip(self._tracks, inside) if not i]
        high = dets.score >= s.high_threshold
        low = ~high & (dets.score >= s.low_threshold)
        hi_box, hi_score = dets.xyxy[high], dets.score[high]
        lo_box, lo_score = dets.xyxy[low], dets.score[low]

        confirmed = [t for t in looked if t.confirmed]
        pending = [t for t in looked if not t.confirmed]

        # Stage 1: confirmed tracks (tracked and lost) against confident detections.
        pairs, rest_t, rest_d = _associate(confirmed, hi_box, s.match_iou, hi_score)
        matched = [(confirmed[ti], hi_box[di], hi_score[di]) for ti, di in pairs]
        # Stage 1b: tracks IoU left alone, against confident detections near their predicted place.
        near, still_t, still_d = _gated([confirmed[i] for i in rest_t], hi_box[rest_d], s.gate_distance,
                                        s.gate_height)
        matched += [(confirmed[rest_t[ti]], hi_box[rest_d[di]], hi_score[rest_d[di]]) for ti, di in near]
        rest_t, rest_d = [rest_t[i] for i in still_t], [rest_d[j] for j in still_d]
        # Stage 2: still-tracked leftovers against low-score detections.
        tracked_left = [confirmed[i] for i in rest_t if not confirmed[i].lost]
        pairs2, rest2, _ = _associate(tracked_left, lo_box, s.low_match_iou)
        matched += [(tracked_left[ti], lo_box[di], lo_score[di]) for ti, di in pairs2]
        if region is None:  # a crop's miss is no evidence: it has less context than the whole frame's next look
            for i in rest2:
                tracked_left[i].lost = True
        # Unconfirmed tracks get the remaining confident detections, or die.
        hi_left, hi_left_score = hi_box[rest_d], hi_score[rest_d]
        pairs3, dead, new_d = _associate(pending, hi_left, s.unconfirmed_match_iou, hi_left_score)
        for ti, _ in pairs3:
            pending[ti].confirmed = True
        matched += [(pending[ti], hi_left[di], hi_left_score[di]) for ti, di in pairs3]
        if matched:
            tracks, boxes, scores = zip(*matched)
            _correct(list(tracks), np.stack(boxes), np.array(scores, np.float32), frame)
        dead_ids = {pending[i].track_id for i in dead}
        # Births: confident unmatched detections (not of a track outside the region looked at).
        others = iou_matrix(hi_box, _boxes(unlooked)).max(axis=1) if unlooked else np.zeros(len(hi_box))
        for j in new_d:
            d = rest_d[j]
            if hi_score[d] >= s.new_track_threshold and others[d] == 0:
                self._tracks.append(_Track.start(self._next_id, hi_box[d], float(hi_score[d]), frame))
                self._next_id += 1
        self._tracks = [t for t in self._tracks
                        if t.track_id not in dead_ids and frame - t.last_frame <= self.lost_frames]

        live = [t for t in self._tracks if t.confirmed and not t.lost and t.last_frame == frame]  # looked at
        if not live:
            return Tracks.empty()
        return Tracks(np.array([t.track_id for t in live], np.int64), _boxes(live),
                      np.array([t.score for t in live], np.float32))
