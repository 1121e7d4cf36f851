import numpy as np
import pytest
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
