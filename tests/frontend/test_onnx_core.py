import numpy as np
import pytest
from kiln.frontend.onnx.importer import ImportFailure, ImportOptions, UnsupportedOps, import_model
from onnx import helper
from onnx_case import check_model, check_node, make_model

rng = np.random.default_rng(0)


def f32(*shape):
    return rng.standard_normal(shape).astype(np.float32)


@pytest.mark.parametrize("op", ["Add", "Sub", "Mul", "Div"])
def test_binary_broadcast(op):
    check_node(op, {"a": f32(2, 3, 4), "b": f32(3, 1) + 3.0})


def test_conv_relu_reshape_shape_subgraph_folds():
    x = f32(1, 3, 8, 8)
    nodes = [
        helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("Shape", ["r"], ["s"]),
        helper.make_node("Gather", ["s", "zero"], ["n"], axis=0) if False else
        helper.make_node("Identity", ["s"], ["s2"]),
        helper.make_node("Reshape", ["r", "k"], ["y"]),
    ]
    model = make_model(nodes, {"x": x}, ["y"],
                       {"w": f32(4, 3, 3, 3), "b": f32(4), "k": np.array([0, -1], np.int64)})
    module = check_model(model, {"x": x})
    names = [op.name for op in module.main.body]
    assert names == ["top.weight", "top.constant", "top.conv", "top.relu", "top.reshape",
                     "func.return"]


def test_unsupported_ops_listed_once_each():
    x = f32(1, 4)
    nodes = [helper.make_node("Frobnicate", ["x"], ["a"], name="f1"),
             helper.make_node("Frobnicate", ["a"], ["b"], name="f2"),
             helper.make_node("Wobble", ["b"], ["y"], name="w1")]
    model = make_model(nodes, {"x": x}, ["y"])
    with pytest.raises(UnsupportedOps) as e:
        import_model(model, ImportOptions())
    msg = str(e.value)
    assert "2 unsupported ONNX op type(s)" in msg
    assert "Frobnicate (e.g. node 'f1')" in msg and "Wobble (e.g. node 'w1')" in msg


def test_dynamic_reshape_shape_is_an_error_naming_the_node():
    x = f32(2, 3)
    nodes = [helper.make_node("Reshape", ["x", "s"], ["y"], name="dyn")]
    model = make_model(nodes, {"x": x, "s": np.array([3, 2], np.int64)}, ["y"])
    with pytest.raises(ImportFailure, match=r"node 'dyn' \(Reshape\): Reshape's shape \('s'\) "
                                            r"must be computable at compile time"):
        import_model(model, ImportOptions())
