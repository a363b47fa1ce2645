"""int8: `edge models quantize` makes the manifest's file from the real model and footage; the detector runs it;
a file or a quantisation that differs is refused naming why."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import onnx
import pytest
from typer.testing import CliRunner

from edge.cli import app
from edge.config import DetectorSettings, Precision
from edge.errors import UserError
from edge.vision.calibration import calibration_inputs, int8_target, spread
from edge.vision.detector import Detector
from models.derive import derived_file
from models.quantize import float_nodes, made_with, quantize, round_out
from models.registry import ModelError, locate, sha256_of
from tests.support.scenes import frames

BASE, ANY_SIZE, INT8 = int8_target("yolox-nano")


@pytest.fixture(scope="module")
def int8_dir(tmp_path_factory, data, model_path) -> Path:
    """`edge models quantize` once for the module (about a minute on 2 cores: 300 frames of the footage)."""
    out = tmp_path_factory.mktemp("int8")
    result = CliRunner().invoke(app, ["models", "quantize", "--model", str(model_path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"wrote {out / INT8.file} (yolox-nano-int8, sha256 {INT8.sha256[:12]}")
    return out


def test_quantize_makes_the_manifests_file(int8_dir):
    assert sha256_of(int8_dir / INT8.file) == INT8.sha256  # deterministic: the same bytes on every run
    meta = {p.key: p.value for p in onnx.load(str(int8_dir / INT8.file)).metadata_props}
    assert meta == {"made_with": made_with(), "calibration_inputs": "300"}


@pytest.fixture(scope="module")
def pets_frames(pets_video) -> list[np.ndarray]:
    every = frames(pets_video, 600)
    return [every[0], every[199], every[599]]


def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    lt, rb = np.maximum(a[:, None, :2], b[None, :, :2]), np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=2)
    area = lambda x: np.prod(x[:, 2:] - x[:, :2], axis=1)  # noqa: E731
    return inter / (area(a)[:, None] + area(b)[None, :] - inter)


def test_int8_detector_finds_the_people_fp32_finds(int8_dir, model_path, pets_frames):
    settings = DetectorSettings(model_path=model_path, model_dir=int8_dir, score_threshold=0.3)
    fp32 = Detector(settings)
    int8 = Detector(settings.model_copy(update={"precision": Precision.INT8}))
    assert int8.name == "yolox-nano-int8" and fp32.name == "yolox-nano"
    found = total = 0
    for frame in pets_frames:
        a, b = fp32(frame), int8(frame)
        total += len(a)
        found += int((iou(a.xyxy, b.xyxy).max(axis=1) >= 0.5).sum()) if len(b) else 0
        assert abs(len(a) - len(b)) <= 2
    assert total >= 15 and found >= 0.85 * total


def test_int8_takes_the_large_input_sizes_and_batches(int8_dir, model_path):
    int8 = Detector(DetectorSettings(model_path=model_path, model_dir=int8_dir, precision=Precision.INT8))
    wide = np.zeros((720, 1280, 3), np.uint8)
    assert int8.input_size(wide.shape[:2]) == (480, 832)
    assert [len(d) for d in int8.batch([wide, wide])] == [0, 0]


def test_int8_without_its_file_says_how_to_make_it(model_path, tmp_path, monkeypatch):
    monkeypatch.setenv("CACHE_DIRECTORY", str(tmp_path))
    monkeypatch.setenv("EDGE_MODEL_DIR", str(tmp_path))
    with pytest.raises(UserError) as e:
        Detector(DetectorSettings(model_path=model_path, precision=Precision.INT8))
    msg = str(e.value)
    assert "yolox_nano_int8.onnx not found" in msg and "edge models quantize" in msg and "\n" not in msg


def test_an_int8_file_made_by_other_versions_is_refused_naming_them(int8_dir, model_path, tmp_path):
    model = onnx.load(str(int8_dir / INT8.file))
    onnx.helper.set_model_props(model, {"made_with": "onnxruntime 1.31.0; onnx 1.23.2", "calibration_inputs": "300"})
    onnx.save(model, str(tmp_path / INT8.file))
    with pytest.raises(UserError) as e:
        Detector(DetectorSettings(model_path=model_path, model_dir=tmp_path, precision=Precision.INT8))
    msg = str(e.value)
    assert f"manifest expects {INT8.sha256[:12]}" in msg and "\n" not in msg
    assert "made with onnxruntime 1.31.0; onnx 1.23.2, the manifest's with onnxruntime 1.32.0" in msg


def few_inputs(data: Path, count: int = 3):
    return calibration_inputs([data / INT8.calibration[0]], count, BASE.input_size)


@pytest.mark.parametrize("versions, cause", [
    (None, "same versions as the manifest's"),  # right versions, other frames
    ("onnxruntime 1.31.0; onnx 1.23.2", "was made with onnxruntime 1.31.0; onnx 1.23.2 and this is onnxruntime"),
])
def test_a_quantisation_that_differs_from_the_manifest_is_refused_and_nothing_written(
    data, model_path, tmp_path, versions, cause
):
    target = INT8 if versions is None else dataclasses.replace(INT8, made_with=versions)
    dest = tmp_path / INT8.file
    with pytest.raises(ModelError) as e:
        quantize(derived_file(ANY_SIZE, locate(BASE, model_path)), target, few_inputs(data), dest)
    assert cause in str(e.value) and f"manifest expects {INT8.sha256[:12]}" in str(e.value) and "\n" not in str(e.value)
    assert list(tmp_path.iterdir()) == []


def test_quantize_without_the_footage_is_one_line(tmp_path, model_path):
    result = CliRunner().invoke(app, ["models", "quantize", "--model", str(model_path), "--data", str(tmp_path),
                                      "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "calibration footage" in result.output and "not found: set EDGE_DATA_DIR" in result.output
    assert "Traceback" not in result.output


def test_calibration_frames_are_spread_and_letterboxed_as_the_detector_does(data):
    assert spread(145, 100) == set(np.linspace(1, 145, 100).round().astype(int).tolist())
    assert min(spread(795, 100)) == 1 and max(spread(795, 100)) == 795 and len(spread(795, 100)) == 100
    kitti, mot = (calibration_inputs([data / v], 2, BASE.input_size) for v in INT8.calibration[2:0:-1])
    assert [x.shape for x in kitti] == [(1, 3, 256, 800)] * 2  # the sizes `input_size = "auto"` runs them at
    assert [x.shape for x in mot] == [(1, 3, 480, 832)] * 2


def test_the_stem_the_coarsest_head_and_the_decode_tail_stay_float(model_path):
    graph = onnx.load(str(derived_file(ANY_SIZE, locate(BASE, model_path)))).graph
    kept = set(float_nodes(graph))
    convs = [n.name for n in graph.node if n.op_type == "Conv"]
    assert set(convs[:3] + convs[-12:]) <= kept and not set(convs[3:-12]) & kept  # every other convolution is int8
    weights = {i.name: list(i.dims) for i in graph.initializer}
    stem = next(n for n in graph.node if n.name == convs[-12])
    assert weights[stem.input[1]] == [64, 256, 1, 1]  # the coarsest head's 1x1 stem: it reads stride 32's 256 channels
    kinds = sorted({n.op_type for n in graph.node if n.name in kept})
    assert kinds == ["Concat", "Conv", "Mul", "Reshape", "Sigmoid", "Transpose"]


def test_calibration_ranges_only_widen_to_three_significant_digits():
    low = round_out(np.array([-1.23456, 0.0, 0.0123456, 987.65], np.float32), up=False)
    high = round_out(np.array([-1.23456, 0.0, 0.0123456, 987.65], np.float32), up=True)
    assert low.tolist() == pytest.approx([-1.24, 0.0, 0.0123, 987.0])
    assert high.tolist() == pytest.approx([-1.23, 0.0, 0.0124, 988.0])

