import numpy as np
import pytest
from kiln.compiler.opdef import VerifyError
from kiln.compiler.text.parser import parse_module
from kiln.compiler.verifier import verify_module
from kiln.frontend.onnx.importer import ImportFailure, ImportOptions, import_model
from onnx import helper
from onnx_case import check_model, check_node, make_model

rng = np.random.default_rng(0)

KINDS = ["ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1",
         "ReduceL2", "ReduceSumSquare", "ReduceLogSumExp"]
SNAKE = {"ReduceMean": "reduce_mean", "ReduceSum": "reduce_sum", "ReduceMax": "reduce_max",
         "ReduceMin": "reduce_min", "ReduceProd": "reduce_prod", "ReduceL1": "reduce_l1",
         "ReduceL2": "reduce_l2", "ReduceSumSquare": "reduce_sum_square",
         "ReduceLogSumExp": "reduce_log_sum_exp"}


def f32(*shape):
    return rng.standard_normal(shape).astype(np.float32)


def op_names(module):
    return [op.name for op in module.main.body]


def axes_as_input(op, opset):
    return opset >= (13 if op == "ReduceSum" else 18)


def check_reduce(op, x, axes, opset, **attrs):
    """Axes as an attribute or as an (initializer) input, whichever the opset wants."""
    if axes is not None and not axes_as_input(op, opset):
        attrs["axes"] = axes
    inits = {}
    if axes is not None and axes_as_input(op, opset):
        inits["axes"] = np.array(axes, np.int64)
    return check_node(op, {"x": x}, attrs, initializers=inits, opset=opset)


def the_op(module, op):
    ops = [o for o in module.main.body if o.name == f"top.{SNAKE[op]}"]
    assert len(ops) == 1, op_names(module)
    return ops[0]


@pytest.mark.parametrize("op", KINDS)
@pytest.mark.parametrize("opset", [11, 13, 18])
@pytest.mark.parametrize("axes, keepdims, want", [(None, 1, [0, 1, 2]), ([1], 1, [1]),
                                                  ([-1, 0], 0, [0, 2])])
def test_reduce(op, opset, axes, keepdims, want):
    x = f32(2, 3, 4) * 0.5 + (1.5 if op == "ReduceProd" else 0.0)
    module = check_reduce(op, x, axes, opset, keepdims=keepdims)
    r = the_op(module, op)
    assert list(r.axes) == want and r.keepdims == bool(keepdims)


@pytest.mark.parametrize("op", ["ReduceSum", "ReduceMean", "ReduceL2"])
def test_reduce_opset_21_and_float16(op):
    check_reduce(op, f32(3, 5), [0], 21)
    module = check_reduce(op, f32(3, 5).astype(np.float16), [1], 18, keepdims=0)
    assert module.main.result_types[0].element.name == "f16"


@pytest.mark.parametrize("op", ["ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd"])
@pytest.mark.parametrize("dtype", [np.int32, np.int64])
def test_reduce_integer(op, dtype):
    x = rng.integers(-3, 4, (3, 4)).astype(dtype)
    check_reduce(op, x, [1], 18)


@pytest.mark.parametrize("op", KINDS)
def test_noop_with_empty_axes(op):
    x = np.abs(f32(2, 3)) + 0.5
    module = check_node(op, {"x": x}, {"noop_with_empty_axes": 1}, opset=18)
    if op in ("ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd"):
        assert op_names(module) == ["func.return"]  # the identity
    else:
        assert list(the_op(module, op).axes) == []


@pytest.mark.parametrize("op", ["ReduceSum", "ReduceMax"])
def test_empty_axes_input_reduces_everything(op):
    module = check_node(op, {"x": f32(2, 3)}, initializers={"axes": np.zeros(0, np.int64)},
                        opset=18)
    assert list(the_op(module, op).axes) == [0, 1]


def test_dynamic_axes_is_an_error():
    model = make_model([helper.make_node("ReduceSum", ["x", "a"], ["y"], name="rs")],
                       {"x": f32(2, 3), "a": np.array([1], np.int64)}, ["y"], opset=13)
    with pytest.raises(ImportFailure, match=r"ReduceSum's axes \('a'\) must be computable"):
        import_model(model, ImportOptions())


def test_static_reduce_folds():
    x = f32(3)
    nodes = [helper.make_node("ReduceMean", ["c"], ["m"], axes=[0], keepdims=0),
             helper.make_node("ArgMax", ["c"], ["i"], axis=0, keepdims=0),
             helper.make_node("Cast", ["i"], ["fi"], to=1),
             helper.make_node("Add", ["m", "fi"], ["s"]),
             helper.make_node("Add", ["x", "s"], ["y"])]
    model = make_model(nodes, {"x": x}, ["y"], {"c": f32(2, 3)}, opset=13)
    module = check_model(model, {"x": x})
    assert op_names(module) == ["top.constant", "top.add", "func.return"]


# -- ArgMax / ArgMin ---------------------------------------------------------------------------
@pytest.mark.parametrize("op", ["ArgMax", "ArgMin"])
@pytest.mark.parametrize("axis", [0, 2, -1, -2])
@pytest.mark.parametrize("keepdims", [0, 1])
@pytest.mark.parametrize("select_last_index", [0, 1])
def test_arg_reduce(op, axis, keepdims, select_last_index):
    x = rng.integers(0, 3, (3, 4, 5)).astype(np.float32)  # many ties
    module = check_node(op, {"x": x}, {"axis": axis, "keepdims": keepdims,
                                       "select_last_index": select_last_index})
    r = module.main.body.first
    assert r.name == f"top.arg_{op[3:].lower()}" and r.axis == axis % 3
    assert r.output.type.element.name == "i64"


@pytest.mark.parametrize("opset", [11, 13, 21])
def test_arg_reduce_defaults_opsets_and_types(opset):
    check_node("ArgMax", {"x": f32(4, 3)}, opset=opset)
    check_node("ArgMin", {"x": rng.integers(-5, 5, (4, 3)).astype(np.int32)}, {"axis": 1},
               opset=opset)
    check_node("ArgMax", {"x": f32(4, 3).astype(np.float16)}, {"axis": -1}, opset=opset)


# -- verifier ----------------------------------------------------------------------------------
@pytest.mark.parametrize("line, result, message", [
    ("top.reduce_sum %x {axes = [2, 0]}", "tensor<1x3x1xf32>", "axes [2, 0] must be sorted"),
    ("top.reduce_sum %x {axes = [3]}", "tensor<2x3x4xf32>", "'axes' 3 is out of range [0, 3)"),
    ("top.reduce_mean %x {axes = [1]}", "tensor<2x4xf32>",
     "result shape (2, 4) should be (2, 1, 4)"),
    ("top.reduce_max %x {axes = [1], keepdims = false}", "tensor<2x4xf16>",
     "result element type f16 differs from the input element type f32"),
    ("top.reduce_l2 %x", "tensor<f32>", "requires attribute 'axes'"),
    ("top.arg_max %x {axis = 1}", "tensor<2x1x4xi32>", "result element type must be i64"),
    ("top.arg_min %x {axis = 1, keepdims = false}", "tensor<2x1x4xi64>",
     "result shape (2, 1, 4) should be (2, 4)"),
])
def test_verifier_errors(line, result, message):
    text = (f"func.func @f(%x: tensor<2x3x4xf32>) -> {result} {{\n"
            f"  %0 = {line} : (tensor<2x3x4xf32>) -> {result}\n  return %0 : {result}\n}}\n")
    with pytest.raises(VerifyError) as e:
        verify_module(parse_module(text))
    assert message in str(e.value)
