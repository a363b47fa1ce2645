"""Model lookup and verification: sha256, loadability and input/output shapes."""

import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from models.registry import ModelError, engine_cache_dir, locate, manifest, open_session, session_providers, spec

NANO = spec("yolox-nano")


def test_manifest_describes_yolox_nano():
    m = manifest()["yolox-nano"]
    assert (m.family, m.file, m.person_class, m.input_size) == ("yolox", "yolox_nano.onnx", 0, (416, 416))
    assert m.output_shape == (1, 3549, 85) and len(m.sha256) == 64 and m.licence


def test_lookup_order(tmp_path, model_path, monkeypatch):
    explicit, configured, env = tmp_path / "x.onnx", tmp_path / "conf", tmp_path / "env"
    for d in (configured, env):
        d.mkdir()
        shutil.copy(model_path, d / NANO.file)
    shutil.copy(model_path, explicit)
    monkeypatch.setenv("EDGE_MODEL_DIR", str(env))
    assert locate(NANO, explicit, configured) == explicit
    assert locate(NANO, None, configured) == configured / NANO.file
    assert locate(NANO) == env / NANO.file
    monkeypatch.delenv("EDGE_MODEL_DIR")
    assert locate(NANO) == model_path  # ../shared/data/models by default


def test_missing_model_names_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.setenv("EDGE_MODEL_DIR", str(tmp_path))
    monkeypatch.setenv("EDGE_DATA_DIR", str(tmp_path))
    with pytest.raises(ModelError, match=r"yolox_nano.onnx not found in .*--model PATH"):
        locate(NANO)
    with pytest.raises(ModelError, match="does not exist"):
        locate(NANO, tmp_path / "nope.onnx")


def test_real_model_opens(model_path):
    session = open_session(NANO, model_path, threads=1)
    out = session.run(None, {"images": np.zeros((1, 3, 416, 416), np.float32)})[0]
    assert out.shape == (1, 3549, 85)


def test_corrupt_model_is_refused(tmp_path, model_path):
    bad = tmp_path / NANO.file
    bad.write_bytes(model_path.read_bytes()[: 100_000])
    with pytest.raises(ModelError) as e:
        open_session(NANO, bad)
    assert str(bad) in str(e.value) and "cannot be loaded" in str(e.value) and "\n" not in str(e.value)


def test_tampered_weights_fail_the_checksum(tmp_path, model_path):
    m = onnx.load(str(model_path))
    w = m.graph.initializer[0]
    arr = onnx.numpy_helper.to_array(w).copy()
    arr.flat[0] += 1.0
    w.CopyFrom(onnx.numpy_helper.from_array(arr, w.name))
    bad = tmp_path / NANO.file
    onnx.save(m, str(bad))
    with pytest.raises(ModelError, match=r"has sha256 .* manifest expects .* install the right file"):
        open_session(NANO, bad)


def test_wrong_shaped_model_is_refused(tmp_path):
    x = helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, 320, 320])
    y = helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 3, 320, 320])
    graph = helper.make_graph([helper.make_node("Identity", ["images"], ["output"])], "g", [x], [y])
    bad = tmp_path / NANO.file
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), str(bad))
    with pytest.raises(
        ModelError, match=r"has inputs \[\('images', \(1, 3, 320, 320\)\)\].*expects images\[1, 3, 416, 416\]"
    ):
        open_session(NANO, bad)


def test_unknown_model_name():
    with pytest.raises(ModelError, match="unknown model 'yolo9'"):
        spec("yolo9")


def test_tensorrt_caches_its_engines_and_other_providers_keep_their_defaults(tmp_path):
    installed = ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]
    trt, *rest = session_providers(installed, tmp_path / "trt", fp16=False)
    assert rest == ["CUDAExecutionProvider", "CPUExecutionProvider"]
    name, options = trt
    assert name == "TensorrtExecutionProvider"
    assert options["trt_engine_cache_enable"] == "True" and options["trt_engine_cache_path"] == str(tmp_path / "trt")
    assert options["trt_timing_cache_enable"] == "True" and options["trt_fp16_enable"] == "False"
    assert session_providers(["CPUExecutionProvider"], tmp_path, fp16=True) == ["CPUExecutionProvider"]


def test_engine_cache_follows_systemd_cache_directory(monkeypatch, tmp_path, model_path):
    monkeypatch.setenv("CACHE_DIRECTORY", str(tmp_path / "cache"))
    assert engine_cache_dir() == tmp_path / "cache" / "tensorrt"
    monkeypatch.delenv("CACHE_DIRECTORY")
    assert engine_cache_dir() == Path.home() / ".cache" / "edge-counter" / "tensorrt"
    open_session(NANO, model_path, threads=1, cache_dir=tmp_path / "unused")  # CPU here: no TensorRT, no cache
    assert not (tmp_path / "unused").exists()
