import numpy as np
import pytest
from kiln.frontend.onnx.importer import ImportFailure, ImportOptions, import_model
from onnx import TensorProto, helper
from onnx_case import check_model, check_node, make_model

rng = np.random.default_rng(0)


def f32(*shape):
    return rng.standard_normal(shape).astype(np.float32)


def ints(*shape, dtype=np.int64, lo=-9, hi=10):
    return rng.integers(lo, hi, shape).astype(dtype)


def op_names(module):
    return [op.name for op in module.main.body]


# -- unary -------------------------------------------------------------------------------------
_POSITIVE = {"Sqrt", "Log"}
UNARY_FLOAT = ["Sqrt", "Exp", "Log", "Neg", "Abs", "Reciprocal", "Floor", "Ceil", "Round",
               "Sign", "Erf"]


@pytest.mark.parametrize("op", UNARY_FLOAT)
def test_unary_float(op):
    x = f32(2, 3, 5) * 3
    if op in _POSITIVE:
        x = np.abs(x) + 0.1
    module = check_node(op, {"x": x})
    assert op_names(module) == [f"top.{op.lower()}", "func.return"]


@pytest.mark.parametrize("op", ["Exp", "Erf", "Round", "Reciprocal"])
def test_unary_float16_keeps_dtype(op):
    x = (f32(4, 6) * 2).astype(np.float16)
    module = check_node(op, {"x": x}, rtol=2e-3, atol=2e-3)
    assert module.main.result_types[0].element.name == "f16"


@pytest.mark.parametrize("op", ["Neg", "Abs", "Sign"])
@pytest.mark.parametrize("dtype", [np.int32, np.int64])
def test_unary_integer(op, dtype):
    check_node(op, {"x": ints(3, 4, dtype=dtype)})


def test_round_half_to_even():
    check_node("Round", {"x": np.array([0.5, 1.5, 2.5, -0.5, -1.5, 2.4], np.float32)})


@pytest.mark.parametrize("opset", [11, 13, 21])
def test_unary_across_opsets(opset):
    check_node("Erf", {"x": f32(3, 4)}, opset=opset)
    check_node("Neg", {"x": f32(3, 4)}, opset=opset)


def test_not():
    check_node("Not", {"x": rng.random((3, 4)) > 0.5})


# -- binary arithmetic -------------------------------------------------------------------------
def test_pow_broadcast():
    check_node("Pow", {"a": np.abs(f32(2, 3, 4)) + 0.5, "b": f32(3, 1)})


def test_pow_static_exponent_and_mixed_dtypes():
    module = check_node("Pow", {"a": f32(2, 3)}, initializers={"b": np.array(2.0, np.float32)})
    assert op_names(module) == ["top.constant", "top.pow", "func.return"]
    check_node("Pow", {"a": f32(2, 3)}, initializers={"b": np.array(3, np.int64)})
    check_node("Pow", {"a": ints(2, 3, lo=-3, hi=4)}, initializers={"b": np.array(2, np.int64)})


@pytest.mark.parametrize("op", ["Min", "Max"])
@pytest.mark.parametrize("n", [1, 2, 3])
def test_min_max_variadic(op, n):
    inputs = {f"x{i}": f32(*shape) for i, shape in enumerate([(2, 3, 4), (3, 1), (4,)][:n])}
    module = check_node(op, inputs)
    assert op_names(module).count(f"top.{op.lower()}") == n - 1


@pytest.mark.parametrize("op", ["Min", "Max"])
def test_min_max_static_inputs_fold_first(op):
    module = check_node(op, {"x": f32(2, 4)}, initializers={"c1": f32(4), "c2": f32(1, 4)},
                        order=["c1", "x", "c2"])
    assert op_names(module) == ["top.constant", f"top.{op.lower()}", "func.return"]


def test_min_max_integer_and_opsets():
    check_node("Max", {"a": ints(3, 4, dtype=np.int32), "b": ints(4, dtype=np.int32)}, opset=13)
    check_node("Min", {"a": f32(3, 4), "b": f32(3, 4)}, opset=11)


@pytest.mark.parametrize("opset", [6, 8, 13, 21])
@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_sum_variadic(opset, n):
    shapes = [(2, 3, 4), (3, 1), (4,), (1, 1, 4)][:n]
    if opset < 8:  # multidirectional broadcasting came with opset 8
        shapes = [(2, 3, 4)] * n
    module = check_node("Sum", {f"x{i}": f32(*s) for i, s in enumerate(shapes)}, opset=opset)
    assert op_names(module).count("top.add") == n - 1


@pytest.mark.parametrize("opset", [6, 8, 13])
@pytest.mark.parametrize("n", [1, 2, 3])
def test_mean_variadic(opset, n):
    shapes = [(2, 3, 4), (3, 1), (4,)][:n] if opset >= 8 else [(2, 3, 4)] * n
    module = check_node("Mean", {f"x{i}": f32(*s) for i, s in enumerate(shapes)}, opset=opset)
    names = op_names(module)
    assert names.count("top.add") == n - 1 and names.count("top.div") == (n > 1)


def test_sum_mean_float16_and_float64():
    check_node("Sum", {"a": f32(3, 4).astype(np.float64), "b": f32(4).astype(np.float64)},
               opset=13)
    check_node("Mean", {"a": f32(3, 4).astype(np.float16), "b": f32(4).astype(np.float16)},
               opset=13, rtol=1e-3, atol=1e-3)


def test_sum_mean_static_inputs_fold_first():
    module = check_node("Sum", {"x": f32(2, 4)}, initializers={"c1": f32(4), "c2": f32(1, 4)},
                        order=["c1", "x", "c2"])
    assert op_names(module) == ["top.constant", "top.add", "func.return"]
    module = check_node("Mean", {"x": f32(2, 4)}, initializers={"c1": f32(4), "c2": f32(1, 4)},
                        order=["c1", "x", "c2"])
    assert op_names(module) == ["top.constant", "top.add", "top.constant", "top.div",
                                "func.return"]


def test_mean_of_integers_is_rejected():
    model = make_model([helper.make_node("Mean", ["a", "b"], ["y"], name="m")],
                       {"a": ints(3), "b": ints(3)}, ["y"])
    with pytest.raises(ImportFailure, match=r"Mean of int64 inputs is not supported"):
        import_model(model, ImportOptions())


@pytest.mark.parametrize("fmod", [0, 1])
@pytest.mark.parametrize("dtype", [np.int32, np.int64])
def test_mod_integer(fmod, dtype):
    a = ints(3, 4, dtype=dtype, lo=-20, hi=20)
    b = ints(4, dtype=dtype, lo=1, hi=7) * np.array([1, -1, 1, -1], dtype)
    check_node("Mod", {"a": a, "b": b}, {"fmod": fmod})


def test_mod_float_requires_fmod():
    check_node("Mod", {"a": f32(3, 4) * 5, "b": np.abs(f32(4)) + 1}, {"fmod": 1})
    model = make_model([helper.make_node("Mod", ["a", "b"], ["y"], name="m")],
                       {"a": f32(3), "b": f32(3)}, ["y"])
    with pytest.raises(ImportFailure, match=r"node 'm' \(Mod\).*fmod=1"):
        import_model(model, ImportOptions())


# -- comparison and logic ----------------------------------------------------------------------
COMPARE = ["Equal", "Less", "LessOrEqual", "Greater", "GreaterOrEqual"]


@pytest.mark.parametrize("op", COMPARE)
def test_compare_float_broadcast(op):
    a = np.round(f32(2, 3, 4))
    b = np.round(f32(3, 1))
    module = check_node(op, {"a": a, "b": b})
    assert module.main.result_types[0].element.name == "bool"


@pytest.mark.parametrize("op", COMPARE)
def test_compare_integer(op):
    check_node(op, {"a": ints(3, 4, lo=-2, hi=3), "b": ints(4, lo=-2, hi=3)}, opset=16)


@pytest.mark.parametrize("op", ["And", "Or", "Xor"])
def test_logic(op):
    check_node(op, {"a": rng.random((2, 3, 4)) > 0.5, "b": rng.random((3, 1)) > 0.5})


def test_compare_feeds_logic_and_where():
    x = f32(3, 4)
    nodes = [helper.make_node("Greater", ["x", "zero"], ["pos"]),
             helper.make_node("Less", ["x", "two"], ["small"]),
             helper.make_node("And", ["pos", "small"], ["both"]),
             helper.make_node("Not", ["both"], ["other"]),
             helper.make_node("Where", ["other", "x", "zero"], ["y"])]
    model = make_model(nodes, {"x": x}, ["y"], {"zero": np.array(0, np.float32),
                                                "two": np.array(2, np.float32)})
    module = check_model(model, {"x": x})
    assert op_names(module).count("top.constant") == 2


def test_where_broadcast_three_ways():
    check_node("Where", {"c": rng.random((3, 1)) > 0.5, "x": f32(2, 1, 4), "y": f32(4)})
    check_node("Where", {"c": rng.random((4,)) > 0.5, "x": ints(3, 4), "y": ints(3, 1)},
               opset=16)


# -- cast ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("to, name", [(TensorProto.FLOAT16, "f16"), (TensorProto.INT64, "i64"),
                                      (TensorProto.INT32, "i32"), (TensorProto.BOOL, "bool"),
                                      (TensorProto.DOUBLE, "f64"), (TensorProto.INT8, "i8")])
def test_cast_from_float(to, name):
    module = check_node("Cast", {"x": f32(3, 4) * 4}, {"to": to})
    cast = next(op for op in module.main.body if op.name == "top.cast")
    assert str(cast.to) == name and cast.output.type.element.name == name


@pytest.mark.parametrize("opset", [11, 13, 19, 21])
def test_cast_to_float_across_opsets(opset):
    check_node("Cast", {"x": ints(3, 4)}, {"to": TensorProto.FLOAT}, opset=opset)
    check_node("Cast", {"x": rng.random((3,)) > 0.5}, {"to": TensorProto.FLOAT}, opset=opset)


def test_cast_like():
    check_node("CastLike", {"x": f32(3, 4) * 3},
               initializers={"t": np.zeros(1, np.int32)}, opset=15)


def test_cast_to_string_is_rejected():
    model = make_model([helper.make_node("Cast", ["x"], ["y"], to=TensorProto.STRING,
                                         name="c")], {"x": f32(3)}, ["y"])
    with pytest.raises(ImportFailure, match="STRING is not supported"):
        import_model(model, ImportOptions())


def test_static_math_folds():
    """A shape-like computation on initializers folds to a constant: no math op is emitted."""
    x = f32(2, 3)
    nodes = [helper.make_node("Cast", ["k"], ["kf"], to=TensorProto.FLOAT),
             helper.make_node("Sqrt", ["kf"], ["r"]),
             helper.make_node("Max", ["r", "one"], ["m"]),
             helper.make_node("Equal", ["k", "k"], ["e"]),
             helper.make_node("Where", ["e", "m", "one"], ["w"]),
             helper.make_node("Mul", ["x", "w"], ["y"])]
    model = make_model(nodes, {"x": x}, ["y"], {"k": np.array([4, 9, 0], np.int64),
                                                "one": np.array(1, np.float32)})
    module = check_model(model, {"x": x})
    assert op_names(module) == ["top.constant", "top.mul", "func.return"]


@pytest.mark.parametrize("node", [
    helper.make_node("Sum", ["x"], ["t"]), helper.make_node("Mean", ["x"], ["t"]),
    helper.make_node("Max", ["x"], ["t"]), helper.make_node("Clip", ["x"], ["t"]),
    helper.make_node("ReduceMax", ["x"], ["t"], noop_with_empty_axes=1),
    helper.make_node("Dropout", ["x"], ["t"]),
], ids=lambda n: n.op_type)
def test_pass_through_output_keeps_its_data(node):
    """A builder whose output is its input: a later consumer of the output still gets the
    example data after the input's last use."""
    x = f32(2, 3)
    model = make_model([node, helper.make_node("Relu", ["t"], ["y"])], {"x": x}, ["y"],
                       opset=18)
    module = check_model(model, {"x": x})
    assert op_names(module) == ["top.relu", "func.return"]
