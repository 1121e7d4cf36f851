"""fp_forward on the example CNN: --fpfwd_inputs / --fpfwd_outputs / --fpfwd_blocks choose
the right layers (in program order, in the target's float mode), the qtable deploys with
model_deploy and exactly those layers are float in the lowered IR; bad input exits 2 with
one message and writes nothing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from kiln.calibration.qtable import read_qtable
from kiln.compiler.module_io import read_module
from kiln.compiler.types import TensorType, UniformType
from kiln.tools import fp_forward, model_deploy, model_transform, run_calibration
from onnx import TensorProto, helper, numpy_helper
from tool_case import TINY_CNN, assert_usage_error, cli, make_png, save, snapshot

PROG = "fp_forward"
# the example CNN's computing layers, in program order
LAYERS = ["stem_relu", "block1_relu", "block2_bn", "res_add", "res_relu", "pool", "head_relu",
          "gap", "flat", "logits"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("fpfwd")
    mlir = root / "tiny.mlir"
    assert model_transform.run([
        "--model_name", "tiny_cnn", "--model_def", str(TINY_CNN), "--input_shapes",
        "[[1,3,32,32]]", "--mean", "123.675,116.28,103.53", "--scale", "0.0171,0.0175,0.0174",
        "--pixel_format", "rgb", "--mlir", str(mlir)]) == 0
    images = root / "images"
    for i in range(4):
        make_png(images / f"img_{i}.png", 32, 32, seed=i)
    table = root / "tiny_cali_table"
    assert run_calibration.run([str(mlir), "--dataset", str(images), "-o", str(table)]) == 0
    return {"root": root, "mlir": mlir, "table": table}


def forward(capsys, tiny, out: Path, *flags) -> tuple[int, str]:
    code, _, err = cli(fp_forward.run, [tiny["mlir"], *flags, "-o", out], capsys)
    return code, err


def rows(path: Path) -> dict[str, str]:
    table = read_qtable(path)
    assert not table.shape_layers
    return table.modes


@pytest.mark.parametrize("flags,expected", [
    (["--fpfwd_inputs", "block1_relu"], ["stem_relu", "block1_relu"]),
    (["--fpfwd_inputs", "stem_relu"], ["stem_relu"]),
    # res_add reads stem_relu directly and block1_relu through block2_bn
    (["--fpfwd_inputs", "res_add"], LAYERS[:4]),
    (["--fpfwd_outputs", "res_add"], LAYERS[3:]),
    (["--fpfwd_outputs", "head_relu,flat"], LAYERS[6:]),
    (["--fpfwd_outputs", "logits"], ["logits"]),
    # the paths from block1_relu to res_relu do not include stem_relu (read by res_add)
    (["--fpfwd_blocks", "block1_relu:res_relu"], ["block1_relu", "block2_bn", "res_add",
                                                  "res_relu"]),
    (["--fpfwd_blocks", "stem_relu:res_add"], LAYERS[:4]),
    (["--fpfwd_blocks", "pool:pool"], ["pool"]),
    (["--fpfwd_blocks", "stem_relu:block1_relu  gap:logits"],
     ["stem_relu", "block1_relu", "gap", "flat", "logits"]),
    # several flags: the union, in program order
    (["--fpfwd_outputs", "gap", "--fpfwd_inputs", "stem_relu", "--fpfwd_blocks",
      "block2_bn:res_add"], ["stem_relu", "block2_bn", "res_add", "gap", "flat", "logits"]),
])
def test_selection(flags, expected, tiny, tmp_path, capsys):
    out = tmp_path / "qtable"
    code, err = forward(capsys, tiny, out, *flags)
    assert code == 0, err
    assert list(rows(out)) == expected
    assert set(rows(out).values()) == {"F16"}
    assert f"{len(expected)} of {len(LAYERS)} layer(s) in F16" in err


@pytest.mark.parametrize("processor,fp_type,mode", [
    ("int8-sym", "auto", "F16"), ("int8-sym", "BF16", "BF16"), ("int8-sym", "f32", "F32"),
    ("uint8-affine", "auto", "F16"), ("feature12", "auto", "F32"), ("dfp-int16", "auto", "F32"),
])
def test_fp_type_follows_the_target(processor, fp_type, mode, tiny, tmp_path, capsys):
    out = tmp_path / "qtable"
    code, err = forward(capsys, tiny, out, "--fpfwd_outputs", "gap", "--processor", processor,
                        "--fp_type", fp_type)
    assert code == 0, err
    assert rows(out) == {"gap": mode, "flat": mode, "logits": mode}


def test_qtable_deploys_and_those_layers_are_float(tiny, tmp_path, capsys):
    qtable = tmp_path / "qtable"
    code, err = forward(capsys, tiny, qtable, "--fpfwd_outputs", "head_relu", "--quantize",
                        "INT8")
    assert code == 0, err
    before = snapshot(tiny["root"])
    code, _, err = cli(model_deploy.run, [
        "--mlir", tiny["mlir"], "--quantize", "INT8", "--calibration_table", tiny["table"],
        "--quantize_table", qtable, "--model", tmp_path / "mix.kmodel"], capsys)
    assert code == 0, err
    assert snapshot(tiny["root"]) == before
    module = read_module(tmp_path / "mix_npu.mlir")
    ops = {op.loc: op for op in module.walk() if op.loc}
    float_layers = {"head_relu", "gap", "flat", "logits"}
    for loc in LAYERS:
        op = ops[loc]
        t = op.results[0].type
        assert isinstance(t, TensorType)
        if loc in float_layers:
            assert op.name.startswith("top."), loc
            assert op.attributes.get("kiln.mode") == "F16", loc
            assert t.element.name == "f32", loc
        else:
            assert isinstance(t.element, UniformType), loc
    # the half-precision rounding casts of F16 layers are there
    assert any(op.name == "npu.cast" and op.results[0].type.scalar.name == "f16"
               for op in module.walk())


def test_same_bytes_twice(tiny, tmp_path, capsys):
    written = []
    for run in ("a", "b"):
        code, err = forward(capsys, tiny, tmp_path / run, "--fpfwd_blocks",
                            "block1_relu:res_relu", "--fpfwd_outputs", "gap")
        assert code == 0, err
        written.append((tmp_path / run).read_bytes())
    assert written[0] == written[1]
    assert written[0].decode().startswith("# op_name quantize_mode\n# kiln qtable 1\n")


def _colon_model(path: Path) -> Path:
    """TF-style tensor names with ':' in them: conv:0 -> relu:0 -> conv_1:0."""
    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array((rng.standard_normal((4, 3, 3, 3)) * 0.3)
                                     .astype(np.float32), "w"),
             numpy_helper.from_array((rng.standard_normal((4, 4, 1, 1)) * 0.3)
                                     .astype(np.float32), "w2")]
    nodes = [helper.make_node("Conv", ["x", "w"], ["conv:0"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["conv:0"], ["relu:0"]),
             helper.make_node("Conv", ["relu:0", "w2"], ["conv_1:0"])]
    graph = helper.make_graph(
        nodes, "colons", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("conv_1:0", TensorProto.FLOAT, None)], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    return save(model, path)


def test_block_names_with_colons(tmp_path, capsys):
    onnx_path = _colon_model(tmp_path / "colons.onnx")
    mlir = tmp_path / "colons.mlir"
    assert model_transform.run(["--model_def", str(onnx_path), "--mlir", str(mlir)]) == 0
    out = tmp_path / "qtable"
    code, _, err = cli(fp_forward.run, [mlir, "--fpfwd_blocks", "relu:0:conv_1:0", "-o", out],
                       capsys)
    assert code == 0, err
    assert list(rows(out)) == ["relu:0", "conv_1:0"]
    code, _, err = cli(fp_forward.run, [mlir, "--fpfwd_blocks", "relu:0:conv_9:0", "-o", out],
                       capsys)
    assert_usage_error(code, err, PROG, "relu:0:conv_9:0")


BAD = {  # id: (flags, what the message says)
    "unknown_layer": (["--fpfwd_outputs", "blok2_bn"], ["blok2_bn", "did you mean",
                                                        "'block2_bn'"]),
    "unknown_in_list": (["--fpfwd_inputs", "stem_relu,gapp"], ["gapp", "'gap'"]),
    "unknown_block_end": (["--fpfwd_blocks", "stem_relu:poool"], ["poool", "'pool'"]),
    "block_backwards": (["--fpfwd_blocks", "res_relu:block1_relu"],
                        ["res_relu:block1_relu", "block1_relu:res_relu"]),
    "block_not_connected": (["--fpfwd_blocks", "block2_bn:stem_relu"], ["does not depend"]),
    "block_without_colon": (["--fpfwd_blocks", "stem_relu"], ["start:end"]),
    "nothing_chosen": ([], ["--fpfwd_inputs", "--fpfwd_outputs", "--fpfwd_blocks"]),
    "fp_type_not_allowed": (["--fpfwd_outputs", "gap", "--processor", "feature12", "--fp_type",
                             "F16"], ["F16", "feature12"]),
    "bf16_on_uint8": (["--fpfwd_outputs", "gap", "--processor", "uint8-affine", "--fp_type",
                       "BF16"], ["BF16", "uint8-affine"]),
    "unknown_fp_type": (["--fpfwd_outputs", "gap", "--fp_type", "F8"], ["F8"]),
    "unknown_processor": (["--fpfwd_outputs", "gap", "--processor", "npu9000"], ["npu9000"]),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_is_one_message(case, tiny, tmp_path, capsys):
    flags, fragments = BAD[case]
    before = snapshot(tmp_path)
    code, err = forward(capsys, tiny, tmp_path / "qtable", *flags)
    assert_usage_error(code, err, PROG, *fragments)
    assert len(err.strip().splitlines()) == 1, err
    assert snapshot(tmp_path) == before


def test_missing_ir_and_output_over_the_ir(tiny, tmp_path, capsys):
    code, _, err = cli(fp_forward.run, [tmp_path / "nope.mlir", "--fpfwd_outputs", "gap", "-o",
                                        tmp_path / "q"], capsys)
    assert_usage_error(code, err, PROG, "nope.mlir", "no such file")
    before = tiny["mlir"].read_bytes()
    code, _, err = cli(fp_forward.run, [tiny["mlir"], "--fpfwd_outputs", "gap", "-o",
                                        tiny["mlir"]], capsys)
    assert_usage_error(code, err, PROG, "overwrite")
    assert tiny["mlir"].read_bytes() == before
