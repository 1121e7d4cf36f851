"""model_runner end to end, in-process through run(argv)."""

from __future__ import annotations

import numpy as np
import pytest
from kiln.compiler.fileio import load_npz, save_npz
from kiln.tools import model_runner, model_transform, npz_tool
from tool_case import (
    TINY_CNN,
    TINY_INPUT,
    assert_usage_error,
    cli,
    core_model,
    files_bytes,
    make_png,
    needs_tiny_cnn_ops,
    save,
    snapshot,
    two_input_model,
)

PROG = "model_runner"


@pytest.fixture
def work(tmp_path, capsys):
    """in/: the core model, an npz and a png; out/: its transform (with preprocessing)."""
    d = tmp_path / "in"
    save(core_model(), d / "core.onnx")
    save_npz(d / "feeds.npz", {"input": np.random.default_rng(5).standard_normal(
        (1, 3, 16, 16)).astype(np.float32)})
    make_png(d / "photo.png", 30, 20)
    code, _, err = cli(model_transform.run, [
        "--model_def", d / "core.onnx", "--mean", "128", "--scale", "0.01", "--resize_dims",
        "18,18", "--keep_aspect_ratio", "--mlir", tmp_path / "out" / "core.mlir"], capsys)
    assert code == 0, err
    return tmp_path


def runner(capsys, *argv):
    return cli(model_runner.run, list(argv), capsys)


def test_onnx_and_mlir_outputs_agree(work, capsys):
    a, b = work / "res" / "onnx.npz", work / "res" / "mlir.npz"
    assert runner(capsys, "--input", work / "in" / "feeds.npz", "--model",
                  work / "in" / "core.onnx", "--output", a)[0] == 0
    code, stdout, err = runner(capsys, "--input", work / "in" / "feeds.npz", "--model",
                               work / "out" / "core.mlir", "--output", b)
    assert code == 0, err
    assert "2 outputs" in stdout
    onnx_out, mlir_out = load_npz(a), load_npz(b)
    assert sorted(onnx_out) == sorted(mlir_out) == ["feat", "out"]
    for name in onnx_out:
        np.testing.assert_allclose(mlir_out[name], onnx_out[name], rtol=1e-5, atol=1e-5)


def test_dump_all_tensors_compare_with_npz_tool(work, capsys):
    a, b = work / "res" / "onnx_all.npz", work / "res" / "mlir_all.npz"
    for model, out in ((work / "in" / "core.onnx", a), (work / "out" / "core.mlir", b)):
        code, _, err = runner(capsys, "--input", work / "in" / "feeds.npz", "--model", model,
                              "--output", out, "--dump_all_tensors")
        assert code == 0, err
    names = {"input", "conv1", "relu1", "conv2", "add1", "relu2", "feat", "out"}
    # model_transform's fuse-ops folds Relu into the conv before it: the fused conv is
    # named relu1 (the tensor it now makes), and conv1 is no longer a tensor of the IR.
    assert names <= set(load_npz(a)) and names - {"conv1"} == names & set(load_npz(b))
    code, stdout, err = cli(npz_tool.run, ["compare", a, b], capsys)
    assert code == 0, err
    assert "0 failed" in stdout


def test_image_input_uses_the_recorded_preprocessing(work, capsys):
    out = work / "res" / "img.npz"
    code, _, err = runner(capsys, "--input", work / "in" / "photo.png", "--model",
                          work / "out" / "core.mlir", "--output", out, "--dump_all_tensors")
    assert code == 0, err
    fed = load_npz(out)["input"]
    assert fed.shape == (1, 3, 16, 16)
    # 30x20 (HxW) scaled into 18x18 keeping aspect: 18x12, centred, padded with 0, then
    # cropped to 16x16; so columns 0 (pad) are (0 - 128) * 0.01
    np.testing.assert_allclose(fed[0, :, :, 0], -1.28, rtol=1e-6)
    assert not np.allclose(fed[0, :, :, 8], -1.28)


def test_image_input_for_onnx_needs_preprocessing(work, capsys):
    code, _, err = runner(capsys, "--input", work / "in" / "photo.png", "--model",
                          work / "in" / "core.onnx", "--output", work / "res" / "x.npz")
    assert_usage_error(code, err, PROG, "preprocessing")


def test_runs_are_deterministic_and_leave_inputs_alone(work, capsys):
    before = snapshot(work / "in")
    outs = []
    for k in range(2):
        out = work / f"res{k}"
        for model in (work / "in" / "core.onnx", work / "out" / "core.mlir"):
            code, _, err = runner(capsys, "--input", work / "in" / "feeds.npz", "--model", model,
                                  "--output", out / f"{model.suffix[1:]}.npz",
                                  "--dump_all_tensors")
            assert code == 0, err
        outs.append(files_bytes(out))
    assert outs[0] == outs[1]
    assert snapshot(work / "in") == before


def test_npy_input_and_single_array_npz(work, capsys):
    x = np.random.default_rng(2).standard_normal((1, 3, 16, 16))  # float64: converted
    np.save(work / "x.npy", x)
    save_npz(work / "other_name.npz", {"whatever": x})
    for given in (work / "x.npy", work / "other_name.npz"):
        code, _, err = runner(capsys, "--input", given, "--model", work / "out" / "core.mlir",
                              "--output", work / "res" / "y.npz", "--dump_all_tensors")
        assert code == 0, err
        np.testing.assert_array_equal(load_npz(work / "res" / "y.npz")["input"],
                                      x.astype(np.float32))


@pytest.mark.parametrize("argv, fragment", [
    ([], "required"),
    (["--input", "{i}/feeds.npz", "--model", "{i}/core.onnx", "--output", "{r}/o.npz", "-x"],
     "unrecognized arguments: -x"),
    (["--input", "{i}/feeds.npz", "--model", "{i}/core.pt", "--output", "{r}/o.npz"],
     "unknown model kind"),
    (["--input", "{i}/feeds.npz", "--model", "{i}/nope.onnx", "--output", "{r}/o.npz"],
     "no such file"),
    (["--input", "{i}/nope.npz", "--model", "{i}/core.onnx", "--output", "{r}/o.npz"],
     "no such file"),
    (["--input", "{i}/core.onnx", "--model", "{i}/core.onnx", "--output", "{r}/o.npz"],
     "unknown input file type"),
    (["--input", "{i}/wrong_key.npz", "--model", "{i}/two.onnx", "--output", "{r}/o.npz"],
     "no array for input(s) b"),
    (["--input", "{i}/wrong_shape.npz", "--model", "{o}/core.mlir", "--output", "{r}/o.npz"],
     "has shape [1, 3, 8, 8]"),
    (["--input", "{i}/wrong_shape.npz", "--model", "{i}/core.onnx", "--output", "{r}/o.npz"],
     "the model expects [1, 3, 16, 16]"),
    (["--input", "{i}/feeds.npz", "--model", "{i}/core.onnx", "--output", "{i}/feeds.npz"],
     "would overwrite"),
    (["--input", "{i}/feeds.npz", "--model", "{i}/core.onnx", "--output", "{r}/o.txt"],
     ".npz"),
    (["--input", "{i}/bad.mlir.npz", "--model", "{i}/bad.mlir", "--output", "{r}/o.npz"],
     "bad.mlir"),
])
def test_bad_input_is_one_message_and_exit_2(work, capsys, argv, fragment):
    i = work / "in"
    save(two_input_model(), i / "two.onnx")
    save_npz(i / "wrong_key.npz", {"a": np.zeros((2, 5), np.float32),
                                   "c": np.zeros((2, 5), np.float32)})
    save_npz(i / "wrong_shape.npz", {"input": np.zeros((1, 3, 8, 8), np.float32)})
    (i / "bad.mlir").write_text("module @m {\n  func.func @main( {\n}\n")
    save_npz(i / "bad.mlir.npz", {"x": np.zeros(1, np.float32)})
    fill = {"i": i, "o": work / "out", "r": work / "res"}
    code, _, err = runner(capsys, *[a.format(**fill) for a in argv])
    assert code == 2, err
    assert "Traceback" not in err
    assert fragment in err, err


def test_missing_weights_file_is_exit_2(work, capsys):
    (work / "out" / "core_weights.npz").unlink()
    code, _, err = runner(capsys, "--input", work / "in" / "feeds.npz", "--model",
                          work / "out" / "core.mlir", "--output", work / "res" / "o.npz")
    assert_usage_error(code, err, PROG, "core_weights.npz")


@needs_tiny_cnn_ops()
def test_tiny_cnn_mlir_runs_on_the_example_image(tmp_path, capsys):
    code, _, err = cli(model_transform.run, [
        "--model_def", TINY_CNN, "--mean", "123.675,116.28,103.53", "--scale",
        "0.0171,0.0175,0.0174", "--mlir", tmp_path / "tiny.mlir"], capsys)
    assert code == 0, err
    code, _, err = runner(capsys, "--input", TINY_INPUT, "--model", tmp_path / "tiny.mlir",
                          "--output", tmp_path / "out.npz", "--dump_all_tensors")
    assert code == 0, err
    outs = load_npz(tmp_path / "out.npz")
    assert outs["input"].shape == (1, 3, 32, 32)
    # the dump holds the input too, so it can feed the ONNX model
    code, _, err = runner(capsys, "--input", tmp_path / "out.npz", "--model", TINY_CNN,
                          "--output", tmp_path / "ref.npz")
    assert code == 0, err
    np.testing.assert_allclose(outs["logits"], load_npz(tmp_path / "ref.npz")["logits"],
                               rtol=1e-4, atol=1e-4)
