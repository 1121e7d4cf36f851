"""model_deploy end to end on the example CNN: one model_transform (float reference of every
tensor) and one run_calibration shared by every test; each mode and target deploys, passes
its check and writes what it promises (the device model, `<stem>_npu.mlir`, the outputs
npz that model_runner reproduces bit for bit, a QDQ ONNX that onnxruntime agrees with); a
check below tolerance exits 1 naming the first layer; bad input exits 2 with one line; two
runs give the same bytes and leave the inputs alone."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from kiln.calibration.table import read_table
from kiln.compiler.fileio import load_npz
from kiln.compiler.ir import Module, Operation
from kiln.compiler.module_io import read_module
from kiln.compiler.similarity import cosine_similarity
from kiln.compiler.types import TensorType, UniformPerAxisType, UniformType
from kiln.tools import model_deploy, model_runner, model_transform, run_calibration
from tool_case import (
    TINY_CNN,
    assert_usage_error,
    cli,
    files_bytes,
    make_png,
    snapshot,
)

PROG = "model_deploy"
OUTPUT = "logits"  # the example CNN's one output
CONVS = ("stem_relu", "block1_relu", "block2_bn", "head_relu")  # its convs' locs


@dataclass(frozen=True)
class Tiny:
    root: Path  # the inputs below, nothing else
    mlir: Path
    table: Path
    feeds: Path  # the test input as fed (model_transform's NAME_in_f32.npz)
    reference: Path  # the float IR's every tensor on it (model_transform --test_result)
    images: Path  # the calibration pictures
    picture: Path  # the test picture the feeds were made from


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Tiny:
    root = tmp_path_factory.mktemp("deploy_inputs")
    images = tmp_path_factory.mktemp("deploy_images")
    for i in range(6):
        make_png(images / f"img_{i:02d}.png", 40, 40, seed=i)
    picture = make_png(tmp_path_factory.mktemp("deploy_test") / "test.png", 40, 40,
                       seed=99)
    mlir, reference = root / "tiny.mlir", root / "tiny_top_outputs.npz"
    assert model_transform.run([
        "--model_name", "tiny_cnn", "--model_def", str(TINY_CNN), "--input_shapes",
        "[[1,3,32,32]]", "--mean", "123.675,116.28,103.53", "--scale", "0.0171,0.0175,0.0174",
        "--pixel_format", "rgb", "--resize_dims", "36,36", "--test_input", str(picture),
        "--test_result", str(reference), "--mlir", str(mlir)]) == 0
    table = root / "tiny_cali_table"
    assert run_calibration.run([str(mlir), "--dataset", str(images), "--input_num", "6",
                                "-o", str(table)]) == 0
    return Tiny(root, mlir, table, root / "tiny_cnn_in_f32.npz", reference, images,
                picture)


def deploy(tiny: Tiny, out: Path, capsys, *extra, quantize: str = "INT8",
           table: bool = True, check: bool = True) -> tuple[int, str, str]:
    """model_deploy of the example into `out/tiny.kmodel`: (exit code, stdout, stderr)."""
    argv = ["--mlir", tiny.mlir, "--quantize", quantize, "--model", out / "tiny.kmodel"]
    if table:
        argv += ["--calibration_table", tiny.table]
    if check:
        argv += ["--test_input", tiny.feeds, "--test_reference", tiny.reference]
    return cli(model_deploy.run, [*argv, *extra], capsys)


def output_cosine(tiny: Tiny, out: Path) -> float:
    got = load_npz(out / "tiny_model_outputs.npz")[OUTPUT]
    return cosine_similarity(load_npz(tiny.reference)[OUTPUT], got)


def lowered(out: Path) -> Module:
    return read_module(out / "tiny_npu.mlir")


def typed_values(module: Module) -> Iterator[tuple[Operation | None, TensorType]]:
    """(op or None for an argument, type) of every tensor of the entry function."""
    for arg in module.main.arguments:
        yield None, arg.type
    for op in module.walk():
        for r in op.results:
            if isinstance(r.type, TensorType):
                yield op, r.type


def by_loc(module: Module, loc: str) -> Operation:
    return next(op for op in module.walk() if op.loc == loc)


def qdq_outputs(onnx_path: Path, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    import onnxruntime as ort

    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(names, feeds)))


# -- INT8 on the default target ------------------------------------------------------------
def test_int8_check_passes_and_model_runner_gives_the_same_tensors(tiny, tmp_path, capsys):
    code, out, err = deploy(tiny, tmp_path, capsys, "--compare_all")
    assert code == 0, err
    for name in ("tiny.kmodel", "tiny_npu.mlir", "tiny_model_outputs.npz"):
        assert (tmp_path / name).is_file(), name
    assert "11 tensor(s) compared" in out and "11 passed, 0 failed" in out
    # 16 bits: logits, res_add (only the output / a table reads them); u8: never negative
    # (the max pool keeps its input's type: no requantized copy)
    assert "Traceback" not in err and "(2 i16, 1 i8, 7 u8)" in err
    saved = load_npz(tmp_path / "tiny_model_outputs.npz")
    assert f"{OUTPUT}@int" in saved and saved[f"{OUTPUT}@int"].dtype == np.int16
    for flags, name in (([], "outputs.npz"), (["--dump_all_tensors"], "all.npz")):
        code, _, err = cli(model_runner.run, ["--input", tiny.feeds, "--model",
                                              tmp_path / "tiny.kmodel", "--output",
                                              tmp_path / name, "--quiet", *flags], capsys)
        assert code == 0, err
    every, outputs = load_npz(tmp_path / "all.npz"), load_npz(tmp_path / "outputs.npz")
    assert list(every) == list(saved)
    for name in saved:
        assert every[name].dtype == saved[name].dtype, name
        assert every[name].tobytes() == saved[name].tobytes(), name
    assert list(outputs) == [OUTPUT]
    assert outputs[OUTPUT].tobytes() == saved[OUTPUT].tobytes()
    # the lowered IR beside the model is the program the model holds
    assert lowered(tmp_path).main.result_types[0].scalar.name == "f32"


def test_image_test_input_and_a_table_made_on_changed_weights(tiny, tmp_path, capsys):
    """--we writes its own IR beside the table; model_deploy deploys that one (saying so
    once) and takes a raw picture as --test_input, preprocessed as recorded."""
    table = tmp_path / "we" / "tiny_cali_table"
    assert run_calibration.run([str(tiny.mlir), "--dataset", str(tiny.images), "--we", "-o",
                                str(table)]) == 0
    assert (table.parent / "tiny_cali_table.mlir").is_file()
    code, out, err = cli(model_deploy.run, [
        "--mlir", tiny.mlir, "--quantize", "INT8", "--calibration_table", table, "--model",
        tmp_path / "we.kmodel", "--test_input", tiny.picture, "--test_reference", tiny.reference],
        capsys)
    assert code == 0, err
    assert err.count("weights changed or rounded by calibration") == 1, err
    assert "1 passed, 0 failed" in out


# -- the other modes ----------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["INT16", "BF16", "F16", "F32"])
def test_each_mode_passes_the_default_tolerance(mode, tiny, tmp_path, capsys):
    code, out, err = deploy(tiny, tmp_path, capsys, quantize=mode, table=mode == "INT16")
    assert code == 0, err
    assert "1 passed, 0 failed" in out
    module = lowered(tmp_path)
    quantized = [t for _, t in typed_values(module)
                 if isinstance(t.element, (UniformType, UniformPerAxisType))]
    if mode == "INT16":
        assert {t.scalar.name for t in quantized
                if isinstance(t.element, UniformType)} <= {"i16", "u16"}
        return
    assert not quantized
    for loc in CONVS:
        assert by_loc(module, loc).attributes.get("kiln.mode") == mode, loc
    if mode == "F32":  # the float IR itself: the reference exactly
        got = load_npz(tmp_path / "tiny_model_outputs.npz")[OUTPUT]
        np.testing.assert_array_equal(got, load_npz(tiny.reference)[OUTPUT])
    else:
        half = mode.lower()
        assert any(op is not None and op.name == "npu.cast" and t.scalar.name == half
                   for op, t in typed_values(module))


def test_int16_is_closer_to_float_than_int8(tiny, tmp_path, capsys):
    cosines = {}
    for mode in ("INT8", "INT16"):
        code, _, err = deploy(tiny, tmp_path / mode, capsys, quantize=mode)
        assert code == 0, err
        cosines[mode] = output_cosine(tiny, tmp_path / mode)
    print(f"\ntiny_cnn output cosine: {cosines}")
    assert cosines["INT8"] >= 0.99
    assert cosines["INT16"] > cosines["INT8"]


# -- targets ----------------------------------------------------------------------------------
def test_uint8_affine_has_u8_activations_with_zero_points(tiny, tmp_path, capsys):
    code, _, err = deploy(tiny, tmp_path, capsys, "--processor", "uint8-affine")
    assert code == 0, err
    module = lowered(tmp_path)
    acts = [t.element for _, t in typed_values(module) if isinstance(t.element, UniformType)]
    assert acts and {el.storage.name for el in acts} == {"u8", "u16"}
    assert any(el.zp != 0 for el in acts)  # the input's range is not centred on zero
    assert all(0 <= el.zp <= (255 if el.storage.name == "u8" else 65535) for el in acts)
    # 16 bits only where nothing but tables or the dequantized output read the value
    wide = {op.loc for op in module.walk() if op.results and
            isinstance(getattr(op.results[0].type, "element", None), UniformType) and
            op.results[0].type.element.storage.name == "u16"}
    assert wide == {"logits", "res_add"}  # res_add: only the relu table reads it


def test_dfp_int16_scales_are_powers_of_two(tiny, tmp_path, capsys):
    code, _, err = deploy(tiny, tmp_path, capsys, "--processor", "dfp-int16")
    assert code == 0, err
    scales = []
    for _, t in typed_values(lowered(tmp_path)):
        if isinstance(t.element, UniformType):
            scales.append(t.element.scale)
        elif isinstance(t.element, UniformPerAxisType):
            scales.extend(t.element.scales)
    assert len(scales) > 20
    for s in scales:
        assert s > 0 and math.log2(s) == round(math.log2(s)), s


def test_feature12_qtable_gives_one_layer_ten_bits(tiny, tmp_path, capsys):
    qtable = tmp_path / "qtable"
    qtable.write_text("# op_name quantize_mode\n# kiln qtable 1\nblock1_relu INT10\n")
    code, _, err = deploy(tiny, tmp_path, capsys, "--processor", "feature12",
                          "--quantize_table", qtable)
    assert code == 0, err
    module = lowered(tmp_path)
    layer = by_loc(module, "block1_relu")
    assert layer.name == "npu.conv2d" and layer.result.type.scalar.name == "i10"
    for loc in ("stem_relu", "block2_bn", "head_relu"):
        assert by_loc(module, loc).result.type.scalar.name in ("i8", "u8"), loc


def test_qtable_f32_layer_stays_float_between_casts(tiny, tmp_path, capsys):
    qtable = tmp_path / "qtable"
    qtable.write_text("# op_name quantize_mode\nblock1_relu F32\n")
    code, out, err = deploy(tiny, tmp_path, capsys, "--quantize_table", qtable)
    assert code == 0, err
    assert "1 passed, 0 failed" in out
    module = lowered(tmp_path)
    layer = by_loc(module, "block1_relu")
    assert layer.name == "top.conv" and layer.attributes.get("kiln.mode") == "F32"
    assert layer.result.type.element.name == "f32"
    source = layer.operands[0].owner
    assert source.name == "npu.cast"  # dequantized from stem_relu's i8
    assert isinstance(source.operands[0].type.element, UniformType)
    users = layer.result.users
    assert [u.name for u in users] == ["npu.cast"]
    assert users[0].result.type.scalar.name in ("i8", "u8")
    for loc in ("stem_relu", "block2_bn", "head_relu"):
        assert by_loc(module, loc).name == "npu.conv2d", loc


# -- the QDQ ONNX export --------------------------------------------------------------------
@pytest.mark.parametrize("processor,mode", [("int8-sym", "INT8"), ("int8-sym", "INT16"),
                                            ("uint8-affine", "INT8"), ("dfp-int16", "INT8")])
def test_qdq_export_agrees_with_the_device_model(processor, mode, tiny, tmp_path, capsys):
    onnx_path = tmp_path / "tiny_qdq.onnx"
    code, _, err = deploy(tiny, tmp_path, capsys, "--processor", processor,
                          "--export_onnx", onnx_path, quantize=mode)
    assert code == 0, err
    got = qdq_outputs(onnx_path, load_npz(tiny.feeds))
    want = load_npz(tmp_path / "tiny_model_outputs.npz")
    assert list(got) == [OUTPUT] and got[OUTPUT].dtype == np.float32
    cos = cosine_similarity(want[OUTPUT], got[OUTPUT])
    print(f"\n{processor} {mode}: QDQ vs kmodel output cosine {cos:.6f}")
    assert cos >= 0.999


# -- a check that fails ---------------------------------------------------------------------
def test_below_tolerance_exits_1_naming_the_first_layer(tiny, tmp_path, capsys):
    code, out, err = deploy(tiny, tmp_path, capsys, "--tolerance", "0.99999,0.99999")
    assert code == 1, err
    assert "Traceback" not in err
    assert "per-layer similarity of the device model to the float IR" in out
    table = out.split("per-layer similarity")[1]
    for loc in ("input", *CONVS, "pool", "gap", OUTPUT):
        assert f"\n{loc} " in table, loc
    verdict = [line for line in err.splitlines() if "is below tolerance" in line]
    assert len(verdict) == 1 and verdict[0].startswith(f"{PROG}: '{OUTPUT}' is below")
    assert "the first layer below it is 'stem_relu'" in verdict[0]
    assert (tmp_path / "tiny_model_outputs.npz").is_file()  # written for a look


# -- bad input --------------------------------------------------------------------------------
def _write(path: Path, data: str | bytes) -> Path:
    if isinstance(data, bytes):
        path.write_bytes(data)
    else:
        path.write_text(data)
    return path


def _bad_table(tmp: Path) -> Path:
    """A calibration table of another model: names this one does not have."""
    path = tmp / "other_cali_table"
    path.write_text("# kiln calibration table v1\n###\n# op_name threshold min max\n"
                    "images 1.0 -1.0 1.0\nconv_99 2.0 0.0 2.0\n")
    return path


BAD = {  # id: (argv after --mlir M, what the message says)
    "int8_without_table": (lambda t, d: ["--quantize", "INT8", "--model", d / "m.kmodel"],
                           ["--calibration_table"]),
    "qtable_int_without_table": (
        lambda t, d: ["--quantize", "F32", "--model", d / "m.kmodel", "--quantize_table",
                      _write(d / "q", "stem_relu INT8\n")],
        ["--quantize_table", "--calibration_table"]),
    "model_not_kmodel": (lambda t, d: ["--quantize", "F32", "--model", d / "m.bin"],
                         ["m.bin", ".kmodel"]),
    "unknown_processor": (lambda t, d: ["--quantize", "F32", "--model", d / "m.kmodel",
                                        "--processor", "npu9000"],
                          ["npu9000", "int8-sym"]),
    "input_without_reference": (lambda t, d: ["--quantize", "F32", "--model",
                                              d / "m.kmodel", "--test_input", t.feeds],
                                ["--test_input", "--test_reference"]),
    "mode_not_allowed": (lambda t, d: ["--quantize", "F16", "--model", d / "m.kmodel",
                                       "--processor", "dfp-int16"],
                         ["F16", "dfp-int16", "INT8, INT16, F32"]),
    "unknown_mode": (lambda t, d: ["--quantize", "INT7", "--model", d / "m.kmodel",
                                   "--calibration_table", t.table], ["INT7"]),
    "table_of_another_model": (lambda t, d: ["--quantize", "INT8", "--model", d / "m.kmodel",
                                             "--calibration_table", _bad_table(d)],
                               ["other_cali_table", "images"]),
    "missing_table": (
        lambda t, d: ["--quantize", "INT8", "--model", d / "m.kmodel",
                      "--calibration_table", d / "nope"], ["nope", "no such file"]),
    "onnx_name": (lambda t, d: ["--quantize", "F32", "--model", d / "m.kmodel",
                                "--export_onnx", d / "m.onn"], ["m.onn", ".onnx"]),
    "outputs_npz_is_the_reference": (
        lambda t, d: ["--quantize", "F32", "--model", d / "m.kmodel", "--test_input",
                      t.feeds, "--test_reference",
                      _write(d / "m_model_outputs.npz", t.reference.read_bytes())],
        ["m_model_outputs.npz", "overwrite"]),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_is_one_message(case, tiny, tmp_path, capsys):
    extra, fragments = BAD[case]
    argv = ["--mlir", tiny.mlir, *extra(tiny, tmp_path), "--quiet"]
    before = snapshot(tmp_path)
    code, _, err = cli(model_deploy.run, argv, capsys)
    assert_usage_error(code, err, PROG, *fragments)
    assert len(err.strip().splitlines()) == 1, err
    assert not list(tmp_path.glob("m*.kmodel")) and not list(tmp_path.glob("*_npu.mlir"))
    assert snapshot(tmp_path) == before  # nothing written, nothing the user gave changed


def test_lowered_ir_never_overwrites_the_input_ir(tiny, tmp_path, capsys):
    """--mlir X_npu.mlir with --model X.kmodel: the lowered IR's name is the input's."""
    mlir = tmp_path / "x_npu.mlir"
    mlir.write_text(tiny.mlir.read_text().replace('"tiny_weights.npz"',
                                                   f'"{tiny.root / "tiny_weights.npz"}"'))
    before = mlir.read_bytes()
    code, _, err = cli(model_deploy.run, ["--mlir", mlir, "--quantize", "F32", "--model",
                                          tmp_path / "x.kmodel", "--quiet"], capsys)
    assert_usage_error(code, err, PROG, "x_npu.mlir", "overwrite")
    assert mlir.read_bytes() == before


# -- reproducible, and the inputs untouched ------------------------------------------------
def test_two_runs_give_the_same_bytes_and_leave_the_inputs_alone(tiny, tmp_path, capsys):
    qtable = _write(tmp_path / "qtable", "block2_bn INT16\n")
    before = snapshot(tiny.root)
    written = {}
    for run in ("a", "b"):
        out = tmp_path / run
        code, _, err = deploy(tiny, out, capsys, "--quantize_table", qtable, "--export_onnx",
                              out / "tiny_qdq.onnx", "--compare_all")
        assert code == 0, err
        written[run] = files_bytes(out)
    assert sorted(written["a"]) == ["tiny.kmodel", "tiny_model_outputs.npz", "tiny_npu.mlir",
                                    "tiny_npu_weights.npz", "tiny_qdq.onnx"]
    assert written["a"] == written["b"]
    # again over the first run's files: the same bytes
    code, _, err = deploy(tiny, tmp_path / "a", capsys, "--quantize_table", qtable,
                          "--export_onnx", tmp_path / "a" / "tiny_qdq.onnx", "--compare_all")
    assert code == 0, err
    assert files_bytes(tmp_path / "a") == written["b"]
    assert snapshot(tiny.root) == before
    assert qtable.read_text() == "block2_bn INT16\n"


def test_paths_with_commas_and_braces_reach_the_passes(tiny, tmp_path, capsys):
    """Table paths go into the pass pipeline quoted: a comma or brace stays in the path."""
    odd = tmp_path / "a,b{c}"
    odd.mkdir()
    table = odd / "cali_table"
    table.write_bytes(tiny.table.read_bytes())
    for path in read_table(tiny.table).replacement_files(tiny.table):  # the rounded weights
        (odd / path.name).write_bytes(path.read_bytes())
    code, _, err = cli(model_deploy.run, ["--mlir", tiny.mlir, "--quantize", "INT8",
                                          "--calibration_table", table, "--model",
                                          odd / "m.kmodel", "--quiet"], capsys)
    assert code == 0, err
    assert (odd / "m.kmodel").is_file()
    assert 'kiln.state = "npu_int8-sym"' in (odd / "m_npu.mlir").read_text()


def test_asymmetric_on_a_symmetric_target_gives_int8_zero_points(tiny, tmp_path, capsys):
    """--asymmetric as TPU-MLIR's: affine i8 activations from the table's min/max."""
    code, _, err = deploy(tiny, tmp_path, capsys, "--asymmetric")
    assert code == 0, err
    acts = [t.element for _, t in typed_values(lowered(tmp_path))
            if isinstance(t.element, UniformType)]
    assert {el.storage.name for el in acts} <= {"i8", "i16"}
    assert any(el.zp != 0 for el in acts)
    assert all(-128 <= el.zp <= 127 for el in acts if el.storage.name == "i8")
    assert "asymmetric=true}" in err  # lower-to-npu{...,asymmetric=true}
