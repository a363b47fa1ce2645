"""`edge models quantize`: the int8 detector made from the float one, calibrated on the development footage.

The calibration frames are spread evenly over each video the manifest entry names (under the data folder:
$EDGE_DATA_DIR, default ../shared/data) and letterboxed exactly as the detector does with the default settings,
each at the input size `input_size = "auto"` gives its frames, so that every size the box runs is calibrated.
The footage is for research use only and never shipped: make the file where it is, install it on boxes like
the model file (its sha256 is in the manifest).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from edge.config import DetectorSettings, Precision
from edge.errors import UserError
from edge.video.file import FileSource
from edge.vision.detector import input_size, letterbox
from models.derive import derived_file
from models.quantize import quantize
from models.registry import ModelError, ModelSpec, cache_dir, derived_spec, locate, spec


def spread(count: int, wanted: int) -> set[int]:
    """`wanted` 1-based frame indices spread evenly over `count` frames, first and last included."""
    return set(np.linspace(1, count, min(wanted, count)).round().astype(int).tolist()) if count > 0 else set()


def calibration_inputs(videos: list[Path], per_video: int, shipped: tuple[int, int],
                       settings: DetectorSettings = DetectorSettings()) -> Iterator[np.ndarray]:
    """Network inputs of `per_video` frames of each video, letterboxed as the detector does."""
    for video in videos:
        source = FileSource(video)
        try:
            wanted = spread(source.frame_count, per_video)
            for frame in source:
                if frame.index in wanted:
                    size = input_size(frame.image.shape[:2], shipped, settings.input_size, settings.auto_scale)
                    yield letterbox(frame.image, size)[0]
        finally:
            source.close()


def int8_target(model: str) -> tuple[ModelSpec, ModelSpec, ModelSpec]:
    """The manifest entries: the shipped float model, its any-size graph, and that graph's int8 quantisation."""
    base = spec(model)
    any_size = derived_spec(base.name)
    int8 = derived_spec(any_size.name, Precision.INT8) if any_size else None
    if any_size is None or int8 is None:
        raise UserError(f"model {model} has no int8 graph in its manifest: nothing to quantize")
    return base, any_size, int8


def make_int8(data: Path, out: Path | None = None, model: str = "yolox-nano",
              model_path: Path | None = None) -> tuple[Path, ModelSpec]:
    """Quantize `model` on the footage under `data`; write it to `out` (default: the cache's models folder)."""
    try:
        base, any_size, int8 = int8_target(model)
        videos = [data / v for v in int8.calibration]
        if missing := [str(v) for v in videos if not v.is_file()]:
            raise UserError(f"calibration footage {', '.join(missing)} not found: set EDGE_DATA_DIR (or --data) to "
                            "the folder holding footage/")
        fp32 = derived_file(any_size, locate(base, model_path))
        inputs = calibration_inputs(videos, int8.calibration_frames, base.input_size)
        dest = (out or cache_dir() / "models") / int8.file
        return quantize(fp32, int8, inputs, dest), int8
    except ModelError as e:
        raise UserError(str(e)) from None
