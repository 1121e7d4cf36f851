"""Run a single ONNX node in onnxruntime: the oracle for the numpy reference kernels.

Usage::

    from ort_single_node import run_node

    (y,) = run_node("Conv", [x, w, None], {"strides": [2, 2]})
    y, indices = run_node("MaxPool", [x], {"kernel_shape": [2, 2]}, n_outputs=2)
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

import numpy as np
import onnx
import onnxruntime as onnxrt
from onnx import helper, numpy_helper

__all__ = ["make_single_node_model", "run_node"]


def make_single_node_model(
    op_type: str,
    inputs: Sequence[np.ndarray | None],
    attrs: Mapping[str, Any] | None = None,
    *,
    n_outputs: int = 1,
    opset: int = 17,
    domain: str = "",
    initializers: Collection[int] | bool = (),
) -> onnx.ModelProto:
    """Build a one-node ONNX model.

    Graph inputs are named ``x0, x1, ...`` and outputs ``y0, y1, ...``. A ``None`` entry of
    ``inputs`` is an omitted optional input (an empty name). Inputs whose positions are in
    ``initializers`` (or all of them if ``initializers is True``) become constant initializers
    instead of graph inputs. Attributes whose value is ``None`` are dropped. Output types are
    left for onnxruntime to infer.
    """
    if initializers is True:
        const_idx = set(range(len(inputs)))
    elif initializers is False:
        const_idx = set()
    else:
        const_idx = set(initializers)
    in_names: list[str] = []
    graph_inputs: list[onnx.ValueInfoProto] = []
    inits: list[onnx.TensorProto] = []
    for i, arr in enumerate(inputs):
        if arr is None:
            in_names.append("")
            continue
        name = f"x{i}"
        in_names.append(name)
        arr = np.asarray(arr)
        if i in const_idx:
            inits.append(numpy_helper.from_array(arr, name))
        else:
            elem = helper.np_dtype_to_tensor_dtype(arr.dtype)
            graph_inputs.append(helper.make_tensor_value_info(name, elem, list(arr.shape)))
    out_names = [f"y{i}" for i in range(n_outputs)]
    attrs = {k: v for k, v in (attrs or {}).items() if v is not None}
    node = helper.make_node(op_type, in_names, out_names, domain=domain, **attrs)
    graph = helper.make_graph(
        [node],
        f"single_{op_type}",
        graph_inputs,
        [helper.make_empty_tensor_value_info(n) for n in out_names],
        initializer=inits,
    )
    opsets = [helper.make_opsetid(domain, opset)]
    if domain not in ("", "ai.onnx"):
        opsets.append(helper.make_opsetid("", 17))
    model = helper.make_model(graph, opset_imports=opsets)
    model.ir_version = helper.find_min_ir_version_for(opsets, ignore_unknown=True)
    return model


def run_node(
    op_type: str,
    inputs: Sequence[np.ndarray | None],
    attrs: Mapping[str, Any] | None = None,
    *,
    n_outputs: int = 1,
    opset: int = 17,
    domain: str = "",
    initializers: Collection[int] | bool = (),
    threads: int = 1,
    optimize: bool = False,
) -> list[np.ndarray]:
    """Build a one-node model (see :func:`make_single_node_model`), run it, return all outputs.

    ``threads`` sets onnxruntime's intra-op thread count; ``optimize=False`` disables graph
    optimizations so the plain CPU kernel of ``op_type`` is what gets tested.
    """
    model = make_single_node_model(
        op_type,
        inputs,
        attrs,
        n_outputs=n_outputs,
        opset=opset,
        domain=domain,
        initializers=initializers,
    )
    so = onnxrt.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.log_severity_level = 3  # errors only: no deprecation / shape-inference chatter
    if not optimize:
        so.graph_optimization_level = onnxrt.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = onnxrt.InferenceSession(
        model.SerializeToString(), so, providers=["CPUExecutionProvider"]
    )
    feeds = {inp.name: np.asarray(inputs[int(inp.name[1:])]) for inp in model.graph.input}
    return list(sess.run(None, feeds))


def ort(op_type: str, inputs: list, attrs: dict | None = None, **kw) -> np.ndarray:
    """The only output of a one-node onnxruntime model (trailing None inputs are dropped)."""
    inputs = list(inputs)
    while inputs and inputs[-1] is None:
        inputs.pop()
    return run_node(op_type, inputs, attrs, **kw)[0]


def same(got: np.ndarray, want: np.ndarray) -> None:
    """Exact for ints and bools, rtol 1e-4 / atol 1e-5 for floats; dtype and shape must match."""
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    assert got.shape == want.shape, (got.shape, want.shape)
    if np.issubdtype(want.dtype, np.floating):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    else:
        np.testing.assert_array_equal(got, want)
