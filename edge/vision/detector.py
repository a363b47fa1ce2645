"""Person detection with an ONNX YOLOX model: letterbox, grid decode, NMS."""

from __future__ import annotations

import os

import cv2
import numpy as np

from edge.config import DetectorSettings
from edge.errors import UserError
from edge.vision.detections import Detections
from models.registry import ModelError, ModelSpec, locate, open_session, spec

PAD_VALUE = 114


def letterbox(frame: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, float]:
    """Resize keeping aspect ratio into the top-left of a `size` (h, w) canvas padded with 114.

    Returns the NCHW float32 network input and the scale r (network pixels per image pixel).
    """
    h, w = frame.shape[:2]
    r = min(size[0] / h, size[1] / w)
    nh, nw = int(round(h * r)), int(round(w * r))
    canvas = np.full((size[0], size[1], 3), PAD_VALUE, np.uint8)
    canvas[:nh, :nw] = cv2.resize(frame, (nw, nh), interpolation=cv2.INTER_LINEAR) if (nh, nw) != (h, w) else frame
    return canvas.transpose(2, 0, 1)[None].astype(np.float32), r


def yolox_grid(size: tuple[int, int], strides: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Per output row: grid cell (x, y) and stride, in the model's row-major stride order."""
    grids, scales = [], []
    for s in strides:
        gh, gw = size[0] // s, size[1] // s
        ys, xs = np.mgrid[0:gh, 0:gw]
        grids.append(np.stack([xs.ravel(), ys.ravel()], axis=1))
        scales.append(np.full((gh * gw, 1), s))
    return np.concatenate(grids).astype(np.float32), np.concatenate(scales).astype(np.float32)


class YoloxDecoder:
    """Turns raw YOLOX output rows into person boxes in image pixels (pure numpy + cv2 NMS)."""

    def __init__(self, model: ModelSpec, score_threshold: float, nms_iou: float) -> None:
        self.grid, self.stride = yolox_grid(model.input_size, model.strides)
        self.cls_col = 5 + model.person_class
        self.score_threshold = score_threshold
        self.nms_iou = nms_iou

    def __call__(self, out: np.ndarray, r: float, frame_shape: tuple[int, ...]) -> Detections:
        scores = out[:, 4] * out[:, self.cls_col]
        keep = np.flatnonzero(scores >= self.score_threshold)
        if keep.size == 0:
            return Detections.empty()
        rows, scores = out[keep], scores[keep]
        stride = self.stride[keep]
        centre = (rows[:, :2] + self.grid[keep]) * stride
        half = np.exp(rows[:, 2:4]) * stride * 0.5
        xyxy = np.concatenate([centre - half, centre + half], axis=1) / r
        h, w = frame_shape[:2]
        np.clip(xyxy, 0, [w, h, w, h], out=xyxy)
        xywh = np.concatenate([xyxy[:, :2], xyxy[:, 2:] - xyxy[:, :2]], axis=1)
        kept = cv2.dnn.NMSBoxes(xywh.tolist(), scores.tolist(), self.score_threshold, self.nms_iou)
        idx = np.asarray(kept, dtype=np.int64).reshape(-1)
        return Detections(xyxy[idx].astype(np.float32), scores[idx].astype(np.float32))


class Detector:
    """An onnxruntime session plus pre/post-processing; one instance serves every camera."""

    def __init__(self, settings: DetectorSettings = DetectorSettings()) -> None:
        try:  # the model layer's errors are the user's to fix, like every other bad setting
            self.spec = spec(settings.model)
            self.path = locate(self.spec, settings.model_path, settings.model_dir)
            self.session = open_session(self.spec, self.path, settings.threads, settings.fp16,
                                        settings.engine_cache_dir)
        except ModelError as e:
            raise UserError(str(e)) from None
        self.decode = YoloxDecoder(self.spec, settings.score_threshold, settings.nms_iou)
        self.providers: list[str] = self.session.get_providers()

    @property
    def name(self) -> str:
        return self.spec.name

    def infer(self, blob: np.ndarray) -> np.ndarray:
        """Raw network output rows for one letterboxed input."""
        return self.session.run([self.spec.output_name], {self.spec.input_name: blob})[0][0]

    def prepare(self, frame: np.ndarray) -> tuple[np.ndarray, float]:
        return letterbox(frame, self.spec.input_size)

    def __call__(self, frame: np.ndarray) -> Detections:
        blob, r = self.prepare(frame)
        return self.decode(self.infer(blob), r, frame.shape)


def concurrent_calls(threads: int) -> int:
    """`[model] threads` / `--threads`: how many single-threaded inference calls run at once (0 = one per core)."""
    return threads or len(os.sched_getaffinity(0))


def parallel_detector(settings: DetectorSettings) -> tuple[Detector, int]:
    """A detector for `settings.threads` single-threaded calls at once, and that number of calls.

    For a small model on a small box, parallel one-thread calls give more frames/s than one call on as many
    intra-op threads, at less CPU per frame (idle ones spin): measured in docs/benchmarks.md.
    """
    return Detector(settings.model_copy(update={"threads": 1})), concurrent_calls(settings.threads)
