"""QDQ export of float `top` ops: a one-node ONNX model is imported (so the top op carries
the importer's normalized attributes), exported back with kiln.codegen.onnx_qdq, and the
export run in onnxruntime must agree with kiln's interpreter on the imported module."""

from __future__ import annotations

import sys
from pathlib import Path

import kiln.dialects  # noqa: F401
import numpy as np
import onnx
import onnxruntime as ort
import pytest
from kiln.codegen.onnx_qdq import export_qdq
from kiln.compiler.interpreter import run_module
from kiln.compiler.text.parser import parse_module
from kiln.frontend.onnx.importer import ImportOptions, import_model
from onnx import helper

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "frontend"))
from onnx_case import make_model

RNG = np.random.default_rng(0)


def f32(*shape, lo=-2.0, hi=2.0) -> np.ndarray:
    return RNG.uniform(lo, hi, shape).astype(np.float32)


def run_export(module, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    model = export_qdq(module)
    onnx.checker.check_model(model, full_check=True)
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    sess = ort.InferenceSession(model.SerializeToString(), opts,
                                providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    return dict(zip(names, sess.run(names, feeds)))


def check_same(module, feeds, rtol=1e-4, atol=1e-5) -> None:
    want = run_module(module, feeds)
    got = run_export(module, feeds)
    assert set(got) == set(want)
    for name, w in want.items():
        g = got[name]
        assert g.shape == w.shape and g.dtype == w.dtype, (name, g.shape, w.shape, g.dtype)
        if w.dtype.kind == "f":
            np.testing.assert_allclose(g, w, rtol=rtol, atol=atol, err_msg=name)
        else:
            np.testing.assert_array_equal(g, w, err_msg=name)


def node_case(op_type: str, inputs: dict, attrs: dict | None = None,
              inits: dict | None = None, n_outputs: int = 1, opset: int = 17, **kw) -> None:
    order = kw.pop("order", None) or [*inputs, *(inits or {})]
    outputs = [f"y{i}" for i in range(n_outputs)]
    node = helper.make_node(op_type, order, outputs, **(attrs or {}))
    model = make_model([node], inputs, outputs, inits, opset)
    module = import_model(model, ImportOptions(example_inputs=inputs))
    check_same(module, inputs, **kw)


def i64(values) -> np.ndarray:
    return np.asarray(values, np.int64)


X = f32(2, 3, 4)
IMG = f32(1, 2, 6, 6)
POS = f32(2, 3, 4, lo=0.1, hi=3.0)
BOOL_A, BOOL_B = RNG.random((2, 3)) > 0.5, RNG.random((2, 3)) > 0.5
UNARY = ["Relu", "Sigmoid", "Tanh", "Exp", "Neg", "Abs", "Floor", "Ceil", "Round", "Sign",
         "Erf", "Softplus", "Softsign", "HardSwish"]
BINARY = ["Add", "Sub", "Mul", "Div", "Pow", "Min", "Max", "Equal", "Less", "LessOrEqual",
          "Greater", "GreaterOrEqual"]

# (id, op_type, graph inputs, attributes, initializers, options)
CASES = [
    *[(t, t, {"x": X}, {}, {}, {}) for t in UNARY],
    ("Sqrt", "Sqrt", {"x": POS}, {}, {}, {}),
    ("Log", "Log", {"x": POS}, {}, {}, {}),
    ("Reciprocal", "Reciprocal", {"x": POS}, {}, {}, {}),
    ("Mish", "Mish", {"x": X}, {}, {}, {"opset": 18}),
    ("Not", "Not", {"a": BOOL_A}, {}, {}, {}),
    *[(t, t, {"a": POS, "b": f32(3, 4, lo=0.5, hi=2.0)}, {}, {}, {}) for t in BINARY],
    *[(t, t, {"a": BOOL_A, "b": BOOL_B}, {}, {}, {}) for t in ("And", "Or", "Xor")],
    ("Mod-fmod", "Mod", {"a": X, "b": f32(3, 4, lo=0.5, hi=2.0)}, {"fmod": 1}, {}, {}),
    ("Mod-int", "Mod", {"a": i64([[7, -7, 5]]), "b": i64([[3, 3, -2]])}, {}, {}, {}),
    ("Where", "Where", {"c": BOOL_A, "a": f32(2, 3), "b": f32(3)}, {}, {}, {}),
    ("Elu", "Elu", {"x": X}, {"alpha": 0.7}, {}, {}),
    ("Selu", "Selu", {"x": X}, {"alpha": 1.5, "gamma": 1.1}, {}, {}),
    ("LeakyRelu", "LeakyRelu", {"x": X}, {"alpha": 0.2}, {}, {}),
    ("HardSigmoid", "HardSigmoid", {"x": X}, {"alpha": 0.3, "beta": 0.4}, {}, {}),
    ("Shrink", "Shrink", {"x": X}, {"bias": 0.2, "lambd": 0.6}, {}, {}),
    ("Gelu-tanh", "Gelu", {"x": X}, {"approximate": "tanh"}, {}, {"opset": 20}),
    ("Gelu", "Gelu", {"x": X}, {}, {}, {"opset": 20}),
    ("Softmax", "Softmax", {"x": X}, {"axis": 1}, {}, {}),
    ("LogSoftmax", "LogSoftmax", {"x": X}, {"axis": -1}, {}, {}),
    ("PRelu", "PRelu", {"x": IMG}, {}, {"s": f32(2, 1, 1)}, {}),
    ("Clip", "Clip", {"x": X}, {}, {"lo": np.float32(-0.5), "hi": np.float32(0.7)}, {}),
    ("Clip-min", "Clip", {"x": X}, {}, {"lo": np.float32(-0.5)}, {}),
    ("Cast-f16", "Cast", {"x": X}, {"to": onnx.TensorProto.FLOAT16}, {}, {}),
    ("Cast-i32", "Cast", {"x": X * 3}, {"to": onnx.TensorProto.INT32}, {}, {}),
    ("Conv", "Conv", {"x": IMG}, {"pads": [1, 0, 1, 2], "strides": [2, 1], "group": 2},
     {"w": f32(4, 1, 3, 3), "b": f32(4)}, {}),
    ("ConvTranspose", "ConvTranspose", {"x": IMG},
     {"strides": [2, 2], "pads": [1, 0, 0, 1], "output_padding": [1, 0]},
     {"w": f32(2, 3, 3, 3)}, {}),
    ("MaxPool", "MaxPool", {"x": IMG},
     {"kernel_shape": [3, 2], "strides": [2, 1], "pads": [1, 0, 1, 1], "ceil_mode": 1}, {},
     {}),
    ("MaxPool-dilated", "MaxPool", {"x": IMG}, {"kernel_shape": [2, 2], "dilations": [2, 2]},
     {}, {}),
    ("AveragePool", "AveragePool", {"x": IMG},
     {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1], "count_include_pad": 1}, {}, {}),
    ("AveragePool-exclude", "AveragePool", {"x": IMG},
     {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1]}, {}, {}),
    ("GlobalAveragePool", "GlobalAveragePool", {"x": IMG}, {}, {}, {}),
    ("GlobalMaxPool", "GlobalMaxPool", {"x": IMG}, {}, {}, {}),
    ("MatMul", "MatMul", {"x": X}, {}, {"w": f32(4, 5)}, {}),
    ("MatMul-dynamic", "MatMul", {"a": f32(2, 3, 4), "b": f32(2, 4, 2)}, {}, {}, {}),
    ("Gemm", "Gemm", {"a": f32(4, 3)}, {"transA": 1, "transB": 1, "alpha": 0.5, "beta": 2.0},
     {"b": f32(5, 4), "c": f32(5)}, {}),
    ("BatchNormalization", "BatchNormalization", {"x": IMG}, {"epsilon": 1e-3},
     {"s": f32(2), "b": f32(2), "m": f32(2), "v": f32(2, lo=0.5, hi=2.0)}, {}),
    ("LayerNormalization", "LayerNormalization", {"x": X}, {"axis": -1},
     {"s": f32(4), "b": f32(4)}, {}),
    ("InstanceNormalization", "InstanceNormalization", {"x": IMG}, {},
     {"s": f32(2), "b": f32(2)}, {}),
    ("LpNormalization", "LpNormalization", {"x": X}, {"axis": 1, "p": 1}, {}, {}),
    ("LRN", "LRN", {"x": f32(1, 5, 3, 3)}, {"size": 3}, {}, {}),
    *[(f"Reduce{k}", f"Reduce{k}", {"x": POS}, {"keepdims": keep}, {"axes": i64([0, 2])},
       {"opset": 18}) for k, keep in (("Mean", 1), ("Sum", 0), ("Max", 1), ("Min", 0),
                                      ("Prod", 1), ("L1", 1), ("L2", 0), ("SumSquare", 1),
                                      ("LogSumExp", 0))],
    *[(f"Reduce{k}-noop", f"Reduce{k}", {"x": X}, {"noop_with_empty_axes": 1},
       {"axes": np.zeros(0, np.int64)}, {"opset": 18}) for k in ("L1", "L2", "SumSquare")],
    ("ArgMax", "ArgMax", {"x": X}, {"axis": 1, "keepdims": 0}, {}, {}),
    ("ArgMin", "ArgMin", {"x": X}, {"axis": 2, "select_last_index": 1}, {}, {}),
    ("Resize-nearest", "Resize", {"x": IMG}, {"mode": "nearest"},
     {"roi": np.zeros(0, np.float32), "scales": np.float32([1, 1, 2, 1.5])}, {}),
    ("Resize-linear-sizes", "Resize", {"x": IMG},
     {"mode": "linear", "coordinate_transformation_mode": "align_corners"},
     {"roi": np.zeros(0, np.float32), "scales": np.zeros(0, np.float32),
      "sizes": i64([1, 2, 4, 9])}, {}),
    ("Resize-cubic", "Resize", {"x": IMG}, {"mode": "cubic", "exclude_outside": 1},
     {"roi": np.zeros(0, np.float32), "scales": np.float32([1, 1, 0.5, 0.5])}, {}),
    ("Reshape", "Reshape", {"x": X}, {}, {"s": i64([4, -1])}, {}),
    ("Flatten", "Flatten", {"x": IMG}, {"axis": 2}, {}, {}),
    ("Transpose", "Transpose", {"x": X}, {"perm": [2, 0, 1]}, {}, {}),
    ("Concat", "Concat", {"a": X, "b": f32(2, 1, 4)}, {"axis": -2}, {}, {}),
    ("Slice", "Slice", {"x": X}, {},
     {"s": i64([-1, 3]), "e": i64([-100, 0]), "a": i64([2, 1]), "t": i64([-2, -1])}, {}),
    ("Split", "Split", {"x": X}, {"axis": 2}, {"sp": i64([1, 3])}, {"n_outputs": 2}),
    ("Tile", "Tile", {"x": X}, {}, {"r": i64([1, 2, 3])}, {}),
    ("Expand", "Expand", {"x": f32(3, 1)}, {}, {"s": i64([2, 3, 4])}, {}),
    ("Pad-constant", "Pad", {"x": X}, {}, {"p": i64([0, 1, 2, 0, 0, 1]),
                                           "v": np.float32(1.5)}, {}),
    ("Pad-reflect", "Pad", {"x": X}, {"mode": "reflect"}, {"p": i64([0, 1, 2, 0, 1, 1])}, {}),
    ("Pad-edge", "Pad", {"x": X}, {"mode": "edge"}, {"p": i64([1, 0, 0, 0, 1, 2])}, {}),
    ("Gather", "Gather", {"x": X, "i": i64([[2, 0], [1, 1]])}, {"axis": 1}, {}, {}),
    ("GatherElements", "GatherElements",
     {"x": X, "i": RNG.integers(0, 3, (2, 2, 4)).astype(np.int64)}, {"axis": 1}, {}, {}),
    ("GatherND", "GatherND", {"x": X, "i": i64([[[1], [0]], [[2], [1]]])},
     {"batch_dims": 1}, {}, {}),
    ("ScatterND", "ScatterND", {"x": X, "i": i64([[1, 2], [0, 0]]), "u": f32(2, 4)},
     {"reduction": "add"}, {}, {"opset": 18}),
    ("DepthToSpace", "DepthToSpace", {"x": f32(1, 8, 2, 3)}, {"blocksize": 2, "mode": "CRD"},
     {}, {}),
    ("SpaceToDepth", "SpaceToDepth", {"x": f32(1, 2, 4, 6)}, {"blocksize": 2}, {}, {}),
    ("TopK", "TopK", {"x": X}, {"axis": 1, "largest": 0}, {"k": i64([2])},
     {"n_outputs": 2}),
    ("CumSum", "CumSum", {"x": X}, {"exclusive": 1, "reverse": 1},
     {"axis": np.asarray(2, np.int64)}, {}),
    ("Einsum", "Einsum", {"a": f32(2, 3, 4), "b": f32(4, 5)}, {"equation": "bij,jk->bik"},
     {}, {}),
]


@pytest.mark.parametrize("op_type,inputs,attrs,inits,options",
                         [pytest.param(*c[1:], id=c[0]) for c in CASES])
def test_top_op_exports(op_type, inputs, attrs, inits, options):
    node_case(op_type, inputs, attrs, inits, **options)


def test_fused_ops_decompose():
    """top.conv with do_relu (and a top.none bias) -> Conv + Relu; top.silu -> x * Sigmoid(x);
    top.constant -> an initializer."""
    t = "tensor<1x3x5x5xf32>"
    module = parse_module(f"""
func.func @main(%x: tensor<1x2x5x5xf32>, %w: tensor<3x2x3x3xf32>) -> {t} {{
  %n = top.none : none
  %c = top.conv %x, %w, %n {{strides = [1, 1], pads = [1, 1, 1, 1], dilations = [1, 1],
      do_relu = true}} : (tensor<1x2x5x5xf32>, tensor<3x2x3x3xf32>, none) -> {t} loc("conv")
  %k = top.constant {{value = dense<0.5> : tensor<1x3x1x1xf32>}} : tensor<1x3x1x1xf32> loc("half")
  %m = top.mul %c, %k : ({t}, tensor<1x3x1x1xf32>) -> {t} loc("scaled")
  %s = top.silu %m : ({t}) -> {t} loc("silu")
  return %s : {t}
}}""")
    model = export_qdq(module)
    assert [n.op_type for n in model.graph.node] == ["Conv", "Relu", "Mul", "Sigmoid", "Mul"]
    assert [n.name for n in model.graph.node][:2] == ["conv/Conv", "conv"]
    check_same(module, {"x": f32(1, 2, 5, 5), "w": f32(3, 2, 3, 3)})


def test_every_top_op_has_an_emitter():
    from kiln.codegen.onnx_top import EMITTERS
    from kiln.compiler.ir import Operation

    sources = {"top.weight", "top.constant", "top.none"}  # initializers, or nothing
    ops = {name for name in Operation.registry if name.startswith("top.")} - sources
    assert sorted(ops - set(EMITTERS)) == []
