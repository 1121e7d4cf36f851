"""model_runner on a folder of npz inputs (one output npz per file), and the dump of a
quantized model (the tiny CNN after lower-to-npu, as .mlir and as .kmodel): each
`!quant.uniform` tensor dequantized under its name and its integers under `<name>@int`."""

from __future__ import annotations

import io

import numpy as np
import pytest
from kiln import dialects  # noqa: F401  (registers the ops)
from kiln.codegen import write_kmodel
from kiln.compiler.fileio import load_npz, save_npz
from kiln.compiler.module_io import read_module, write_module
from kiln.compiler.types import TensorType, UniformType
from kiln.compiler.verifier import verify_module
from kiln.data.preprocess import input_specs, load_inputs
from kiln.passes.registry import build_pass_manager
from kiln.tools import model_runner, model_transform, npz_tool, run_calibration
from tool_case import (
    TINY_CNN,
    assert_usage_error,
    cli,
    files_bytes,
    make_png,
    snapshot,
)

PROG = "model_runner"


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """The tiny CNN as float .mlir, lowered .mlir (lower-to-npu) and .kmodel, and a folder
    `samples/` of 3 npz inputs (preprocessed images) plus a file that is not an npz."""
    root = tmp_path_factory.mktemp("runner")
    mlir = root / "tiny.mlir"
    assert model_transform.run([
        "--model_def", str(TINY_CNN), "--mean", "123.675,116.28,103.53", "--scale",
        "0.0171,0.0175,0.0174", "--pixel_format", "rgb", "--mlir", str(mlir)]) == 0
    for i in range(4):
        make_png(root / "imgs" / f"img_{i}.png", 40, 40, seed=i)
    table = root / "cali_table"
    assert run_calibration.run([str(mlir), "--dataset", str(root / "imgs"), "--input_num",
                                "4", "-o", str(table)]) == 0
    module = read_module(mlir)
    build_pass_manager(f"import-calibration{{table={table}}}", verify_each=False).run(module)
    build_pass_manager("lower-to-npu{target=int8-sym}", verify_each=False).run(module)
    verify_module(module)
    low = root / "low" / "tiny_int8.mlir"
    write_module(module, low)
    kmodel = root / "low" / "tiny_int8.kmodel"
    write_kmodel(read_module(low), kmodel)
    specs = input_specs(read_module(mlir).main)
    for i, name in enumerate(("b.npz", "a.npz", "c.npz")):  # not in sorted order
        save_npz(root / "samples" / name, load_inputs(root / "imgs" / f"img_{i}.png", specs))
    (root / "samples" / "README.txt").write_text("not a sample\n")
    return {"float": mlir, "low": low, "kmodel": kmodel, "samples": root / "samples",
            "root": root}


def runner(capsys, *argv):
    return cli(model_runner.run, list(argv), capsys)


@pytest.mark.parametrize("kind", ["float", "low", "onnx"])
def test_folder_gives_one_output_per_file_equal_to_running_each_alone(models, tmp_path,
                                                                      capsys, kind):
    model = TINY_CNN if kind == "onnx" else models[kind]
    samples = models["samples"]
    before = snapshot(samples)
    out = tmp_path / "deep" / "out"  # created, parents too
    code, stdout, err = runner(capsys, "--input", samples, "--model", model, "--output", out,
                               "--dump_all_tensors")
    assert code == 0, err
    assert sorted(p.name for p in out.iterdir()) == ["a.npz", "b.npz", "c.npz"]
    assert "3 input file(s)" in stdout
    warnings = [line for line in err.splitlines() if "warning" in line]
    assert len(warnings) == 1 and "README.txt" in warnings[0], err
    for name in ("a.npz", "b.npz", "c.npz"):
        alone = tmp_path / "alone" / name
        code, _, err = runner(capsys, "--input", samples / name, "--model", model, "--output",
                              alone, "--dump_all_tensors")
        assert code == 0, err
        assert (out / name).read_bytes() == alone.read_bytes(), name
    assert snapshot(samples) == before
    again = tmp_path / "again"
    assert runner(capsys, "--input", samples, "--model", model, "--output", again,
                  "--dump_all_tensors")[0] == 0
    assert files_bytes(again) == files_bytes(out)


def test_outputs_only_and_existing_output_folder(models, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("left alone")
    code, stdout, err = runner(capsys, "--input", models["samples"], "--model",
                               models["low"], "--output", out)
    assert code == 0, err
    assert "outputs of" in stdout
    assert sorted(p.name for p in out.iterdir()) == ["a.npz", "b.npz", "c.npz", "keep.txt"]
    got = load_npz(out / "a.npz")
    assert list(got) == ["logits"] and got["logits"].dtype == np.float32


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("quiet", [False, True])
def test_progress_bar_on_a_terminal_unless_quiet(models, tmp_path, capsys, monkeypatch,
                                                 quiet):
    tty = _Tty()
    monkeypatch.setattr("sys.stderr", tty)
    argv = ["--input", models["samples"], "--model", models["float"], "--output", tmp_path]
    code, stdout, _ = runner(capsys, *argv, *(["--quiet"] if quiet else []))
    assert code == 0, tty.getvalue()
    assert ("3/3" in tty.getvalue()) is not quiet
    assert "README.txt" in tty.getvalue()  # the warning stays with --quiet
    assert (stdout == "") is quiet


def _bad_npz(d):
    (d / "b_broken.npz").write_bytes(b"PK\3\4 this is not a zip")


def _missing_key(d):
    save_npz(d / "b_keys.npz", {"image": np.zeros((1, 3, 32, 32), np.float32),
                                "other": np.zeros(3, np.float32)})


def _wrong_shape(d):
    save_npz(d / "b_shape.npz", {"input": np.zeros((1, 3, 8, 8), np.float32)})


@pytest.mark.parametrize("make, fragments", [
    (_bad_npz, ["b_broken.npz", "not a readable"]),
    (_missing_key, ["b_keys.npz", "no array for input(s) input"]),
    (_wrong_shape, ["b_shape.npz", "[1, 3, 8, 8]"]),
])
def test_a_bad_file_is_exit_2_naming_it_and_nothing_is_written(models, tmp_path, capsys,
                                                               make, fragments):
    d = tmp_path / "in"
    d.mkdir()
    for name in ("a.npz", "c.npz"):
        (d / name).write_bytes((models["samples"] / name).read_bytes())
    make(d)
    code, _, err = runner(capsys, "--input", d, "--model", models["low"], "--output",
                          tmp_path / "out")
    assert_usage_error(code, err, PROG, *fragments)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("setup, output, fragments", [
    ("empty", "out", ["no .npz files", "(it is empty)"]),
    ("no_npz", "out", ["no .npz files", "x.png"]),
    ("ok", "in", ["is the input folder"]),
    ("ok", "file.npz", ["is a folder", "is a file"]),
    ("ok", "new.npz", ["not an .npz file name"]),
])
def test_bad_folder_arguments(models, tmp_path, capsys, setup, output, fragments):
    d = tmp_path / "in"
    d.mkdir()
    if setup == "no_npz":
        make_png(d / "x.png")
    if setup == "ok":
        (d / "a.npz").write_bytes((models["samples"] / "a.npz").read_bytes())
    (tmp_path / "file.npz").write_bytes(b"")
    code, _, err = runner(capsys, "--input", d, "--model", models["low"], "--output",
                          tmp_path / output)
    assert_usage_error(code, err, PROG, *fragments)


def test_never_overwrites_the_weights_of_the_model(models, tmp_path, capsys):
    low = models["low"]
    weights = low.parent / "tiny_int8_weights.npz"
    assert weights.is_file()
    d = tmp_path / "in"
    d.mkdir()
    (d / weights.name).write_bytes((models["samples"] / "a.npz").read_bytes())
    before = weights.read_bytes()
    code, _, err = runner(capsys, "--input", d, "--model", low, "--output", low.parent)
    assert_usage_error(code, err, PROG, "would overwrite", weights.name)
    code, _, err = runner(capsys, "--input", d / weights.name, "--model", low, "--output",
                          weights)
    assert_usage_error(code, err, PROG, "would overwrite", weights.name)
    assert weights.read_bytes() == before


def _dump(models, capsys, model, out):
    code, _, err = runner(capsys, "--input", models["samples"] / "a.npz", "--model", model,
                          "--output", out, "--dump_all_tensors")
    assert code == 0, err
    return load_npz(out)


def test_quantized_dump_has_dequantized_values_and_integers(models, tmp_path, capsys):
    low = _dump(models, capsys, models["low"], tmp_path / "low.npz")
    ref = _dump(models, capsys, models["float"], tmp_path / "float.npz")
    types = {op.loc: op.result.type for op in read_module(models["low"]).walk()
             if len(op.results) == 1 and op.loc}
    quantized = [name for name, t in types.items() if isinstance(t, TensorType)
                 and isinstance(t.element, UniformType) and name in low]
    assert {"stem_relu", "pool", "logits"} <= set(quantized)
    for name in quantized:
        q, real = low[f"{name}@int"], low[name]
        el = types[name].element
        assert q.dtype == el.storage.numpy_dtype and real.dtype == np.float32, name
        want = (np.float64(el.scale) * (q.astype(np.float64) - el.zp)).astype(np.float32)
        assert real.tobytes() == want.tobytes(), name
    # float tensors (the input, the dequantized logits) are saved once, under their name
    assert "input@int" not in low and low["input"].dtype == np.float32
    assert all(k.endswith("@int") or low[k].dtype == np.float32 for k in low)
    # every tensor of the float dump has its dequantized counterpart under the same name
    assert set(ref) <= set(low)
    code, stdout, err = cli(npz_tool.run, ["compare", tmp_path / "float.npz",
                                           tmp_path / "low.npz", "--tolerance", "0.9"], capsys)
    assert code == 0, stdout + err
    assert f"{len(ref)} tensor(s) compared" in stdout


def test_kmodel_dump_equals_the_mlir_dump_bit_for_bit(models, tmp_path, capsys):
    for extra in ([], ["--dump_all_tensors"]):
        outs = []
        for model in (models["low"], models["kmodel"]):
            out = tmp_path / f"{model.suffix[1:]}{len(extra)}.npz"
            code, _, err = runner(capsys, "--input", models["samples"] / "b.npz", "--model",
                                  model, "--output", out, *extra)
            assert code == 0, err
            outs.append(out)
        a, b = load_npz(outs[0]), load_npz(outs[1])
        assert list(a) == list(b) and "logits" in a
        assert any(k.endswith("@int") for k in a) == bool(extra)
        for name in a:
            assert a[name].dtype == b[name].dtype and a[name].tobytes() == b[name].tobytes()


ZP_MODULE = """
module @zp {
  func.func @main(%x: tensor<1x4xf32>) -> (tensor<1x4x!quant.uniform<u8:f32, 0.5:128>>, tensor<1x4xf32>) {
    %q = npu.cast %x : (tensor<1x4xf32>) -> tensor<1x4x!quant.uniform<u8:f32, 0.5:128>> loc("q")
    %p = npu.cast %x : (tensor<1x4xf32>) -> tensor<1x4x!quant.uniform<i8:f32:1, {0.5:0, 0.25:3, 1.0:-1, 2.0:0}>> loc("p")
    %f = npu.cast %p : (tensor<1x4x!quant.uniform<i8:f32:1, {0.5:0, 0.25:3, 1.0:-1, 2.0:0}>>) -> tensor<1x4xf32> loc("f")
    return %q, %f : tensor<1x4x!quant.uniform<u8:f32, 0.5:128>>, tensor<1x4xf32>
  }
}
"""  # noqa: E501


def test_zero_points_per_axis_types_and_quantized_outputs(tmp_path, capsys):
    (tmp_path / "zp.mlir").write_text(ZP_MODULE)
    x = np.array([[-3.0, 1.3, 7.6, -20.0]], np.float32)
    save_npz(tmp_path / "x.npz", {"x": x})
    for extra in ([], ["--dump_all_tensors"]):
        code, _, err = runner(capsys, "--input", tmp_path / "x.npz", "--model",
                              tmp_path / "zp.mlir", "--output", tmp_path / "o.npz", *extra)
        assert code == 0, err
        got = load_npz(tmp_path / "o.npz")
        # a quantized output is saved like any quantized tensor
        assert got["q@int"].dtype == np.uint8
        np.testing.assert_array_equal(got["q@int"], [[122, 131, 143, 88]])
        np.testing.assert_array_equal(got["q"], 0.5 * (got["q@int"].astype(np.float32) - 128))
    p = got["p@int"]
    np.testing.assert_array_equal(got["p"], (p.astype(np.float32) - [0, 3, -1, 0])
                                  * np.float32([0.5, 0.25, 1.0, 2.0]))
    assert got["p"].tobytes() == got["f"].tobytes()  # the same as npu.cast's dequantize
