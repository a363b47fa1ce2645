"""Find a model file, verify it against the manifest and open it with onnxruntime."""

from __future__ import annotations

import hashlib
import os
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from models.paths import data_dir

DEFAULT_MODEL = "yolox-nano"


class ModelError(Exception):
    """A model name or file that is wrong (unknown, missing, corrupt, another model): install the right one."""

    exit_code = 2


@dataclass(frozen=True)
class ModelSpec:
    """One manifest entry: what a detector file must look like."""

    name: str
    family: str
    file: str
    sha256: str
    input_name: str
    input_shape: tuple[int | str, ...]   # a str is a symbolic dimension: any size at run time
    output_name: str
    output_shape: tuple[int | str, ...]
    strides: tuple[int, ...]
    classes: str
    person_class: int
    licence: str
    derived_from: str | None = None      # made at setup from that entry's file (models/derive.py, quantize.py)
    precision: str = "fp32"
    made_with: str | None = None         # a quantised file's bytes hold for these versions only
    calibration: tuple[str, ...] = ()    # videos under the data folder it is calibrated on ...
    calibration_frames: int = 0          # ... this many frames of each, spread evenly

    @property
    def input_size(self) -> tuple[int, int]:
        """(height, width) of a fixed-size network input."""
        h, w = self.input_shape[2], self.input_shape[3]
        if not (isinstance(h, int) and isinstance(w, int)):
            raise ModelError(f"model {self.name} takes any input size: choose one")
        return h, w


def manifest() -> dict[str, ModelSpec]:
    """All manifest entries by name."""
    raw = tomllib.loads(resources.files("models").joinpath("manifest.toml").read_text())
    out = {}
    for name, entry in raw.items():
        fields: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in entry.items()}
        out[name] = ModelSpec(name=name, **fields)
    return out


def spec(name: str) -> ModelSpec:
    specs = manifest()
    if name not in specs:
        raise ModelError(f"unknown model {name!r}: choose one of {', '.join(sorted(specs))}")
    return specs[name]


def derived_spec(base: str, precision: str = "fp32") -> ModelSpec | None:
    """The manifest entry made at setup from entry `base` (the any-size graph, or its int8 quantisation)."""
    return next((m for m in manifest().values() if m.derived_from == base and m.precision == precision), None)


def search_dirs(model_dir: Path | None = None) -> list[Path]:
    """Directories searched for model files, in order."""
    dirs = [model_dir] if model_dir else []
    if env := os.environ.get("EDGE_MODEL_DIR"):
        dirs.append(Path(env))
    dirs.append(data_dir() / "models")
    return dirs


def locate(model: ModelSpec, path: Path | None = None, model_dir: Path | None = None) -> Path:
    """`path` if given, else the first search directory holding the model's file."""
    if path is not None:
        if not path.is_file():
            raise ModelError(f"model file {path} does not exist: pass --model with the path to {model.file}")
        return path
    for d in search_dirs(model_dir):
        if (d / model.file).is_file():
            return d / model.file
    where = ", ".join(str(d) for d in search_dirs(model_dir))
    raise ModelError(f"model file {model.file} not found in {where}: pass --model PATH or set EDGE_MODEL_DIR")


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def verify_checksum(model: ModelSpec, path: Path, cause: str | None = None) -> None:
    digest = sha256_of(path)
    if digest != model.sha256:
        raise ModelError(
            f"model file {path} has sha256 {digest[:12]}..., manifest expects {model.sha256[:12]}... "
            f"for {model.name}: {cause or 'the file is corrupt or a different model; install the right file'}"
        )


PROVIDER_ORDER = (
    "TensorrtExecutionProvider",
    "CUDAExecutionProvider",
    "OpenVINOExecutionProvider",
    "CPUExecutionProvider",
)
Provider = str | tuple[str, dict[str, str]]


def available_providers() -> list[str]:
    """Installed execution providers in our order of preference."""
    import onnxruntime as ort

    installed = set(ort.get_available_providers())
    return [p for p in PROVIDER_ORDER if p in installed]


def cache_dir() -> Path:
    """What the box makes for itself (derived graphs, TensorRT engines): systemd's CacheDirectory= if set, else
    ~/.cache/edge-counter."""
    return Path(os.environ.get("CACHE_DIRECTORY") or Path.home() / ".cache" / "edge-counter")


def engine_cache_dir() -> Path:
    """Where TensorRT keeps the engines it builds."""
    return cache_dir() / "tensorrt"


def session_providers(installed: list[str], cache_dir: Path, fp16: bool) -> list[Provider]:
    """The providers to open a session with, best first, with their options.

    TensorRT caches its engines and timing data in `cache_dir`: building an engine takes minutes on a Jetson,
    loading a cached one seconds (the cache is keyed by model and GPU, so a new model or device rebuilds).
    """
    out: list[Provider] = []
    for name in installed:
        if name == "TensorrtExecutionProvider":
            out.append(
                (
                    name,
                    {
                        "trt_engine_cache_enable": "True",
                        "trt_engine_cache_path": str(cache_dir),
                        "trt_timing_cache_enable": "True",
                        "trt_timing_cache_path": str(cache_dir),
                        "trt_fp16_enable": str(fp16),
                    },
                )
            )
        else:
            out.append(name)
    return out


def open_session(
    model: ModelSpec, path: Path, threads: int = 0, fp16: bool = True, cache_dir: Path | None = None
):  # -> onnxruntime.InferenceSession
    """Open an inference session and verify the file: loadable, input/output names and shapes, then sha256."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    installed = available_providers()
    cache = cache_dir or engine_cache_dir()
    if "TensorrtExecutionProvider" in installed:
        try:
            cache.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise ModelError(
                f"cannot create the TensorRT engine cache {cache}: {e.strerror}: "
                "set [model] engine_cache_dir to a writable directory"
            ) from None
    try:
        session = ort.InferenceSession(str(path), opts, providers=session_providers(installed, cache, fp16))
    except Exception as e:  # onnxruntime raises its own Fail/InvalidGraph types
        raise ModelError(
            f"model file {path} cannot be loaded by onnxruntime ({str(e).splitlines()[0][:160]}): "
            "replace it with a valid ONNX file"
        ) from None
    check_io(model, path, session)
    verify_checksum(model, path, _other_versions(model, session))
    return session


def _other_versions(model: ModelSpec, session) -> str | None:  # noqa: ANN001 - an onnxruntime InferenceSession
    """Why a file made at setup differs from the manifest's, when the versions it names say so."""
    made = session.get_modelmeta().custom_metadata_map.get("made_with")
    if model.made_with is None or made is None or made == model.made_with:
        return None
    return (f"it was made with {made}, the manifest's with {model.made_with}: make it again with `edge models "
            "quantize` under those versions, or set [model] precision = \"fp32\"")


def check_io(model: ModelSpec, path: Path, session) -> None:
    inputs, outputs = session.get_inputs(), session.get_outputs()
    got_in = [(i.name, tuple(i.shape)) for i in inputs]
    got_out = [(o.name, tuple(o.shape)) for o in outputs]
    if got_in != [(model.input_name, model.input_shape)] or got_out[:1] != [(model.output_name, model.output_shape)]:
        raise ModelError(
            f"model file {path} has inputs {got_in} and outputs {got_out}, manifest entry {model.name} "
            f"expects {model.input_name}{list(model.input_shape)} -> {model.output_name}{list(model.output_shape)}"
        )
