"""Person detection with an ONNX YOLOX model: letterbox, grid decode, NMS; the input size chosen per camera.

The shipped graph sees a 416x416 letterbox: a 60-pixel-tall person in a 1280x720 frame becomes 20 pixels and
far people vanish. With `input_size = "auto"` a frame that the letterbox would shrink below `auto_scale` of its
size is detected at that scale instead, on an input of its own aspect (no padding to pay for), through a graph
derived from the same weights (models/derive.py); frames the shipped graph keeps large enough use it as is.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import cv2
import numpy as np

from edge.config import DetectorSettings
from edge.errors import UserError
from edge.vision.detections import Detections
from models.registry import ModelError, ModelSpec, locate, manifest, open_session, spec

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

    def __init__(self, model: ModelSpec, score_threshold: float, nms_iou: float,
                 size: tuple[int, int] | None = None) -> None:
        self.grid, self.stride = yolox_grid(size or model.input_size, model.strides)
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


def _multiple_of_32(v: float) -> int:
    return max(32, int(round(v / 32)) * 32)


def input_size(frame_hw: tuple[int, int], shipped: tuple[int, int], setting: str, auto_scale: float) -> tuple[int, int]:
    """The network input (h, w) for frames of `frame_hw` (pure): an explicit "HxW", or with "auto" the shipped
    size unless its letterbox shrinks the frame below `auto_scale`, then the frame's aspect at that scale."""
    if setting != "auto":
        h, w = (int(v) for v in setting.lower().split("x"))
        return h, w
    fh, fw = frame_hw
    if min(shipped[0] / fh, shipped[1] / fw) >= auto_scale:
        return shipped
    return _multiple_of_32(fh * auto_scale), _multiple_of_32(fw * auto_scale)


class Detector:
    """onnxruntime sessions plus pre/post-processing; one instance serves every camera, each at its input size."""

    def __init__(self, settings: DetectorSettings = DetectorSettings()) -> None:
        self.settings = settings
        try:  # the model layer's errors are the user's to fix, like every other bad setting
            self.spec = spec(settings.model)
            self.path = locate(self.spec, settings.model_path, settings.model_dir)
            self.session = self._open(self.spec, self.path)
        except ModelError as e:
            raise UserError(str(e)) from None
        self.providers: list[str] = self.session.get_providers()
        self._any_size = next((m for m in manifest().values() if m.derived_from == self.spec.name), None)
        self._dynamic = None  # the derived graph's session, opened at the first frame that needs it
        self._decoders: dict[tuple[int, int], YoloxDecoder] = {}
        self._lock = threading.Lock()

    def _open(self, model: ModelSpec, path: Path):  # noqa: ANN202 - an onnxruntime InferenceSession
        s = self.settings
        return open_session(model, path, s.threads, s.fp16, s.engine_cache_dir)

    @property
    def name(self) -> str:
        return self.spec.name

    def input_size(self, frame_hw: tuple[int, int]) -> tuple[int, int]:
        return input_size(frame_hw, self.spec.input_size, self.settings.input_size, self.settings.auto_scale)

    def _session_for(self, size: tuple[int, int]):  # noqa: ANN202 - an onnxruntime InferenceSession
        if size == self.spec.input_size:
            return self.session
        with self._lock:
            if self._dynamic is None:
                from models.derive import derived_file

                if self._any_size is None:
                    raise UserError(f"model {self.spec.name} has no graph for other input sizes: "
                                    f"set [model] input_size = \"{self.spec.input_size[0]}x{self.spec.input_size[1]}\"")
                try:
                    self._dynamic = self._open(self._any_size, derived_file(self._any_size, self.path))
                except ModelError as e:
                    raise UserError(str(e)) from None
            return self._dynamic

    def _decoder(self, size: tuple[int, int]) -> YoloxDecoder:
        with self._lock:
            if size not in self._decoders:
                self._decoders[size] = YoloxDecoder(self.spec, self.settings.score_threshold, self.settings.nms_iou,
                                                    size)
            return self._decoders[size]

    def __call__(self, frame: np.ndarray) -> Detections:
        size = self.input_size(frame.shape[:2])
        blob, r = letterbox(frame, size)
        out = self._session_for(size).run([self.spec.output_name], {self.spec.input_name: blob})[0][0]
        return self._decoder(size)(out, r, frame.shape)


def concurrent_calls(threads: int) -> int:
    """`[model] threads` / `--threads`: how many single-threaded inference calls run at once (0 = one per core)."""
    return threads or len(os.sched_getaffinity(0))


def parallel_detector(settings: DetectorSettings) -> tuple[Detector, int]:
    """A detector for `settings.threads` single-threaded calls at once, and that number of calls.

    For a small model on a small box, parallel one-thread calls give more frames/s than one call on as many
    intra-op threads, at less CPU per frame (idle ones spin): measured in docs/benchmarks.md.
    """
    return Detector(settings.model_copy(update={"threads": 1})), concurrent_calls(settings.threads)
