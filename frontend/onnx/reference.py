"""The float reference: an ONNX model run by onnxruntime, every intermediate tensor by name.

To see intermediate tensors, every node output is made a graph output (onnxruntime keeps
what it must return, so this also keeps it from fusing them away; graph optimizations are
off anyway, and one thread is used so that results are the same run after run). A model
whose IR version is newer than the installed onnxruntime reads is run with its IR version
lowered, when its opsets allow it (the IR version only says which protobuf fields may
appear; what the ops mean is fixed by the opset).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import onnx
from onnx import helper


class ReferenceFailure(Exception):
    """onnxruntime cannot load or run the model; the message names the model and says why."""


def load_model(path: str | Path) -> onnx.ModelProto:
    path = Path(path)
    if not path.is_file():
        raise ReferenceFailure(f"{path}: no such file")
    try:
        return onnx.load(str(path))
    except (OSError, ValueError) as e:
        raise ReferenceFailure(f"{path}: cannot read the ONNX model ({e})") from None
    except Exception as e:  # protobuf's DecodeError has no stable import path
        if type(e).__name__ == "DecodeError":
            raise ReferenceFailure(f"{path}: not an ONNX model ({e})") from None
        raise


def graph_inputs(model: onnx.ModelProto) -> list[tuple[str, tuple[int, ...], np.dtype]]:
    """(name, shape with -1 for dynamic dimensions, dtype) of each real input (initializers
    listed as inputs by old exporters are left out)."""
    inits = {t.name for t in model.graph.initializer}
    out = []
    for info in model.graph.input:
        if info.name in inits:
            continue
        tt = info.type.tensor_type
        shape = tuple(d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else -1
                      for d in tt.shape.dim)
        out.append((info.name, shape, helper.tensor_dtype_to_np_dtype(tt.elem_type)))
    return out


def with_all_outputs(model: onnx.ModelProto) -> onnx.ModelProto:
    """A copy of `model` whose graph outputs are its outputs followed by every other node
    output, in node order."""
    out = onnx.ModelProto()
    out.CopyFrom(model)
    graph = out.graph
    known = {o.name for o in graph.output}
    typed = {v.name: v for v in graph.value_info}
    for node in graph.node:
        for name in node.output:
            if not name or name in known:
                continue
            known.add(name)
            if name in typed:
                graph.output.append(typed[name])
            else:
                graph.output.append(helper.make_empty_tensor_value_info(name))
    return out


_MAX_IR = re.compile(r"max supported IR version:\s*(\d+)")


def _session(model: onnx.ModelProto, source: str):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    opts.log_severity_level = 3
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1

    def make(m: onnx.ModelProto):
        return ort.InferenceSession(m.SerializeToString(), opts,
                                    providers=["CPUExecutionProvider"])

    try:
        return make(model)
    except Exception as e:  # onnxruntime raises its own pybind exception types
        message = str(e)
        if "Unsupported model IR version" not in message:
            raise ReferenceFailure(f"{source}: onnxruntime cannot load the model: "
                                   f"{message.strip()}") from None
    found = _MAX_IR.search(message)
    needed = helper.find_min_ir_version_for(list(model.opset_import), ignore_unknown=True)
    target = int(found.group(1)) if found else needed
    if needed > target:
        raise ReferenceFailure(f"{source}: the model's opsets need IR version {needed}, but "
                               f"the installed onnxruntime reads at most {target}")
    lowered = onnx.ModelProto()
    lowered.CopyFrom(model)
    lowered.ir_version = target
    try:
        return make(lowered)
    except Exception as e:  # onnxruntime raises its own pybind exception types
        raise ReferenceFailure(f"{source}: onnxruntime cannot load the model (IR version "
                               f"lowered from {model.ir_version} to {target}): "
                               f"{str(e).strip()}") from None


def run_onnx(model: onnx.ModelProto | str | Path, inputs: Mapping[str, np.ndarray], *,
             all_tensors: bool = False, source: str | None = None) -> dict[str, np.ndarray]:
    """Run `model` on `inputs` (by input name). Returns the graph outputs, or with
    `all_tensors` the inputs and every node output, by tensor name, in graph order."""
    if not isinstance(model, onnx.ModelProto):
        source = source or str(model)
        model = load_model(model)
    source = source or "<model>"
    run_model = with_all_outputs(model) if all_tensors else model
    session = _session(run_model, source)
    feeds = {}
    for spec in session.get_inputs():
        if spec.name not in inputs:
            raise ReferenceFailure(f"{source}: no data for input '{spec.name}'")
        feeds[spec.name] = np.asarray(inputs[spec.name])
    names = [o.name for o in session.get_outputs()]
    try:
        values = session.run(names, feeds)
    except Exception as e:  # onnxruntime raises its own pybind exception types
        raise ReferenceFailure(f"{source}: onnxruntime failed: {str(e).strip()}") from None
    results = {n: v for n, v in zip(names, values) if isinstance(v, np.ndarray)}
    if not all_tensors:
        return results
    ordered: dict[str, np.ndarray] = {k: feeds[k] for k in feeds}
    for node in model.graph.node:
        for name in node.output:
            if name in results:
                ordered[name] = results[name]
    for name in names:  # graph outputs that are inputs or initializers
        if name in results and name not in ordered:
            ordered[name] = results[name]
    return ordered
