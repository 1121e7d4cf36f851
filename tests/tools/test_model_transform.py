"""model_transform end to end, in-process through run(argv)."""

from __future__ import annotations

import kiln.dialects  # noqa: F401
import numpy as np
import pytest
from kiln.compiler.fileio import load_npz, save_npz
from kiln.compiler.module_io import read_module
from kiln.compiler.verifier import verify_module
from kiln.data.preprocess import Preprocess, preprocess_image
from kiln.tools import kiln_opt, model_transform
from tool_case import (
    TINY_CNN,
    TINY_INPUT,
    assert_usage_error,
    cli,
    core_model,
    files_bytes,
    make_png,
    needs_tiny_cnn_ops,
    nhwc_model,
    save,
    snapshot,
    two_input_model,
    unsupported_model,
)

PROG = "model_transform"
CORE_NODES = ["conv1", "relu1", "conv2", "add1", "relu2", "feat", "out"]
# The transform pipeline's fuse-ops folds Relu into the conv before it: that conv is named
# after the Relu's output (relu1), so conv1 is no longer a tensor of the transformed IR.
TOP_NODES = [n for n in CORE_NODES if n != "conv1"]


@pytest.fixture
def inputs_dir(tmp_path):
    """A folder with the model and test inputs, kept apart from the outputs."""
    d = tmp_path / "in"
    save(core_model(), d / "core.onnx")
    feeds = {"input": np.random.default_rng(7).standard_normal((1, 3, 16, 16)).astype(np.float32)}
    save_npz(d / "feeds.npz", feeds)
    make_png(d / "photo.png")
    return d


def transform(capsys, *argv):
    return cli(model_transform.run, list(argv), capsys)


def test_writes_mlir_and_weights_that_kiln_opt_reads(inputs_dir, tmp_path, capsys):
    out = tmp_path / "out"
    code, stdout, err = transform(capsys, "--model_name", "core", "--model_def",
                                  inputs_dir / "core.onnx", "--input_shapes", "[[1,3,16,16]]",
                                  "--mlir", out / "core.mlir")
    assert code == 0, err
    assert (out / "core.mlir").is_file() and (out / "core_weights.npz").is_file()
    assert "wrote" in stdout
    module = read_module(out / "core.mlir")
    verify_module(module)
    assert module.name == "core"
    assert module.main.attributes["kiln.outputs"] == ("out", "feat")
    assert module.main.arg_attributes[0] == {}  # no preprocessing flag, nothing recorded
    locs = {op.loc for op in module.walk()}
    assert set(TOP_NODES) <= locs and "conv1" not in locs
    code, _, err = cli(kiln_opt.run, [out / "core.mlir", "-o", out / "again.mlir"], capsys)
    assert code == 0, err
    assert (out / "again.mlir").read_text() == (out / "core.mlir").read_text()
    assert not list(out.glob("*_top_outputs.npz"))  # no --test_input, no test files


def test_default_names_come_from_the_model_file(inputs_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, err = transform(capsys, "--model_def", inputs_dir / "core.onnx")
    assert code == 0, err
    assert (tmp_path / "core.mlir").is_file() and (tmp_path / "core_weights.npz").is_file()


def test_preprocessing_is_recorded_on_the_image_input(inputs_dir, tmp_path, capsys):
    out = tmp_path / "out"
    code, _, err = transform(capsys, "--model_def", inputs_dir / "core.onnx", "--mean",
                             "1,2,3", "--scale", "0.5", "--pixel_format", "bgr",
                             "--resize_dims", "20,18", "--keep_aspect_ratio", "--pad_value",
                             "114", "--mlir", out / "core.mlir")
    assert code == 0, err
    attrs = read_module(out / "core.mlir").main.arg_attributes[0]
    assert attrs == {"kiln.mean": (1.0, 2.0, 3.0), "kiln.scale": (0.5, 0.5, 0.5),
                     "kiln.pixel_format": "bgr", "kiln.channel_format": "nchw",
                     "kiln.resize_dims": (20, 18), "kiln.keep_aspect_ratio": True,
                     "kiln.pad_value": 114.0}


def test_one_flag_records_complete_defaults(inputs_dir, tmp_path, capsys):
    out = tmp_path / "out"
    code, _, err = transform(capsys, "--model_def", inputs_dir / "core.onnx", "--scale",
                             "0.0039", "--mlir", out / "core.mlir")
    assert code == 0, err
    attrs = read_module(out / "core.mlir").main.arg_attributes[0]
    assert attrs["kiln.mean"] == (0.0, 0.0, 0.0)
    assert attrs["kiln.pixel_format"] == "rgb"
    assert attrs["kiln.resize_dims"] == (16, 16)
    assert attrs["kiln.keep_aspect_ratio"] is False


def test_test_input_npz_writes_all_files_and_passes(inputs_dir, tmp_path, capsys):
    out = tmp_path / "out"
    code, stdout, err = transform(capsys, "--model_name", "core", "--model_def",
                                  inputs_dir / "core.onnx", "--test_input",
                                  inputs_dir / "feeds.npz", "--mlir", out / "core.mlir")
    assert code == 0, err
    fed = load_npz(out / "core_in_f32.npz")
    np.testing.assert_array_equal(fed["input"], load_npz(inputs_dir / "feeds.npz")["input"])
    ref = load_npz(out / "core_ref_outputs.npz")
    top = load_npz(out / "core_top_outputs.npz")
    assert set(CORE_NODES) <= set(ref) and set(TOP_NODES) <= set(top) and "conv1" not in top
    assert "w1" not in top and "flat_shape" not in top  # weights are not tensors of the run
    for name in TOP_NODES:
        np.testing.assert_allclose(top[name], ref[name], rtol=1e-5, atol=1e-5)
        assert name in stdout
    assert "passed, 0 failed" in stdout


def test_test_input_png_is_preprocessed(inputs_dir, tmp_path, capsys):
    out = tmp_path / "out"
    code, _, err = transform(capsys, "--model_name", "core", "--model_def",
                             inputs_dir / "core.onnx", "--mean", "10,20,30", "--scale",
                             "0.02,0.03,0.04", "--pixel_format", "rgb", "--resize_dims",
                             "18,20", "--test_input", inputs_dir / "photo.png",
                             "--mlir", out / "core.mlir")
    assert code == 0, err
    want = preprocess_image(inputs_dir / "photo.png",
                            Preprocess((10, 20, 30), (0.02, 0.03, 0.04), "rgb", "nchw", (18, 20)),
                            (1, 3, 16, 16))
    np.testing.assert_array_equal(load_npz(out / "core_in_f32.npz")["input"], want)
    np.testing.assert_array_equal(load_npz(out / "core_top_outputs.npz")["input"], want)


def test_nhwc_input(tmp_path, capsys):
    save(nhwc_model(), tmp_path / "in" / "nhwc.onnx")
    png = make_png(tmp_path / "in" / "x.png", 16, 16)
    code, _, err = transform(capsys, "--model_def", tmp_path / "in" / "nhwc.onnx",
                             "--channel_format", "nhwc", "--test_input", png,
                             "--mlir", tmp_path / "out" / "nhwc.mlir")
    assert code == 0, err
    fed = load_npz(tmp_path / "out" / "nhwc_in_f32.npz")["image"]
    assert fed.shape == (1, 16, 16, 3)
    from PIL import Image
    np.testing.assert_array_equal(fed[0], np.asarray(Image.open(png), np.float32))


def perturb_reference(monkeypatch, names, amount=0.5):
    """Make onnxruntime's tensors `names` disagree with kiln's."""
    from kiln.frontend.onnx import reference

    real = reference.run_onnx

    def fake(*args, **kw):
        tensors = real(*args, **kw)
        for name in names:
            noise = np.random.default_rng(0).standard_normal(tensors[name].shape) * amount
            tensors[name] = (tensors[name] + noise * np.abs(tensors[name]).max()).astype(
                np.float32)
        return tensors

    monkeypatch.setattr(reference, "run_onnx", fake)


def test_tolerance_failure_exits_1_with_the_table(inputs_dir, tmp_path, capsys, monkeypatch):
    perturb_reference(monkeypatch, ["relu2"])
    out = tmp_path / "out"
    code, stdout, err = transform(capsys, "--model_def", inputs_dir / "core.onnx",
                                  "--test_input", inputs_dir / "feeds.npz",
                                  "--mlir", out / "core.mlir")
    assert code == 1
    assert "Traceback" not in err
    row = next(line for line in stdout.splitlines() if line.startswith("relu2 "))
    assert row.endswith("FAIL")
    assert "conv2" in stdout and "1 failed" in stdout
    assert "tensor 'relu2' is below tolerance" in err
    assert (out / "core.mlir").is_file() and (out / "core_top_outputs.npz").is_file()


def test_excepts_skips_tensors(inputs_dir, tmp_path, capsys, monkeypatch):
    perturb_reference(monkeypatch, ["relu2"])
    code, stdout, err = transform(capsys, "--model_def", inputs_dir / "core.onnx",
                                  "--test_input", inputs_dir / "feeds.npz", "--excepts",
                                  "relu2", "--mlir", tmp_path / "out" / "core.mlir")
    assert code == 0, err
    assert "1 skipped" in stdout
    assert not any(line.startswith("relu2 ") for line in stdout.splitlines())


def test_strict_tolerance_fails_on_inexact_tensors(inputs_dir, tmp_path, capsys, monkeypatch):
    perturb_reference(monkeypatch, ["feat"], amount=1e-4)
    args = ["--model_def", inputs_dir / "core.onnx", "--test_input", inputs_dir / "feeds.npz",
            "--mlir", tmp_path / "out" / "core.mlir"]
    assert transform(capsys, *args)[0] == 0  # a 1e-4 error passes the default 0.99
    code, stdout, err = transform(capsys, *args, "--tolerance", "0.999999999,0.999999999")
    # Other tensors may also miss a 1e-9 tolerance (BLAS and onnxruntime builds round
    # differently), so the perturbed one is looked for in the table, not as the first failure.
    assert code == 1 and "is below tolerance" in err
    row = next(line for line in stdout.splitlines() if line.startswith("feat "))
    assert row.endswith("FAIL")


def test_output_names_cut_the_graph(inputs_dir, tmp_path, capsys):
    code, _, err = transform(capsys, "--model_def", inputs_dir / "core.onnx", "--output_names",
                             "add1", "--mlir", tmp_path / "out" / "cut.mlir")
    assert code == 0, err
    module = read_module(tmp_path / "out" / "cut.mlir")
    assert module.main.attributes["kiln.outputs"] == ("add1",)
    assert "feat" not in {op.loc for op in module.walk()}


def test_debug_keeps_the_imported_ir(inputs_dir, tmp_path, capsys):
    out = tmp_path / "out"
    code, _, err = transform(capsys, "--model_name", "core", "--model_def",
                             inputs_dir / "core.onnx", "--debug", "--mlir", out / "core.mlir")
    assert code == 0, err
    origin = read_module(out / "core_origin.mlir")
    verify_module(origin)
    assert origin.attributes["kiln.weights"] == "core_origin_weights.npz"
    assert read_module(out / "core.mlir").attributes["kiln.weights"] == "core_weights.npz"


def test_outputs_are_byte_identical_across_runs(inputs_dir, tmp_path, capsys):
    results = []
    for run in ("a", "b"):
        out = tmp_path / run
        code, _, err = transform(capsys, "--model_name", "core", "--model_def",
                                 inputs_dir / "core.onnx", "--mean", "1,2,3", "--scale",
                                 "0.01", "--resize_dims", "20,20", "--test_input",
                                 inputs_dir / "photo.png", "--debug", "--mlir",
                                 out / "core.mlir")
        assert code == 0, err
        results.append(files_bytes(out))
    assert sorted(results[0]) == ["core.mlir", "core_in_f32.npz", "core_origin.mlir",
                                  "core_origin_weights.npz", "core_ref_outputs.npz",
                                  "core_top_outputs.npz", "core_weights.npz"]
    assert results[0] == results[1]


def test_the_input_folder_is_not_modified(inputs_dir, tmp_path, capsys):
    before = snapshot(inputs_dir)
    code, _, err = transform(capsys, "--model_def", inputs_dir / "core.onnx", "--scale", "0.1",
                             "--test_input", inputs_dir / "photo.png", "--debug",
                             "--mlir", tmp_path / "out" / "core.mlir")
    assert code == 0, err
    assert snapshot(inputs_dir) == before


def test_an_output_may_not_overwrite_an_input(inputs_dir, capsys):
    before = snapshot(inputs_dir)
    code, _, err = transform(capsys, "--model_name", "feeds", "--model_def",
                             inputs_dir / "core.onnx", "--test_input", inputs_dir / "feeds.npz",
                             "--test_result", inputs_dir / "feeds.npz",
                             "--mlir", inputs_dir / "core.mlir")
    assert_usage_error(code, err, PROG, "would overwrite the input file")
    assert snapshot(inputs_dir) == before


@pytest.mark.parametrize("argv, fragment", [
    (["--bogus"], "--model_def"),
    (["--model_def", "{m}", "--bogus", "1"], "unrecognized arguments: --bogus"),
    (["--model_def", "{m}", "--input_shapes", "[1,3,x]"], "--input_shapes"),
    (["--model_def", "{m}", "--input_shapes", "[[1,3,16]]"], "rank"),
    (["--model_def", "{m}", "--input_shapes", "[[1,3,16,16],[1]]"], "input(s)"),
    (["--model_def", "{m}", "--tolerance", "0.9,abc"], "--tolerance"),
    (["--model_def", "{m}", "--tolerance", "2,0.9"], "--tolerance"),
    (["--model_def", "{m}", "--mean", "1,2"], "mean has 2 values"),
    (["--model_def", "{m}", "--scale", "x"], "--scale"),
    (["--model_def", "{m}", "--resize_dims", "8,8"], "smaller than the input"),
    (["--model_def", "{m}", "--resize_dims", "20"], "--resize_dims"),
    (["--model_def", "{m}", "--pixel_format", "yuv"], "invalid choice"),
    (["--model_def", "{m}", "--pixel_format", "gray"], "no input is an image"),
    (["--model_def", "{m}", "--pad_value", "abc"], "not a number"),
    (["--model_def", "{m}", "--output_names", "nope"], "'nope' is not a tensor"),
    (["--model_def", "{m}", "--model_name", "a/b"], "--model_name"),
    (["--model_def", "{m}", "--mlir", "out.txt"], ".mlir"),
    (["--model_def", "{m}", "--test_input", "{d}/missing.npz"], "no such file"),
    (["--model_def", "{m}", "--test_input", "{m}"], "unknown input file type"),
    (["--model_def", "{m}", "--test_input", "{d}/photo.png"], "is an image"),
    (["--model_def", "{d}/missing.onnx"], "no such file"),
    (["--model_def", "{d}/feeds.npz"], "only ONNX models"),
])
def test_bad_input_is_one_message_and_exit_2(inputs_dir, tmp_path, capsys, argv, fragment):
    fill = {"m": inputs_dir / "core.onnx", "d": inputs_dir}
    argv = [a.format(**fill) for a in argv]
    if "--mlir" not in argv:
        argv += ["--mlir", str(tmp_path / "out" / "core.mlir")]
    code, _, err = transform(capsys, *argv)
    assert_usage_error(code, err, PROG, fragment)
    assert len(err.strip().splitlines()) == 1, err


def test_unsupported_op_is_exit_2(tmp_path, capsys):
    save(unsupported_model(), tmp_path / "odd.onnx")
    code, _, err = transform(capsys, "--model_def", tmp_path / "odd.onnx",
                             "--mlir", tmp_path / "out" / "odd.mlir")
    assert_usage_error(code, err, PROG, "unsupported ONNX op type", "com.example.Frobnicate")


def test_not_an_onnx_file_is_exit_2(tmp_path, capsys):
    (tmp_path / "junk.onnx").write_bytes(b"\x08\x01garbage that is not protobuf\xff\xff")
    code, _, err = transform(capsys, "--model_def", tmp_path / "junk.onnx",
                             "--mlir", tmp_path / "out" / "junk.mlir")
    assert_usage_error(code, err, PROG)


def test_preprocessing_flags_on_a_model_without_images(tmp_path, capsys):
    save(two_input_model(), tmp_path / "two.onnx")
    code, _, err = transform(capsys, "--model_def", tmp_path / "two.onnx", "--mean", "1",
                             "--mlir", tmp_path / "out" / "two.mlir")
    assert_usage_error(code, err, PROG, "no input is an image")


def test_help_exits_0(capsys):
    code, out, _ = transform(capsys, "--help")
    assert code == 0 and "--model_def" in out


# -- the example model (needs the BatchNormalization, MaxPool, GlobalAveragePool, Flatten and
# Gemm importers) -----------------------------------------------------------------------------
@needs_tiny_cnn_ops()
@pytest.mark.parametrize("extra", [
    ["--resize_dims", "36,36"],
    ["--keep_aspect_ratio", "--pad_value", "128"],
])
def test_tiny_cnn_with_the_example_image(tmp_path, capsys, extra):
    before = snapshot(TINY_CNN.parent)
    code, stdout, err = transform(capsys, "--model_name", "tiny_cnn", "--model_def", TINY_CNN,
                                  "--input_shapes", "[[1,3,32,32]]", "--mean",
                                  "123.675,116.28,103.53", "--scale", "0.0171,0.0175,0.0174",
                                  "--pixel_format", "rgb", *extra, "--test_input", TINY_INPUT,
                                  "--mlir", tmp_path / "tiny_cnn.mlir")
    assert code == 0, err + stdout
    top = load_npz(tmp_path / "tiny_cnn_top_outputs.npz")
    assert top["logits"].shape == (1, 10)
    for name in ("stem_relu", "res_add", "pool", "gap", "logits"):
        assert name in top and name in stdout
    assert snapshot(TINY_CNN.parent) == before
