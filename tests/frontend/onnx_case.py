"""Build a tiny ONNX model, import it with kiln, and check it against onnxruntime.

`check_model(model, feeds)` imports the model, verifies the IR, checks that printing and
re-parsing it gives the same text, runs kiln's interpreter, and compares every output with
onnxruntime's (rtol 1e-4, atol 1e-5 by default). It returns the imported module.
"""

from __future__ import annotations

import kiln.dialects  # noqa: F401
import numpy as np
import onnx
import onnxruntime as ort
from kiln.compiler.interpreter import run_module
from kiln.compiler.text.parser import parse_module
from kiln.compiler.text.printer import print_module
from kiln.compiler.verifier import verify_module
from kiln.frontend.onnx.importer import ImportOptions, import_model
from onnx import helper, numpy_helper


def tensor_info(name: str, array_or_dtype, shape=None) -> onnx.ValueInfoProto:
    if isinstance(array_or_dtype, np.ndarray):
        dtype, shape = array_or_dtype.dtype, array_or_dtype.shape
    else:
        dtype = np.dtype(array_or_dtype)
    return helper.make_tensor_value_info(name, helper.np_dtype_to_tensor_dtype(dtype), shape)


def make_model(nodes, inputs: dict[str, np.ndarray], outputs: list[str],
               initializers: dict[str, np.ndarray] | None = None, opset: int = 17
               ) -> onnx.ModelProto:
    """A model from nodes; graph inputs typed from the example arrays; outputs untyped."""
    graph = helper.make_graph(
        nodes, "case",
        [tensor_info(n, a) for n, a in inputs.items()],
        [helper.make_empty_tensor_value_info(o) for o in outputs],
        [numpy_helper.from_array(np.asarray(v), k) for k, v in (initializers or {}).items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8  # what the installed onnxruntime reads
    return model


def run_ort(model: onnx.ModelProto, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    opts.log_severity_level = 3
    sess = ort.InferenceSession(model.SerializeToString(), opts,
                                providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    return dict(zip(names, sess.run(names, feeds)))


def check_model(model: onnx.ModelProto, feeds: dict[str, np.ndarray], rtol: float = 1e-4,
                atol: float = 1e-5, options: ImportOptions | None = None):
    options = options or ImportOptions(example_inputs=feeds)
    module = import_model(model, options)
    verify_module(module)
    text = print_module(module)
    assert print_module(parse_module(text)) == text
    got = run_module(module, feeds)
    want = run_ort(model, feeds)
    assert set(got) == set(want), (sorted(got), sorted(want))
    for name, w in want.items():
        g = got[name]
        assert g.shape == w.shape, (name, g.shape, w.shape)
        assert g.dtype == w.dtype, (name, g.dtype, w.dtype)
        if w.dtype.kind in "fc":
            np.testing.assert_allclose(g, w, rtol=rtol, atol=atol, err_msg=name)
        else:
            np.testing.assert_array_equal(g, w, err_msg=name)
    return module


def check_node(op_type: str, inputs: dict[str, np.ndarray], attrs: dict | None = None,
               initializers: dict[str, np.ndarray] | None = None, n_outputs: int = 1,
               opset: int = 17, **kw):
    """One node: `inputs` are graph inputs, `initializers` constant inputs (both in the
    node's input order: graph inputs first unless `order` is given)."""
    order = kw.pop("order", None) or [*inputs, *(initializers or {})]
    outputs = [f"y{i}" for i in range(n_outputs)]
    node = helper.make_node(op_type, order, outputs, name=f"{op_type.lower()}_0", **(attrs or {}))
    model = make_model([node], inputs, outputs, initializers, opset)
    return check_model(model, inputs, **kw)
