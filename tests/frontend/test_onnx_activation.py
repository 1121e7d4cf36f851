import numpy as np
import pytest
from kiln.compiler.interpreter import run_module
from kiln.compiler.opdef import VerifyError
from kiln.compiler.text.parser import parse_module
from kiln.compiler.text.printer import print_module
from kiln.compiler.verifier import verify_module
from kiln.frontend.onnx.importer import ImportFailure, ImportOptions, import_model
from onnx import helper
from onnx_case import check_model, check_node, make_model

rng = np.random.default_rng(0)


def f32(*shape):
    return (rng.standard_normal(shape) * 3).astype(np.float32)


def op_names(module):
    return [op.name for op in module.main.body]


def only_op(module, name):
    ops = [op for op in module.main.body if op.name == name]
    assert len(ops) == 1, op_names(module)
    return ops[0]


SIMPLE = ["HardSwish", "Tanh", "Softplus", "Mish", "Softsign"]


@pytest.mark.parametrize("op", SIMPLE)
@pytest.mark.parametrize("dtype, tol", [(np.float32, 1e-5), (np.float16, 3e-3)])
def test_simple(op, dtype, tol):
    module = check_node(op, {"x": f32(2, 3, 4).astype(dtype)}, rtol=tol, atol=tol, opset=18)
    assert module.main.result_types[0].element.name == np.dtype(dtype).name.replace(
        "float", "f")


@pytest.mark.parametrize("alpha", [None, 0.1, 0.3])
def test_leaky_relu(alpha):
    attrs = {} if alpha is None else {"alpha": alpha}
    module = check_node("LeakyRelu", {"x": f32(2, 8)}, attrs)
    assert only_op(module, "top.leaky_relu").alpha == (alpha or 0.01)  # printed as decimal


def test_leaky_relu_float16():
    check_node("LeakyRelu", {"x": f32(4, 4).astype(np.float16)}, {"alpha": 0.2}, rtol=1e-3,
               atol=1e-3)


@pytest.mark.parametrize("slope_shape", [(3, 1, 1), (1,), (5,), (1, 3, 4, 5)])
def test_prelu_slope_is_a_weight(slope_shape):
    slope = rng.random(slope_shape).astype(np.float32)
    module = check_node("PRelu", {"x": f32(2, 3, 4, 5)}, initializers={"slope": slope})
    assert op_names(module)[-2] == "top.prelu"


def test_prelu_dynamic_slope():
    check_node("PRelu", {"x": f32(2, 3, 4), "s": f32(4)}, opset=16)


@pytest.mark.parametrize("opset", [11, 13, 21])
@pytest.mark.parametrize("bounds", [(-1.0, 1.0), (None, 6.0), (0.0, None), (2.0, -1.0)])
def test_clip_bounds_as_inputs(opset, bounds):
    lo, hi = bounds
    inits, order = {}, ["x"]
    order.append("lo" if lo is not None else "")
    if lo is not None:
        inits["lo"] = np.array(lo, np.float32)
    if hi is not None:
        inits["hi"] = np.array(hi, np.float32)
        order.append("hi")
    module = check_node("Clip", {"x": f32(3, 4)}, initializers=inits, order=order, opset=opset)
    op = only_op(module, "top.clip")
    assert (op.min, op.max) == bounds


def test_clip_bounds_as_attributes_before_opset_11():
    module = check_node("Clip", {"x": f32(3, 4)}, {"min": 0.0, "max": 6.0}, opset=6)
    op = only_op(module, "top.clip")
    assert (op.min, op.max) == (0.0, 6.0)
    check_node("Clip", {"x": f32(3, 4)}, {"max": 0.5}, opset=10)


def test_clip_integer_and_float16():
    x = rng.integers(-50, 50, (3, 4)).astype(np.int32)
    module = check_node("Clip", {"x": x}, initializers={"lo": np.array(-5, np.int32),
                                                        "hi": np.array(7, np.int32)}, opset=13)
    assert only_op(module, "top.clip").min == -5
    module = check_node("Clip", {"x": f32(3, 4).astype(np.float16)},
                        initializers={"lo": np.array(0.1, np.float16)}, opset=13)
    assert only_op(module, "top.clip").min == 0.1


def test_clip_without_bounds_is_identity():
    x = f32(3, 4)
    module = check_node("Clip", {"x": x}, opset=13)
    assert op_names(module) == ["func.return"]


def test_clip_dynamic_bound_is_an_error():
    model = make_model([helper.make_node("Clip", ["x", "lo"], ["y"], name="c")],
                       {"x": f32(3), "lo": f32()}, ["y"])
    with pytest.raises(ImportFailure, match=r"Clip's min \('lo'\) must be computable"):
        import_model(model, ImportOptions())


@pytest.mark.parametrize("attrs", [{}, {"alpha": 0.1, "beta": 0.3}])
def test_hard_sigmoid(attrs):
    check_node("HardSigmoid", {"x": f32(3, 4)}, attrs)


@pytest.mark.parametrize("approximate", ["none", "tanh"])
@pytest.mark.parametrize("opset", [20, 21])
def test_gelu(approximate, opset):
    module = check_node("Gelu", {"x": f32(3, 5)}, {"approximate": approximate}, opset=opset)
    assert only_op(module, "top.gelu").approximate == approximate


def test_gelu_bad_approximate():
    model = make_model([helper.make_node("Gelu", ["x"], ["y"], approximate="fast")],
                       {"x": f32(3)}, ["y"], opset=20)
    with pytest.raises(ImportFailure, match="approximate must be 'none' or 'tanh'"):
        import_model(model, ImportOptions())


@pytest.mark.parametrize("alpha", [None, 0.5])
def test_elu(alpha):
    check_node("Elu", {"x": f32(3, 4)}, {} if alpha is None else {"alpha": alpha})


@pytest.mark.parametrize("attrs", [{}, {"alpha": 2.0, "gamma": 1.5}])
def test_selu(attrs):
    check_node("Selu", {"x": f32(3, 4)}, attrs)


@pytest.mark.parametrize("op", ["Softmax", "LogSoftmax"])
@pytest.mark.parametrize("axis", [None, 0, 1, -1, -2])
@pytest.mark.parametrize("opset", [11, 13, 21])
def test_softmax_axes_and_opsets(op, axis, opset):
    attrs = {} if axis is None else {"axis": axis}
    module = check_node(op, {"x": f32(2, 3, 4)}, attrs, opset=opset)
    name = "top." + {"Softmax": "softmax", "LogSoftmax": "log_softmax"}[op]
    sm = only_op(module, name)
    default = 1 if opset < 13 else -1
    expected = (default if axis is None else axis) % 3
    coerced = opset < 13 and expected < 2
    if coerced:  # the old "2-D at axis" semantics: reshape, softmax over axis 1, reshape back
        assert op_names(module).count("top.reshape") == 2 and sm.axis == 1
    else:
        assert "top.reshape" not in op_names(module)
        assert sm.axis == expected


def test_softmax_old_semantics_with_trailing_ones_needs_no_reshape():
    module = check_node("Softmax", {"x": f32(2, 5, 1, 1)}, {"axis": 1}, opset=11)
    assert op_names(module) == ["top.softmax", "func.return"]


def test_softmax_float16():
    check_node("Softmax", {"x": f32(2, 7).astype(np.float16)}, rtol=2e-3, atol=2e-3)


def test_static_activation_folds():
    x = f32(2, 3)
    nodes = [helper.make_node("Tanh", ["c"], ["t"]),
             helper.make_node("Softmax", ["t"], ["s"], axis=0),
             helper.make_node("Add", ["x", "s"], ["y"])]
    model = make_model(nodes, {"x": x}, ["y"], {"c": f32(2, 3)})
    module = check_model(model, {"x": x})
    assert op_names(module) == ["top.constant", "top.add", "func.return"]


def test_silu_round_trip_and_compute():
    """top.silu has no ONNX op (fusion makes it): build it directly."""
    text = """module @m {
  func.func @main(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {
    %0 = top.silu %x : (tensor<2x3xf32>) -> tensor<2x3xf32> loc("s")
    return %0 : tensor<2x3xf32>
  }
}
"""
    module = parse_module(text)
    verify_module(module)
    assert print_module(parse_module(print_module(module))) == print_module(module)
    x = f32(2, 3)
    got = run_module(module, {"x": x})
    (out,) = got.values()
    np.testing.assert_allclose(out, x / (1 + np.exp(-x)), rtol=1e-5, atol=1e-6)
    assert out.dtype == np.float32


# -- verifier ----------------------------------------------------------------------------------
@pytest.mark.parametrize("line, message", [
    ('top.tanh %x : (tensor<2x3xi32>) -> tensor<2x3xi32>',
     "operand must have a float element type, got i32"),
    ('top.softmax %x {axis = 2} : (tensor<2x3xf32>) -> tensor<2x3xf32>',
     "'axis' 2 is out of range [0, 2)"),
    ('top.gelu %x {approximate = "fast"} : (tensor<2x3xf32>) -> tensor<2x3xf32>',
     "attribute 'approximate' must be one of none, tanh; got fast"),
    ('top.prelu %x, %x : (tensor<2x3xi32>, tensor<2x3xi32>) -> tensor<2x3xf32>',
     "result element type f32 differs from the input element type i32"),
    ('top.clip %x {min = 1.0} : (tensor<2x3xi32>) -> tensor<3x2xi32>',
     "result shape (3, 2) differs from operand shape (2, 3)"),
])
def test_verifier_errors(line, message):
    result = line.rsplit("-> ", 1)[1]
    arg = line.split(": (", 1)[1].split(",")[0].split(")")[0]
    text = (f"func.func @f(%x: {arg}) -> {result} {{\n"
            f"  %0 = {line}\n  return %0 : {result}\n}}\n")
    with pytest.raises(VerifyError) as e:
        verify_module(parse_module(text))
    assert message in str(e.value)


def test_prelu_slope_must_broadcast_to_input():
    text = """func.func @f(%x: tensor<2x3xf32>, %s: tensor<2xf32>) -> tensor<2x3xf32> {
  %0 = top.prelu %x, %s : (tensor<2x3xf32>, tensor<2xf32>) -> tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}
"""
    with pytest.raises(VerifyError, match=r"slope shape \(2,\) does not broadcast"):
        verify_module(parse_module(text))


def run_kiln(model, feeds):
    """Import, verify, print/parse round trip and run: for opsets onnxruntime cannot run."""
    module = import_model(model, ImportOptions(example_inputs=feeds))
    verify_module(module)
    text = print_module(module)
    assert print_module(parse_module(text)) == text
    return module, run_module(module, feeds)


def test_prelu_opset6_slope_is_per_channel():
    """Before opset 7 a 1-D slope of C values applies along dimension 1 (PyTorch's meaning);
    onnxruntime has no opset-6 PRelu, so numpy is the oracle."""
    x, slope = f32(2, 3, 4, 5), rng.random(3).astype(np.float32)
    model = make_model([helper.make_node("PRelu", ["x", "s"], ["y"])], {"x": x}, ["y"],
                       {"s": slope}, opset=6)
    module, got = run_kiln(model, {"x": x})
    want = np.where(x >= 0, x, x * slope.reshape(3, 1, 1))
    np.testing.assert_allclose(got["y"], want, rtol=1e-6)
    assert only_op(module, "top.prelu").slope.type.shape == (3, 1, 1)


def test_prelu_opset7_slope_aligns_trailing_dimensions():
    """From opset 7 the same (3,) slope broadcasts numpy-style, along the last dimension."""
    check_node("PRelu", {"x": f32(2, 3, 3)}, initializers={"s": rng.random(3).astype(np.float32)},
               opset=7)


@pytest.mark.parametrize("opset", [9, 13, 21])
@pytest.mark.parametrize("attrs", [{}, {"bias": 1.5, "lambd": 1.5}, {"lambd": 0.0, "bias": -2.0}])
def test_shrink(opset, attrs):
    module = check_node("Shrink", {"x": f32(3, 7)}, attrs, opset=opset)
    op = only_op(module, "top.shrink")
    assert (op.bias, op.lambd) == (attrs.get("bias", 0.0), attrs.get("lambd", 0.5))


@pytest.mark.parametrize("dtype", [np.int8, np.int32, np.float16])
def test_shrink_other_types(dtype):
    x = np.arange(-6, 6).astype(dtype)
    check_node("Shrink", {"x": x}, {"bias": 1.5, "lambd": 1.5}, opset=13)


def test_shrink_rejects_bool_in_the_verifier():
    text = ("func.func @f(%x: tensor<3xbool>) -> tensor<3xbool> {\n"
            "  %0 = top.shrink %x : (tensor<3xbool>) -> tensor<3xbool>\n"
            "  return %0 : tensor<3xbool>\n}\n")
    with pytest.raises(VerifyError, match="operand must be numeric, got bool"):
        verify_module(parse_module(text))
