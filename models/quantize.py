"""An int8 graph made at setup from the any-size graph: onnxruntime static quantisation (QDQ, per-channel).

Activations are uint8, their ranges taken from calibration inputs (the caller letterboxes them as the detector
does); weights are int8 per output channel. u8s8 is what onnxruntime's x86 kernels run fastest: s8 activations
made every convolution twice as slow here (docs/benchmarks.md). Three parts stay float, the first two found by
quantising one stage of the network at a time and measuring the person scores against the float graph on the
footage, the third by the suite's counts:
- the stem: the first convolution after the space-to-depth input and the depthwise + pointwise block after it.
  Quantised alone, either cost 0.15-0.22 of mean person-score error against the float graph (the first one's
  output keeps 25 dB of signal to quantisation noise, most tensors 35-55 dB); every later stage about 0.015;
- the head of the coarsest level (stride 32, which finds the largest people, those nearest the camera):
  pooled suite F1 0.958-0.965 with it int8, 0.972-0.979 float (fp32 0.972), at 50, 100 or 300 calibration
  frames per video, for 1.3% of the graph's multiply-adds (docs/accuracy.md);
- the decode tail (objectness and class sigmoids, the concatenations, reshapes and transpose of the output):
  box offsets and probabilities in one uint8 range would share one step.
Calibration ranges are the means of the per-input minima and maxima (onnxruntime's "moving average" over one
pass; the extremes gave 0.062 mean person-score error instead of 0.048), rounded outward to 3 significant digits,
so that the last bits of another CPU's float arithmetic do not change the file; its sha256 (in the manifest)
still changes with the onnxruntime and onnx versions, which write the graph, and with the calibration frames.
Made files are never committed.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from models.registry import ModelError, ModelSpec, cache_dir, search_dirs

OPSET = 13  # per-channel QuantizeLinear/DequantizeLinear (the axis attribute) needs opset 13
STEM_CONVS = 3  # the first convolution and the depthwise + pointwise pair after it stay float
HEAD_CONVS = 12  # so does the coarsest level's head: its 1x1 stem, two depthwise + pointwise pairs per branch
                 # (class, box), and its three predictions: the last convolutions of the graph
SIGNIFICANT = 3


def made_with() -> str:
    """What writes the quantised graph: the manifest's sha256 holds for these versions only."""
    import onnx
    import onnxruntime

    return f"onnxruntime {onnxruntime.__version__}; onnx {onnx.__version__}"


def float_nodes(graph) -> list[str]:  # noqa: ANN001 - an onnx GraphProto
    """Names of the nodes left in float: the stem's and the coarsest head's convolutions with their SiLUs, and the
    decode tail."""
    consumers: dict[str, list] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    producer = {out: node for node in graph.node for out in node.output}
    keep: list = []
    convs = [n for n in graph.node if n.op_type == "Conv"]
    for conv in convs[:STEM_CONVS] + convs[-HEAD_CONVS:]:
        keep += [conv, *consumers.get(conv.output[0], [])]  # its SiLU, x * sigmoid(x): both read the output
    (output,) = graph.output
    stack = [producer[output.name]]
    while stack:  # back from the output through everything that is not a convolution
        node = stack.pop()
        if node.op_type == "Conv" or node in keep:
            continue
        keep.append(node)
        stack += [producer[i] for i in node.input if i in producer]
    return sorted({n.name for n in keep})


def round_out(values: np.ndarray, up: bool) -> np.ndarray:
    """Range ends rounded away from the range's inside to `SIGNIFICANT` digits: the range only widens."""
    v = np.asarray(values, np.float64)
    step = 10.0 ** (np.floor(np.log10(np.where(v == 0, 1.0, np.abs(v)))) - (SIGNIFICANT - 1))
    return ((np.ceil if up else np.floor)(v / step) * step).astype(np.float32)


class _QuietQuantizer(logging.Filter):
    """onnxruntime's quantiser warns on the root logger that the graph was not pre-processed (shape inference and
    its graph optimiser): left out on purpose, so that the bytes depend on fewer things; what was measured
    (docs/accuracy.md, docs/benchmarks.md) is this graph."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "onnxruntime" not in record.pathname


class _Inputs:
    """onnxruntime's CalibrationDataReader over the caller's network inputs."""

    def __init__(self, name: str, inputs: Iterable[np.ndarray]) -> None:
        self.name, self.inputs, self.count = name, iter(inputs), 0

    def get_next(self) -> dict[str, np.ndarray] | None:
        x = next(self.inputs, None)
        if x is None:
            return None
        self.count += 1
        return {self.name: x}


def _calibrate(model: Path, input_name: str, inputs: Iterable[np.ndarray], work: Path):  # noqa: ANN202
    from onnxruntime.quantization import CalibrationMethod, TensorData, TensorsData, create_calibrator

    calibrator = create_calibrator(model, None, augmented_model_path=str(work / "augmented.onnx"),
                                   calibrate_method=CalibrationMethod.MinMax,
                                   extra_options={"moving_average": True})  # one pass: the mean over inputs
    reader = _Inputs(input_name, inputs)
    calibrator.collect_data(reader)  # type: ignore[arg-type]
    if reader.count == 0:
        raise ModelError("no calibration frames: check the footage folder")
    ranges = {}
    for name, data in calibrator.compute_data().items():
        low, high = data.range_value
        ranges[name] = TensorData(lowest=round_out(low, up=False), highest=round_out(high, up=True))
    return TensorsData(CalibrationMethod.MinMax, ranges), reader.count


def quantized_bytes(fp32: Path, input_name: str, inputs: Iterable[np.ndarray]) -> tuple[bytes, int]:
    """The int8 graph of the float graph at `fp32`, calibrated on `inputs` (NCHW float32, any sizes it takes),
    and how many inputs were used."""
    quiet = _QuietQuantizer()
    logging.getLogger().addFilter(quiet)
    try:
        return _quantized_bytes(fp32, input_name, inputs)
    finally:
        logging.getLogger().removeFilter(quiet)


def _quantized_bytes(fp32: Path, input_name: str, inputs: Iterable[np.ndarray]) -> tuple[bytes, int]:
    import onnx
    from onnx import version_converter
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static, save_tensors_data

    with tempfile.TemporaryDirectory(prefix="edge-quantize-") as tmp:
        work = Path(tmp)
        model = version_converter.convert_version(onnx.load(str(fp32)), OPSET)
        onnx.save(model, str(work / "float.onnx"))
        ranges, used = _calibrate(work / "float.onnx", input_name, inputs, work)
        save_tensors_data(ranges, work / "ranges.json")
        quantize_static(str(work / "float.onnx"), str(work / "int8.onnx"), None, quant_format=QuantFormat.QDQ,
                        per_channel=True, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        nodes_to_exclude=float_nodes(model.graph), calibrate_method=CalibrationMethod.MinMax,
                        calibration_cache_path=work / "ranges.json")
        out = onnx.load(str(work / "int8.onnx"))
    onnx.helper.set_model_props(out, {"made_with": made_with(), "calibration_inputs": str(used)})
    return bytes(out.SerializeToString()), used


def quantize(fp32: Path, target: ModelSpec, inputs: Iterable[np.ndarray], dest: Path) -> Path:
    """Write the int8 graph `target` (a manifest entry) made from `fp32` to `dest`, if its sha256 is the
    manifest's; otherwise refuse, saying why it differs."""
    data, _ = quantized_bytes(fp32, target.input_name, inputs)
    digest = hashlib.sha256(data).hexdigest()
    if digest != target.sha256:
        here = made_with()
        cause = (f"the manifest's file was made with {target.made_with} and this is {here}: quantize with those "
                 "versions, or keep [model] precision = \"fp32\""
                 if target.made_with != here else
                 f"same versions as the manifest's ({here}), so the calibration frames differ: check the footage "
                 "against the SHA256SUMS of its folders")
        raise ModelError(f"quantizing gave {target.file} with sha256 {digest[:12]}..., the manifest expects "
                         f"{target.sha256[:12]}...: {cause}")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.part")
    tmp.write_bytes(data)
    tmp.replace(dest)
    return dest


def made_dirs(model_dir: Path | None = None) -> Iterator[Path]:
    """Where a made (quantised) file is looked for: the model search directories, then the cache."""
    yield from search_dirs(model_dir)
    yield cache_dir() / "models"


def made_file(target: ModelSpec, model_dir: Path | None = None) -> Path:
    """The installed int8 file, or a one-line error saying how to make it."""
    for d in made_dirs(model_dir):
        if (d / target.file).is_file():
            return d / target.file
    where = ", ".join(str(d) for d in made_dirs(model_dir))
    raise ModelError(f"{target.file} not found in {where}: make it with `edge models quantize` (or set "
                     "[model] precision = \"fp32\")")
