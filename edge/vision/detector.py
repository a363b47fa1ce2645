"""Person detection with an ONNX YOLOX model: letterbox, grid decode, NMS; the input size chosen per camera.

The shipped graph sees a 416x416 letterbox: a 60-pixel-tall person in a 1280x720 frame becomes 20 pixels and
far people vanish. With `input_size = "auto"` a frame that the letterbox would shrink below `auto_scale` of its
size is detected at that scale instead; every frame is detected on an input of its own aspect (the smallest
multiple of 32 that holds it), through a graph derived from the same weights (models/derive.py), so no
inference is spent on padding: a 4:3 camera at the shipped scale costs 416x320, a quarter less than 416x416.
"""

from __future__ import annotations

import math
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np

from edge.config import DetectorSettings, Precision
from edge.errors import UserError
from edge.vision.batching import Probe
from edge.vision.detections import Detections, Region
from models.quantize import made_file
from models.registry import ModelError, ModelSpec, derived_spec, locate, open_session, spec

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
    return max(32, math.ceil(v / 32 - 1e-9) * 32)


def _span(lo: int, hi: int, length: float, limit: int) -> tuple[int, int]:
    """[lo, hi) grown evenly to `length` pixels, moved or cut to stay within [0, limit)."""
    grow = max(0.0, length - (hi - lo)) / 2
    start = max(0, min(int(lo - grow), limit - math.ceil(length)))
    return start, min(limit, start + math.ceil(length))


def input_size(frame_hw: tuple[int, int], shipped: tuple[int, int], setting: str, auto_scale: float) -> tuple[int, int]:
    """The network input (h, w) for frames of `frame_hw` (pure): an explicit "HxW", or with "auto" the frame's
    aspect at the shipped letterbox's scale, or at `auto_scale` where that letterbox would shrink it more."""
    if setting != "auto":
        h, w = (int(v) for v in setting.lower().split("x"))
        return h, w
    fh, fw = frame_hw
    scale = max(min(shipped[0] / fh, shipped[1] / fw), auto_scale)
    return _multiple_of_32(fh * scale), _multiple_of_32(fw * scale)


class Detector:
    """onnxruntime sessions plus pre/post-processing; one instance serves every camera, each at its input size.

    With `precision = "int8"` every input size goes through the int8 graph (it takes any size and batch)."""

    def __init__(self, settings: DetectorSettings = DetectorSettings()) -> None:
        self.settings = settings
        try:  # the model layer's errors are the user's to fix, like every other bad setting
            self.spec = spec(settings.model)
            self.path = locate(self.spec, settings.model_path, settings.model_dir)
            self._any_size = derived_spec(self.spec.name)
            self.int8 = settings.precision == Precision.INT8
            if self.int8:
                self.weights = self._int8_spec()
                self.session = self._open(self.weights, made_file(self.weights, settings.model_dir))
            else:
                self.weights = self.spec
                self.session = self._open(self.spec, self.path)
        except ModelError as e:
            raise UserError(str(e)) from None
        self.providers: list[str] = self.session.get_providers()
        self._dynamic = self.session if self.int8 else None  # any-size session, opened when first needed
        self._decoders: dict[tuple[int, int], YoloxDecoder] = {}
        self._lock = threading.Lock()

    def _int8_spec(self) -> ModelSpec:
        int8 = derived_spec(self._any_size.name, Precision.INT8) if self._any_size else None
        if int8 is None:
            raise ModelError(f"model {self.spec.name} has no int8 graph in the manifest: set [model] precision = "
                             "\"fp32\"")
        return int8

    def _open(self, model: ModelSpec, path: Path):  # noqa: ANN202 - an onnxruntime InferenceSession
        s = self.settings
        return open_session(model, path, s.threads, s.fp16, s.engine_cache_dir)

    @property
    def name(self) -> str:
        """The weights that detect: stored with every crossing."""
        return self.weights.name

    def input_size(self, frame_hw: tuple[int, int]) -> tuple[int, int]:
        return input_size(frame_hw, self.spec.input_size, self.settings.input_size, self.settings.auto_scale)

    def _any_size_session(self):  # noqa: ANN202 - an onnxruntime InferenceSession
        with self._lock:
            if self._dynamic is None:
                from models.derive import derived_file

                if self._any_size is None:
                    raise UserError(f"model {self.spec.name} has no graph for other input sizes or batches: "
                                    f"set [model] input_size = \"{self.spec.input_size[0]}x{self.spec.input_size[1]}\" "
                                    "and batching = \"off\"")
                try:
                    self._dynamic = self._open(self._any_size, derived_file(self._any_size, self.path))
                except ModelError as e:
                    raise UserError(str(e)) from None
            return self._dynamic

    def _session_for(self, size: tuple[int, int], batch: int = 1):  # noqa: ANN202 - an onnxruntime InferenceSession
        if size == self.spec.input_size and batch == 1 and not self.int8:
            return self.session
        return self._any_size_session()

    def _decoder(self, size: tuple[int, int]) -> YoloxDecoder:
        with self._lock:
            if size not in self._decoders:
                self._decoders[size] = YoloxDecoder(self.spec, self.settings.score_threshold, self.settings.nms_iou,
                                                    size)
            return self._decoders[size]

    def __call__(self, frame: np.ndarray) -> Detections:
        return self._detect(frame, self.input_size(frame.shape[:2]))

    def _detect(self, image: np.ndarray, size: tuple[int, int]) -> Detections:
        """`image` letterboxed into a `size` input, in one call; boxes in its pixels."""
        blob, r = letterbox(image, size)
        out = self._session_for(size).run([self.spec.output_name], {self.spec.input_name: blob})[0][0]
        return self._decoder(size)(out, r, image.shape)

    def region(self, frame: np.ndarray, box: Region) -> Detections:
        """People in `box` (x0, y0, x1, y1 pixels) of `frame`, seen at the scale the whole frame is detected at, on
        an input of the box's size: the cost of its share of the picture. A box cut by the region's edge inside
        the frame is dropped: it is part of a person, whom the next whole-frame look sees entire."""
        h, w = frame.shape[:2]
        full = self.input_size((h, w))
        r = min(full[0] / h, full[1] / w)
        size = (_multiple_of_32((box[3] - box[1]) * r), _multiple_of_32((box[2] - box[0]) * r))
        # the box grown to fill that input at the whole frame's scale, where the frame has room: no padding
        y0, y1 = _span(box[1], box[3], size[0] / r, h)
        x0, x1 = _span(box[0], box[2], size[1] / r, w)
        found = self._detect(frame[y0:y1, x0:x1], size)
        xyxy = found.xyxy + np.array([x0, y0, x0, y0], np.float32)
        edge = 2.0
        cut = (((xyxy[:, 0] <= x0 + edge) & (x0 > 0)) | ((xyxy[:, 1] <= y0 + edge) & (y0 > 0))
               | ((xyxy[:, 2] >= x1 - edge) & (x1 < w)) | ((xyxy[:, 3] >= y1 - edge) & (y1 < h)))
        return Detections(xyxy[~cut], found.score[~cut])

    def batch(self, frames: list[np.ndarray]) -> list[Detections]:
        """Frames of one input size (several cameras) in one inference call."""
        if len(frames) == 1:
            return [self(frames[0])]
        size = self.input_size(frames[0].shape[:2])
        if any(self.input_size(f.shape[:2]) != size for f in frames):
            raise ValueError("a batch mixes input sizes: group frames by Detector.input_size first")
        blobs, scales = zip(*(letterbox(f, size) for f in frames))
        session = self._session_for(size, len(frames))
        out = session.run([self.spec.output_name], {self.spec.input_name: np.concatenate(blobs)})[0]
        decode = self._decoder(size)
        return [decode(rows, r, f.shape) for rows, r, f in zip(out, scales, frames)]


def concurrent_calls(threads: int) -> int:
    """`[model] threads` / `--threads`: how many single-threaded inference calls run at once (0 = one per core)."""
    return threads or len(os.sched_getaffinity(0))


def parallel_detector(settings: DetectorSettings) -> tuple[Detector, int]:
    """A detector for `settings.threads` single-threaded calls at once, and that number of calls.

    For a small model on a small box, parallel one-thread calls give more frames/s than one call on as many
    intra-op threads, at less CPU per frame (idle ones spin): measured in docs/benchmarks.md.
    """
    return Detector(settings.model_copy(update={"threads": 1})), concurrent_calls(settings.threads)


def batched_detector(settings: DetectorSettings) -> Detector:
    """A detector for one call at a time carrying a batch of frames, on as many intra-op threads as
    `settings.threads` calls would use."""
    return Detector(settings.model_copy(update={"threads": concurrent_calls(settings.threads)}))


def probe_batching(parallel: Detector, calls: int, batched: Detector, frames: int, rounds: int = 3) -> Probe:
    """Time `frames` frames at the shipped input size both ways, in turns after one warm-up of each: single calls
    on `parallel`, `calls` at once, and one call of all of them on `batched`."""
    h, w = parallel.spec.input_size
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (h, w, 3), np.uint8) for _ in range(frames)]
    single: list[float] = []
    batch: list[float] = []
    with ThreadPoolExecutor(calls, thread_name_prefix="probe") as pool:
        for i in range(rounds + 1):
            start = time.perf_counter()
            list(pool.map(parallel, images))
            middle = time.perf_counter()
            batched.batch(images)
            if i:  # the first round allocates and warms up
                single.append(middle - start)
                batch.append(time.perf_counter() - middle)
    return Probe(frames, tuple(single), tuple(batch))
