import numpy as np
import pytest
from kiln.compiler.interpreter import run_module
from kiln.compiler.opdef import VerifyError
from kiln.compiler.text.parser import parse_module
from kiln.compiler.verifier import verify_module
from kiln.frontend.onnx.importer import ImportFailure, ImportOptions, import_model
from onnx import helper
from onnx_case import check_model, check_node, make_model

rng = np.random.default_rng(0)


def f32(*shape):
    return rng.standard_normal(shape).astype(np.float32)


def op_names(module):
    return [op.name for op in module.main.body]


def bn_params(c, dtype=np.float32):
    return {"scale": f32(c).astype(dtype), "bias": f32(c).astype(dtype),
            "mean": f32(c).astype(dtype), "var": (rng.random(c) + 0.5).astype(dtype)}


# -- BatchNormalization ------------------------------------------------------------------------
@pytest.mark.parametrize("opset", [11, 14, 15, 21])
@pytest.mark.parametrize("attrs", [{}, {"epsilon": 1e-3, "momentum": 0.99}])
def test_batch_norm_params_are_weights(opset, attrs):
    module = check_node("BatchNormalization", {"x": f32(2, 20, 3, 4)}, attrs,
                        initializers=bn_params(20), opset=opset)
    assert op_names(module) == ["top.weight"] * 4 + ["top.batch_normalization", "func.return"]
    bn = module.main.body.last.prev
    assert bn.epsilon == attrs.get("epsilon", 1e-5)


@pytest.mark.parametrize("shape", [(2, 3), (1, 3, 7), (1, 3, 2, 3, 4)])
def test_batch_norm_ranks(shape):
    check_node("BatchNormalization", {"x": f32(*shape)}, initializers=bn_params(3))


def test_batch_norm_dynamic_params_and_float16():
    check_node("BatchNormalization", {"x": f32(2, 3, 4), **bn_params(3)})
    check_node("BatchNormalization", {"x": f32(2, 3, 4).astype(np.float16)},
               initializers=bn_params(3, np.float16), rtol=3e-3, atol=3e-3)


def test_batch_norm_training_mode_is_rejected():
    nodes = [helper.make_node("BatchNormalization", ["x", "s", "b", "m", "v"], ["y"],
                              training_mode=1, name="bn")]
    p = bn_params(3)
    model = make_model(nodes, {"x": f32(2, 3, 4)}, ["y"],
                       {"s": p["scale"], "b": p["bias"], "m": p["mean"], "v": p["var"]})
    with pytest.raises(ImportFailure, match=r"node 'bn' \(BatchNormalization\).*training_mode"):
        import_model(model, ImportOptions())


def test_static_batch_norm_folds():
    x = f32(1, 3, 2)
    nodes = [helper.make_node("BatchNormalization", ["c", "s", "b", "m", "v"], ["n"]),
             helper.make_node("Add", ["x", "n"], ["y"])]
    p = bn_params(3)
    model = make_model(nodes, {"x": x}, ["y"], {"c": f32(1, 3, 2), "s": p["scale"],
                                                "b": p["bias"], "m": p["mean"], "v": p["var"]})
    module = check_model(model, {"x": x})
    assert op_names(module) == ["top.constant", "top.add", "func.return"]


def _bn_model(opset, x, **attrs):
    p = bn_params(x.shape[1])
    nodes = [helper.make_node("BatchNormalization", ["x", "s", "b", "m", "v"], ["y"], name="bn",
                              **attrs)]
    return make_model(nodes, {"x": x}, ["y"], {"s": p["scale"], "b": p["bias"],
                                               "m": p["mean"], "v": p["var"]}, opset), p


@pytest.mark.parametrize("shape", [(2, 3), (2, 3, 4, 4)])
def test_batch_norm_opset6_is_test(shape):
    """Opset 6 (PyTorch's old exports): is_test=1 is inference. onnxruntime has no opset-6
    BatchNormalization, so numpy is the oracle."""
    x = f32(*shape)
    model, p = _bn_model(6, x, is_test=1, epsilon=1e-3, momentum=0.2)
    module = import_model(model, ImportOptions(example_inputs={"x": x}))
    verify_module(module)
    per_c = (-1,) + (1,) * (x.ndim - 2)
    want = ((x - p["mean"].reshape(per_c)) / np.sqrt(p["var"].reshape(per_c) + 1e-3)
            * p["scale"].reshape(per_c) + p["bias"].reshape(per_c))
    np.testing.assert_allclose(run_module(module, {"x": x})["y"], want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("opset", [6, 7])
def test_batch_norm_legacy_training_forms_are_rejected(opset):
    model, _ = _bn_model(opset, f32(2, 3, 4, 4), spatial=0, **({"is_test": 1} if opset == 6
                                                                 else {}))
    with pytest.raises(ImportFailure, match="spatial=0"):
        import_model(model, ImportOptions())
    model, _ = _bn_model(6, f32(2, 3, 4))  # is_test defaults to 0: training mode
    with pytest.raises(ImportFailure, match=r"training mode \(is_test=0"):
        import_model(model, ImportOptions())


@pytest.mark.parametrize("attrs", [{"spatial": 1}, {}])
def test_batch_norm_opset7_spatial(attrs):
    check_node("BatchNormalization", {"x": f32(2, 3, 5)}, attrs, initializers=bn_params(3),
               opset=7)


def test_batch_norm_spatial0_on_nc_input_is_per_channel():
    check_node("BatchNormalization", {"x": f32(4, 3)}, {"spatial": 0},
               initializers=bn_params(3), opset=7)


# -- LRN ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("opset", [1, 13])
@pytest.mark.parametrize("attrs", [{"size": 3}, {"size": 5, "alpha": 0.001, "beta": 0.5,
                                                  "bias": 2.0}, {"size": 1}])
def test_lrn(opset, attrs):
    module = check_node("LRN", {"x": f32(2, 7, 4, 3) * 4}, attrs, opset=opset)
    op = module.main.body.last.prev
    assert op.name == "top.lrn" and op.size == attrs["size"]
    assert (op.alpha, op.beta, op.bias) == (attrs.get("alpha", 1e-4), attrs.get("beta", 0.75),
                                            attrs.get("bias", 1.0))


def test_lrn_verifier():
    with pytest.raises(VerifyError, match="size must be >= 1, got 0"):
        _verify("top.lrn %x {size = 0} : (tensor<1x3x2xf32>) -> tensor<1x3x2xf32>",
                "%x: tensor<1x3x2xf32>", "tensor<1x3x2xf32>")
    with pytest.raises(VerifyError, match="rank >= 2"):
        _verify("top.lrn %x {size = 3} : (tensor<3xf32>) -> tensor<3xf32>",
                "%x: tensor<3xf32>", "tensor<3xf32>")


# -- Dropout -----------------------------------------------------------------------------------
@pytest.mark.parametrize("opset", [7, 10, 12, 13, 21])
@pytest.mark.parametrize("with_mask", [False, True])
def test_dropout_is_identity(opset, with_mask):
    """The output is the input (then used by a Relu: the output must keep its data once the
    input's last consumer is done), the mask all ones (bool from opset 10)."""
    x = f32(2, 3, 4)
    outputs = ["d", "mask"] if with_mask else ["d"]
    nodes = [helper.make_node("Dropout", ["x"], outputs, ratio=0.3) if opset < 12
             else helper.make_node("Dropout", ["x"], outputs),
             helper.make_node("Relu", ["d"], ["y"])]
    model = make_model(nodes, {"x": x}, ["y", *outputs[1:]], opset=opset)
    if with_mask and opset < 12:
        # onnxruntime's opset 7 and 10 kernels return an all-zero mask; ONNX's reference
        # (and onnxruntime from opset 12) an all-ones one: nothing was dropped.
        module = import_model(model, ImportOptions(example_inputs={"x": x}))
        got = run_module(module, {"x": x})
        np.testing.assert_array_equal(got["y"], np.maximum(x, 0))
        assert got["mask"].dtype == (np.bool_ if opset >= 10 else np.float32)
        assert got["mask"].shape == x.shape and np.all(got["mask"])
        return
    module = check_model(model, {"x": x})
    assert "top.relu" in op_names(module) and len(op_names(module)) <= 3


@pytest.mark.parametrize("ratio", [None, 0.0, 0.5])
def test_dropout_inference_mode_inputs(ratio):
    """Opset 12+: ratio and training_mode are inputs; training_mode=False is inference."""
    inits = {"t": np.array(False)}
    order = ["x", "", "t"]
    if ratio is not None:
        inits["r"] = np.array(ratio, np.float32)
        order[1] = "r"
    module = check_node("Dropout", {"x": f32(3, 4)}, initializers=inits, order=order, opset=13)
    assert op_names(module) == ["func.return"]


def test_dropout_training_mode():
    x = f32(3, 4)
    inits = {"r": np.array(0.0, np.float32), "t": np.array(True)}
    check_node("Dropout", {"x": x}, initializers=inits, order=["x", "r", "t"], opset=13)
    model = make_model([helper.make_node("Dropout", ["x", "r", "t"], ["y"], name="drop")],
                       {"x": x}, ["y"], {"r": np.array(0.5, np.float32), "t": np.array(True)},
                       opset=13)
    with pytest.raises(ImportFailure, match=r"training mode \(training_mode=1, ratio=0.5\)"):
        import_model(model, ImportOptions())
    model = make_model([helper.make_node("Dropout", ["x", "", "t"], ["y"], name="drop")],
                       {"x": x, "t": np.array(True)}, ["y"], opset=13)
    with pytest.raises(ImportFailure, match=r"training_mode .* must be computable"):
        import_model(model, ImportOptions())


def test_dropout_opset6_is_test_is_identity():
    x = f32(2, 5)
    model = make_model([helper.make_node("Dropout", ["x"], ["y"], is_test=1, ratio=0.2)],
                       {"x": x}, ["y"], opset=6)
    module = import_model(model, ImportOptions())
    np.testing.assert_array_equal(run_module(module, {"x": x})["y"], x)


# -- LayerNormalization ------------------------------------------------------------------------
@pytest.mark.parametrize("axis, norm_shape", [(-1, (6,)), (2, (5, 6)), (-3, (4, 5, 6)),
                                              (1, (4, 5, 6))])
@pytest.mark.parametrize("with_bias", [True, False])
def test_layer_norm(axis, norm_shape, with_bias):
    inits = {"scale": f32(*norm_shape)}
    if with_bias:
        inits["bias"] = f32(*norm_shape)
    module = check_node("LayerNormalization", {"x": f32(2, 4, 5, 6)}, {"axis": axis},
                        initializers=inits)
    ln = module.main.body.last.prev
    assert ln.name == "top.layer_normalization" and ln.axis == axis % 4
    assert (ln.bias is None) == (not with_bias)


@pytest.mark.parametrize("opset", [17, 21])
def test_layer_norm_epsilon_broadcast_scale_and_float16(opset):
    check_node("LayerNormalization", {"x": f32(3, 8)}, {"epsilon": 1e-2},
               initializers={"scale": f32(1), "bias": f32(8)}, opset=opset)
    check_node("LayerNormalization", {"x": f32(3, 8).astype(np.float16)},
               initializers={"scale": f32(8).astype(np.float16)}, rtol=3e-3, atol=3e-3,
               opset=opset)


def _layer_norm_model(outputs, consumer=None):
    nodes = [helper.make_node("LayerNormalization", ["x", "scale"], ["ln", "mean", "inv"],
                              name="ln0")]
    if consumer:
        nodes.append(helper.make_node("Add", ["ln", consumer], ["y"], name="use"))
    return make_model(nodes, {"x": f32(2, 8)}, outputs, {"scale": f32(8)})


def test_layer_norm_unused_extra_outputs_are_fine():
    x = f32(2, 8)
    check_model(_layer_norm_model(["ln"]), {"x": x})


def test_layer_norm_extra_output_used_by_a_node_is_an_error():
    model = _layer_norm_model(["y"], consumer="mean")
    with pytest.raises(ImportFailure, match=r"node 'ln0' \(LayerNormalization\): output 1 "
                                            r"\('mean'\) is used, but kiln computes only"):
        import_model(model, ImportOptions())


def test_layer_norm_extra_output_as_graph_output_is_an_error():
    with pytest.raises(ImportFailure, match=r"output 2 \('inv'\) is used"):
        import_model(_layer_norm_model(["ln", "inv"]), ImportOptions())


# -- InstanceNormalization and LpNormalization -------------------------------------------------
@pytest.mark.parametrize("shape", [(2, 3, 5), (2, 3, 4, 5)])
@pytest.mark.parametrize("opset", [11, 21])
def test_instance_norm(shape, opset):
    module = check_node("InstanceNormalization", {"x": f32(*shape)}, {"epsilon": 1e-4},
                        initializers={"scale": f32(3), "bias": f32(3)}, opset=opset)
    assert module.main.body.last.prev.name == "top.instance_normalization"


def test_instance_norm_dynamic_params():
    check_node("InstanceNormalization", {"x": f32(1, 4, 6), "s": f32(4), "b": f32(4)})


@pytest.mark.parametrize("axis", [0, 1, -1])
@pytest.mark.parametrize("p", [1, 2])
def test_lp_normalization(axis, p):
    x = f32(3, 4, 5)
    x[0, 0, :] = 0.0  # an all-zero slice stays zero
    module = check_node("LpNormalization", {"x": x}, {"axis": axis, "p": p})
    op = module.main.body.first
    assert op.name == "top.lp_normalization" and op.axis == axis % 3 and op.p == p


def test_lp_normalization_bad_p():
    model = make_model([helper.make_node("LpNormalization", ["x"], ["y"], p=3)],
                       {"x": f32(3)}, ["y"])
    with pytest.raises(ImportFailure, match="p must be 1 or 2"):
        import_model(model, ImportOptions())


# -- verifier ----------------------------------------------------------------------------------
def _verify(op_line: str, args: str, result: str) -> None:
    text = (f"func.func @f({args}) -> {result} {{\n  %0 = {op_line}\n"
            f"  return %0 : {result}\n}}\n")
    verify_module(parse_module(text))


def test_batch_norm_params_must_be_per_channel():
    with pytest.raises(VerifyError, match=r"mean shape \(4,\) must be \(3,\)"):
        _verify("top.batch_normalization %x, %c, %c, %m, %c : (tensor<1x3x2xf32>, tensor<3xf32>, "
                "tensor<3xf32>, tensor<4xf32>, tensor<3xf32>) -> tensor<1x3x2xf32>",
                "%x: tensor<1x3x2xf32>, %c: tensor<3xf32>, %m: tensor<4xf32>",
                "tensor<1x3x2xf32>")


def test_layer_norm_scale_must_broadcast_and_axis_in_range():
    args = "%x: tensor<2x3x4xf32>, %s: tensor<3xf32>"
    with pytest.raises(VerifyError, match=r"scale shape \(3,\) does not broadcast to the "
                                          r"normalized shape \(4,\)"):
        _verify("top.layer_normalization %x, %s {axis = 2} : (tensor<2x3x4xf32>, tensor<3xf32>)"
                " -> tensor<2x3x4xf32>", args, "tensor<2x3x4xf32>")
    with pytest.raises(VerifyError, match=r"'axis' 3 is out of range \[0, 3\)"):
        _verify("top.layer_normalization %x, %s {axis = 3} : (tensor<2x3x4xf32>, tensor<3xf32>)"
                " -> tensor<2x3x4xf32>", args, "tensor<2x3x4xf32>")


def test_lp_normalization_p_and_epsilon_checks():
    with pytest.raises(VerifyError, match="p must be 1 or 2, got 3"):
        _verify("top.lp_normalization %x {axis = 0, p = 3} : (tensor<4xf32>) -> tensor<4xf32>",
                "%x: tensor<4xf32>", "tensor<4xf32>")
    with pytest.raises(VerifyError, match="epsilon must be >= 0"):
        _verify("top.instance_normalization %x, %c, %c {epsilon = -1.0} : (tensor<1x2x3xf32>, "
                "tensor<2xf32>, tensor<2xf32>) -> tensor<1x2x3xf32>",
                "%x: tensor<1x2x3xf32>, %c: tensor<2xf32>", "tensor<1x2x3xf32>")
