"""onnxruntime's static quantization as the accuracy benchmark (bench/accuracy.py) runs it:
the model prepared the way onnxruntime recommends (input shape fixed, quant_pre_process),
quantize_static to QDQ with a calibration cache so that one calibration per method serves
every variant, and timed single-model runs.
"""

from __future__ import annotations

import contextlib
import sys
import time
from pathlib import Path

import numpy as np


def ort_session(path: Path, threads: int):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def run_ort(path: Path, arrays: list[np.ndarray], threads: int = 1
            ) -> tuple[list[np.ndarray], float]:
    """Outputs (the first output of each run) and the mean milliseconds per run."""
    session = ort_session(path, threads)
    name = session.get_inputs()[0].name
    t0 = time.perf_counter()
    outs = [session.run(None, {name: a})[0] for a in arrays]
    return outs, 1000 * (time.perf_counter() - t0) / max(1, len(arrays))


class _Reader:
    """onnxruntime's CalibrationDataReader over preprocessed arrays."""

    def __init__(self, arrays: list[np.ndarray], name: str) -> None:
        self.items = iter([{name: a} for a in arrays])

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self.items, None)


def ort_prepare(onnx_path: Path, shape: tuple[int, ...], work: Path
                ) -> tuple[Path, float]:
    """The model with its input fixed to `shape`, through onnxruntime's
    quant_pre_process (constant folding, BatchNorm fusion, shape inference); and the MiB of
    float tensors one inference makes (what a histogram calibrator keeps per sample)."""
    import onnx
    import onnx.version_converter
    from onnxruntime.quantization.shape_inference import quant_pre_process

    model = onnx.load(str(onnx_path))
    for dim, value in zip(model.graph.input[0].type.tensor_type.shape.dim, shape):
        dim.Clear()
        dim.dim_value = value
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 13)
    if opset < 13:
        # per-channel QDQ needs DequantizeLinear's axis (opset 13); quantize_static would
        # otherwise write an invalid model for the opset-12 text detector
        model = onnx.version_converter.convert_version(model, 13)
    static, pre = work / "static.onnx", work / "pre.onnx"
    onnx.save(model, str(static))
    # symbolic shape inference asserts on the classifier's Concat; the shapes are static here
    quant_pre_process(str(static), str(pre), skip_symbolic_shape=True)
    total = 0
    for info in [*onnx.load(str(pre)).graph.value_info, *model.graph.output]:
        t = info.type.tensor_type
        dims = [d.dim_value for d in t.shape.dim]
        if t.elem_type == onnx.TensorProto.FLOAT and dims and all(d > 0 for d in dims):
            total += int(np.prod(dims)) * 4
    return pre, total / 2**20


def output_nodes(path: Path) -> list[str]:
    """Names of the nodes that make the model's outputs."""
    import onnx

    graph = onnx.load(str(path)).graph
    outputs = {o.name for o in graph.output}
    return [n.name for n in graph.node if outputs & set(n.output)]


def ort_quantize(pre: Path, arrays: list[np.ndarray], input_name: str, method: str,
                 act_type: str, work: Path, float_output: bool = False,
                 symmetric: bool = False) -> Path:
    """quantize_static QDQ, per-channel; the first call of a method calibrates on `arrays`
    and caches the ranges, later calls (other activation types) reuse them. `float_output`
    leaves the nodes that make the outputs in float, as kiln dequantizes its outputs (else a
    YOLOv8 head's final Concat shares one int8 scale between pixel boxes and [0, 1] scores).
    `symmetric` gives the activations zero point 0 (onnxruntime's ActivationSymmetric: the
    scheme of kiln's default target, int8-sym); by default they are affine."""
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    tag = ("_f32out" if float_output else "") + ("_sym" if symmetric else "")
    out = work / f"ort_{method}_{act_type}{tag}.onnx"
    cache = work / f"ort_{method}_ranges.json"
    reader = None if cache.exists() else _Reader(arrays, input_name)
    with contextlib.redirect_stdout(sys.stderr):
        quantize_static(str(pre), str(out), reader, quant_format=QuantFormat.QDQ,
                        per_channel=True, activation_type=getattr(QuantType, act_type),
                        weight_type=QuantType.QInt8,
                        nodes_to_exclude=output_nodes(pre) if float_output else None,
                        calibrate_method=getattr(CalibrationMethod, method),
                        calibration_providers=["CPUExecutionProvider"],
                        calibration_cache_path=str(cache),
                        extra_options={"ActivationSymmetric": symmetric})
    return out
