"""ONNX import of Conv, ConvTranspose, the pools, MatMul and Gemm, checked against onnxruntime."""

import numpy as np
import pytest
from kiln.compiler.interpreter import run_module
from kiln.frontend.onnx.importer import ImportFailure, ImportOptions, import_model
from onnx import helper
from onnx_case import check_model, check_node, make_model, run_ort

rng = np.random.default_rng(0)


def f32(*shape):
    return rng.standard_normal(shape).astype(np.float32)


def top_ops(module, name):
    return [op for op in module.main.body if op.name == name]


def the_op(module, name):
    (op,) = top_ops(module, name)
    return op


def import_error(op_type, inputs, attrs=None, initializers=None, n_outputs=1, opset=17):
    outputs = [f"y{i}" for i in range(n_outputs)]
    node = helper.make_node(op_type, [*inputs, *(initializers or {})], outputs, **(attrs or {}))
    model = make_model([node], inputs, outputs, initializers, opset)
    with pytest.raises(ImportFailure) as e:
        import_model(model, ImportOptions(example_inputs=inputs))
    return str(e.value)


# -- Conv (the builder lives in ops_core.py) ----------------------------------------------------
@pytest.mark.parametrize("attrs, x_shape, w_shape, bias", [
    ({}, (2, 3, 9), (4, 3, 3), True),                                   # 1-D
    ({"strides": [2], "pads": [1, 2]}, (1, 2, 10), (3, 2, 4), False),   # 1-D strided, no bias
    ({"group": 2, "pads": [1, 1, 1, 1]}, (1, 4, 6, 6), (6, 2, 3, 3), True),  # groups
    ({"group": 4, "pads": [1, 1, 1, 1]}, (1, 4, 6, 6), (4, 1, 3, 3), True),  # depthwise
    ({"group": 3}, (1, 3, 7, 7), (6, 1, 3, 3), False),                  # depthwise multiplier 2
    ({"dilations": [2, 3], "pads": [2, 1, 0, 3]}, (1, 2, 9, 9), (3, 2, 3, 2), True),
    ({"strides": [2, 1], "dilations": [1, 2]}, (1, 2, 9, 8), (3, 2, 3, 3), False),
    ({"kernel_shape": [1, 1]}, (1, 5, 4, 4), (2, 5, 1, 1), True),        # pointwise
])
def test_conv(attrs, x_shape, w_shape, bias):
    inits = {"w": f32(*w_shape)}
    if bias:
        inits["b"] = f32(w_shape[0])
    module = check_node("Conv", {"x": f32(*x_shape)}, attrs, inits)
    conv = the_op(module, "top.conv")
    assert (conv.bias is None) == (not bias)


@pytest.mark.parametrize("auto_pad", ["SAME_UPPER", "SAME_LOWER", "VALID"])
@pytest.mark.parametrize("strides, kernel", [([1, 1], [3, 3]), ([2, 2], [3, 2]), ([3, 2], [4, 4])])
def test_conv_auto_pad(auto_pad, strides, kernel):
    x = f32(1, 2, 8, 7)
    attrs = {"auto_pad": auto_pad, "strides": strides}
    module = check_node("Conv", {"x": x}, attrs, {"w": f32(3, 2, *kernel), "b": f32(3)})
    out = the_op(module, "top.conv").output.type.shape
    if auto_pad != "VALID":
        assert out[2:] == (-(-8 // strides[0]), -(-7 // strides[1]))


def check_same_against_explicit(op_type, x, auto_pad, pads, out_shape, inits=None, **attrs):
    """Import `op_type` with `auto_pad` and compare it with onnxruntime running the same node
    given the explicit `pads` the spec resolves it to (onnxruntime rejects or mis-sizes SAME
    with dilations)."""
    names = ["x", *(inits or {})]
    auto = make_model([helper.make_node(op_type, names, ["y"], auto_pad=auto_pad, **attrs)],
                      {"x": x}, ["y"], inits, opset=19)
    module = import_model(auto, ImportOptions(example_inputs={"x": x}))
    (op,) = [op for op in module.main.body if op.name.startswith("top.") and
             op.name not in ("top.weight", "top.constant")]
    assert op.pads == tuple(pads)
    assert op.output.type.shape == out_shape
    explicit = make_model([helper.make_node(op_type, names, ["y"], pads=pads, **attrs)],
                          {"x": x}, ["y"], inits, opset=19)
    want = run_ort(explicit, {"x": x})["y"]
    np.testing.assert_allclose(run_module(module, {"x": x})["y"], want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("auto_pad, pads", [("SAME_UPPER", [2, 0, 2, 1]),
                                            ("SAME_LOWER", [2, 1, 2, 0])])
def test_conv_same_with_dilations(auto_pad, pads):
    check_same_against_explicit("Conv", f32(1, 2, 7, 8), auto_pad, pads, (1, 3, 4, 4),
                                {"w": f32(3, 2, 3, 2)}, strides=[2, 2], dilations=[2, 2])


def test_conv_1d_same_lower_odd_padding():
    module = check_node("Conv", {"x": f32(1, 2, 6)}, {"auto_pad": "SAME_LOWER"},
                        {"w": f32(2, 2, 4)})
    assert the_op(module, "top.conv").pads == (2, 1)


def test_conv_static_input_folds():
    x = f32(4, 3)
    nodes = [helper.make_node("Conv", ["cx", "w"], ["c"], pads=[1, 1]),
             helper.make_node("Reshape", ["c", "shape"], ["r"]),
             helper.make_node("Add", ["x", "r"], ["y"])]
    inits = {"cx": f32(1, 2, 3), "w": f32(4, 2, 3), "shape": np.array([4, 3], np.int64)}
    module = check_model(make_model(nodes, {"x": x}, ["y"], inits), {"x": x})
    assert not top_ops(module, "top.conv")


# -- ConvTranspose ------------------------------------------------------------------------------
@pytest.mark.parametrize("attrs, x_shape, w_shape", [
    ({}, (1, 3, 5), (3, 2, 3)),                                                     # 1-D
    ({"strides": [2], "pads": [1, 0], "output_padding": [1]}, (2, 2, 6), (2, 3, 4)),
    ({}, (1, 3, 4, 5), (3, 2, 3, 3)),
    ({"strides": [2, 2], "pads": [1, 1, 1, 1], "output_padding": [1, 1]}, (1, 4, 4, 4),
     (4, 2, 3, 3)),                                       # the usual 2x upsampling layer
    ({"strides": [2, 3], "dilations": [2, 1], "pads": [0, 1, 2, 0]}, (1, 2, 3, 4),
     (2, 3, 3, 2)),
    ({"group": 2, "strides": [2, 2]}, (1, 4, 3, 3), (4, 3, 2, 2)),
    ({"group": 4, "strides": [2, 2], "kernel_shape": [2, 2]}, (1, 4, 3, 3), (4, 1, 2, 2)),
])
@pytest.mark.parametrize("bias", [False, True])
def test_conv_transpose(attrs, x_shape, w_shape, bias):
    inits = {"w": f32(*w_shape)}
    if bias:
        inits["b"] = f32(w_shape[1] * attrs.get("group", 1))
    check_node("ConvTranspose", {"x": f32(*x_shape)}, attrs, inits)


@pytest.mark.parametrize("auto_pad", ["SAME_UPPER", "SAME_LOWER", "VALID"])
@pytest.mark.parametrize("strides, kernel", [([2, 2], [3, 3]), ([1, 3], [2, 4])])
def test_conv_transpose_auto_pad(auto_pad, strides, kernel):
    module = check_node("ConvTranspose", {"x": f32(1, 2, 4, 3)},
                        {"auto_pad": auto_pad, "strides": strides}, {"w": f32(2, 3, *kernel)})
    out = the_op(module, "top.conv_transpose").output.type.shape
    if auto_pad != "VALID":
        assert out[2:] == (4 * strides[0], 3 * strides[1])


@pytest.mark.parametrize("attrs", [
    {"strides": [2, 2], "output_shape": [9, 10]},
    {"strides": [2, 2], "output_shape": [9, 10], "output_padding": [1, 1]},
    {"strides": [3, 2], "output_shape": [10, 9], "auto_pad": "SAME_UPPER"},
])
def test_conv_transpose_output_shape(attrs):
    module = check_node("ConvTranspose", {"x": f32(1, 2, 4, 5)}, attrs, {"w": f32(2, 3, 3, 3)},
                        opset=13)
    want = tuple(attrs["output_shape"][-2:])
    assert the_op(module, "top.conv_transpose").output.type.shape[2:] == want


def test_conv_transpose_errors():
    msg = import_error("ConvTranspose", {"x": f32(1, 2, 4, 4)}, {"kernel_shape": [2, 2]},
                       {"w": f32(2, 3, 3, 3)})
    assert "kernel_shape [2, 2] does not match the filter's spatial shape [3, 3]" in msg
    msg = import_error("ConvTranspose", {"x": f32(1, 2, 4, 4)}, {"output_shape": [20, 20]},
                       {"w": f32(2, 3, 3, 3)})
    assert "exceeds the unpadded ConvTranspose output" in msg


# -- pooling ------------------------------------------------------------------------------------
POOL_CASES = [
    ({"kernel_shape": [3]}, (1, 2, 9)),                                           # 1-D
    ({"kernel_shape": [2], "strides": [2], "pads": [1, 1]}, (2, 3, 7)),
    ({"kernel_shape": [2, 2], "strides": [2, 2]}, (1, 3, 8, 8)),
    ({"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1]}, (1, 2, 7, 7)),
    ({"kernel_shape": [3, 2], "strides": [2, 3], "pads": [0, 1, 2, 1]}, (1, 2, 8, 9)),
    ({"kernel_shape": [3, 3], "strides": [2, 2], "ceil_mode": 1}, (1, 2, 8, 8)),
    ({"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1], "ceil_mode": 1},
     (1, 2, 6, 6)),                                # a last window dropped by the ceil rule
    ({"kernel_shape": [2, 2, 2], "strides": [1, 2, 2]}, (1, 2, 3, 4, 4)),         # 3-D
]


@pytest.mark.parametrize("attrs, shape", POOL_CASES)
@pytest.mark.parametrize("opset", [11, 17])
def test_max_pool(attrs, shape, opset):
    module = check_node("MaxPool", {"x": f32(*shape)}, attrs, opset=opset)
    assert the_op(module, "top.max_pool").ceil_mode == bool(attrs.get("ceil_mode", 0))


@pytest.mark.parametrize("attrs, shape", POOL_CASES)
@pytest.mark.parametrize("count_include_pad", [0, 1])
def test_average_pool(attrs, shape, count_include_pad):
    attrs = {**attrs, "count_include_pad": count_include_pad}
    module = check_node("AveragePool", {"x": f32(*shape)}, attrs)
    assert the_op(module, "top.average_pool").count_include_pad == bool(count_include_pad)


@pytest.mark.parametrize("op_type", ["MaxPool", "AveragePool"])
def test_pool_dilations(op_type):
    attrs = {"kernel_shape": [2, 3], "dilations": [2, 2], "strides": [1, 2],
             "pads": [1, 0, 1, 2]}
    module = check_node(op_type, {"x": f32(1, 2, 9, 9)}, attrs, opset=19)
    assert module.main.body.first is not None


@pytest.mark.parametrize("op_type", ["MaxPool", "AveragePool"])
@pytest.mark.parametrize("auto_pad", ["SAME_UPPER", "SAME_LOWER", "VALID"])
@pytest.mark.parametrize("kernel, strides", [([3, 3], [2, 2]), ([2, 4], [1, 3])])
def test_pool_auto_pad(op_type, auto_pad, kernel, strides):
    attrs = {"kernel_shape": kernel, "strides": strides, "auto_pad": auto_pad}
    module = check_node(op_type, {"x": f32(1, 2, 7, 8)}, attrs)
    if auto_pad != "VALID":
        out = module.main.body.first.output.type.shape
        assert out[2:] == (-(-7 // strides[0]), -(-8 // strides[1]))


@pytest.mark.parametrize("op_type", ["MaxPool", "AveragePool"])
@pytest.mark.parametrize("auto_pad, pads", [("SAME_UPPER", [2, 0, 2, 1]),
                                            ("SAME_LOWER", [2, 1, 2, 0])])
def test_pool_same_with_dilations_follows_the_spec(op_type, auto_pad, pads):
    """SAME pads use the dilated window (output ceil(in / stride)) as the spec says;
    onnxruntime ignores the dilation there and gives a smaller output."""
    check_same_against_explicit(op_type, f32(1, 2, 7, 8), auto_pad, pads, (1, 2, 4, 4),
                                kernel_shape=[3, 2], strides=[2, 2], dilations=[2, 2])


@pytest.mark.parametrize("dtype", [np.int8, np.uint8])
def test_max_pool_integer(dtype):
    x = rng.integers(0, 100, (1, 2, 6, 6)).astype(dtype)
    check_node("MaxPool", {"x": x}, {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1]})


def test_max_pool_indices_is_an_error():
    msg = import_error("MaxPool", {"x": f32(1, 1, 4, 4)}, {"kernel_shape": [2, 2]},
                       n_outputs=2)
    assert "MaxPool's Indices output ('y1') is not supported" in msg


def test_pool_errors():
    assert "requires the kernel_shape attribute" in import_error("MaxPool", {"x": f32(1, 1, 4)})
    msg = import_error("AveragePool", {"x": f32(1, 1, 4, 4)}, {"kernel_shape": [2]})
    assert "kernel_shape [2] does not match 2 spatial dims" in msg


@pytest.mark.parametrize("op_type", ["GlobalAveragePool", "GlobalMaxPool"])
@pytest.mark.parametrize("shape", [(2, 3, 5), (1, 4, 3, 5), (1, 2, 2, 3, 4)])
def test_global_pool(op_type, shape):
    module = check_node(op_type, {"x": f32(*shape)})
    assert module.main.body.first.output.type.shape == shape[:2] + (1,) * (len(shape) - 2)


# -- MatMul -------------------------------------------------------------------------------------
@pytest.mark.parametrize("a_shape, b_shape", [
    ((3, 4), (4, 5)),
    ((2, 3, 4), (2, 4, 5)),
    ((2, 1, 3, 4), (5, 4, 2)),          # batch broadcast both ways
    ((1, 3, 4), (6, 4, 2)),
    ((4,), (4, 5)),                     # 1-D lhs
    ((4,), (2, 4, 5)),
    ((2, 3, 4), (4,)),                  # 1-D rhs
    ((4,), (4,)),                       # dot product
])
def test_matmul(a_shape, b_shape):
    module = check_node("MatMul", {"a": f32(*a_shape), "b": f32(*b_shape)})
    assert the_op(module, "top.matmul").output.type.shape == np.matmul(
        np.empty(a_shape), np.empty(b_shape)).shape


def test_matmul_weight_initializer_batched_activations():
    """The transformer/linear pattern: activations [B, T, K] @ weight [K, N] (+ bias)."""
    x = f32(2, 5, 8)
    nodes = [helper.make_node("MatMul", ["x", "w"], ["m"]),
             helper.make_node("Add", ["m", "bias"], ["y"])]
    model = make_model(nodes, {"x": x}, ["y"], {"w": f32(8, 6), "bias": f32(6)})
    module = check_model(model, {"x": x})
    mm = the_op(module, "top.matmul")
    assert mm.rhs.owner.name == "top.weight" and mm.output.type.shape == (2, 5, 6)


def test_matmul_integer_and_folding():
    a = rng.integers(-5, 5, (2, 3)).astype(np.int32)
    check_node("MatMul", {"a": a}, initializers={"b": rng.integers(-5, 5, (3, 4), np.int32)})
    x = f32(3, 4)
    nodes = [helper.make_node("MatMul", ["p", "q"], ["m"]),
             helper.make_node("Add", ["x", "m"], ["y"])]
    module = check_model(make_model(nodes, {"x": x}, ["y"], {"p": f32(3, 2), "q": f32(2, 4)}),
                         {"x": x})
    assert not top_ops(module, "top.matmul")


def test_matmul_shape_error():
    msg = import_error("MatMul", {"a": f32(2, 3), "b": f32(4, 5)})
    assert "MatMul: inner dimensions differ: (2, 3) and (4, 5)" in msg


# -- Gemm ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("attrs", [
    {}, {"transA": 1}, {"transB": 1}, {"transA": 1, "transB": 1, "alpha": 0.5, "beta": 2.0},
    {"beta": 0.0},
])
@pytest.mark.parametrize("c_shape", [None, (), (5,), (1, 5), (3, 1), (3, 5)])
def test_gemm(attrs, c_shape):
    a = f32(4, 3) if attrs.get("transA") else f32(3, 4)
    inits = {"b": f32(5, 4) if attrs.get("transB") else f32(4, 5)}
    if c_shape is not None:
        inits["c"] = f32(*c_shape)
    module = check_node("Gemm", {"a": a}, attrs, inits, opset=13)
    gemm = the_op(module, "top.gemm")
    assert gemm.trans_a == bool(attrs.get("transA")) and gemm.alpha == attrs.get("alpha", 1.0)
    assert (gemm.c is None) == (c_shape is None)


def test_gemm_linear_layer_opset11_dynamic_b():
    """torch.nn.Linear exports Gemm(x, W, b, transB=1); B may be dynamic too."""
    check_node("Gemm", {"x": f32(2, 6)}, {"transB": 1}, {"w": f32(3, 6), "b": f32(3)},
               opset=11)
    check_node("Gemm", {"a": f32(2, 6), "b": f32(6, 3)}, {"alpha": 1.5}, opset=11)


@pytest.mark.parametrize("broadcast, c_shape", [(1, (5,)), (1, (1, 5)), (0, (3, 5))])
def test_gemm_opset6_broadcast_attribute(broadcast, c_shape):
    """Opset 6 (PyTorch's old nn.Linear export) says whether C broadcasts; onnxruntime has no
    opset-6 Gemm, so numpy is the oracle."""
    a, b, c = f32(3, 4), f32(5, 4), f32(*c_shape)
    model = make_model([helper.make_node("Gemm", ["a", "b", "c"], ["y"], transB=1,
                                         broadcast=broadcast, alpha=0.5)],
                       {"a": a}, ["y"], {"b": b, "c": c}, opset=6)
    module = import_model(model, ImportOptions(example_inputs={"a": a}))
    np.testing.assert_allclose(run_module(module, {"a": a})["y"], 0.5 * a @ b.T + c, rtol=1e-5,
                               atol=1e-6)


def test_gemm_rank_error():
    msg = import_error("Gemm", {"a": f32(2, 3, 4)}, initializers={"b": f32(4, 5)})
    assert "Gemm needs 2-D A and B, got (2, 3, 4) and (4, 5)" in msg
