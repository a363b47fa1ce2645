"""Graphs derived from a shipped detector file at setup: the same weights, any input size, any batch.

YOLOX-Nano is fully convolutional: its Resizes scale by factors and its three head Reshapes flatten with -1,
so only the declared shapes and the head's batch of 1 tie it to 416x416. The derived graph declares its
input [batch, 3, height, width] and output [batch, rows, 85] as symbols and reshapes with 0 (keep the batch):
one file serves every camera's input size and batches of several frames. Intermediate shape annotations are
dropped (onnxruntime infers them), so the bytes depend on the source file alone and their sha256 can be
recorded in the manifest. Derived files are never committed.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from models.registry import ModelError, ModelSpec, cache_dir


def _dynamic(src: Path) -> bytes:
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(src))
    graph = model.graph
    (inp,), (out,) = graph.input, graph.output
    for dim, name in zip(inp.type.tensor_type.shape.dim, ("batch", None, "height", "width")):
        if name is not None:
            dim.Clear()
            dim.dim_param = name
    for dim, name in zip(out.type.tensor_type.shape.dim, ("batch", "rows", None)):
        if name is not None:
            dim.Clear()
            dim.dim_param = name
    reshape_shapes = {n.input[1] for n in graph.node if n.op_type == "Reshape"}
    for init in graph.initializer:
        if init.name in reshape_shapes:
            shape = numpy_helper.to_array(init).copy()
            if shape[0] != 1:
                raise ModelError(f"model file {src}: a head Reshape to {shape.tolist()} does not start with the "
                                 "batch of 1 this derivation expects: not a YOLOX export it knows")
            shape[0] = 0  # keep the input's batch
            init.CopyFrom(numpy_helper.from_array(shape, init.name))
    del graph.value_info[:]
    return bytes(model.SerializeToString())


def derive(base: Path, derived: ModelSpec, dest: Path) -> Path:
    """Write `derived` (a manifest entry derived from the file at `base`) to `dest`; its sha256 must be the
    manifest's, and at the base's own input size it must give the base's output."""
    data = _dynamic(base)
    digest = hashlib.sha256(data).hexdigest()
    if digest != derived.sha256:
        raise ModelError(f"deriving {derived.file} from {base} gave sha256 {digest[:12]}..., the manifest expects "
                         f"{derived.sha256[:12]}...: the base file is not the manifest's (check its sha256)")
    _same_output(base, data)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.part")
    tmp.write_bytes(data)
    tmp.replace(dest)
    return dest


def _same_output(base: Path, derived: bytes) -> None:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    a = ort.InferenceSession(str(base), opts, providers=["CPUExecutionProvider"])
    b = ort.InferenceSession(derived, opts, providers=["CPUExecutionProvider"])
    shape = [int(d) for d in a.get_inputs()[0].shape]
    x = np.random.default_rng(0).uniform(0, 255, shape).astype(np.float32)
    if not np.array_equal(a.run(None, {a.get_inputs()[0].name: x})[0], b.run(None, {b.get_inputs()[0].name: x})[0]):
        raise ModelError(f"the graph derived from {base} does not reproduce its output: report this")


def derived_file(derived: ModelSpec, base: Path) -> Path:
    """The derived graph: beside the base file if installed there, else in the cache (made now if missing)."""
    for candidate in (base.with_name(derived.file), cache_dir() / "models" / derived.file):
        if candidate.is_file():
            return candidate
    try:
        return derive(base, derived, cache_dir() / "models" / derived.file)
    except OSError as e:
        raise ModelError(f"cannot write {derived.file} to {cache_dir() / 'models'}: {e.strerror}: "
                         "set CACHE_DIRECTORY to a writable directory") from None
