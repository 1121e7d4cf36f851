"""model_runner on a .kmodel: the device model's outputs (every tensor with
--dump_all_tensors) are bit-identical to the interpreter's on the IR it was written from."""

from __future__ import annotations

import numpy as np
from kiln.codegen import write_kmodel
from kiln.compiler.fileio import load_npz, save_npz
from kiln.compiler.module_io import read_module
from kiln.tools import model_runner, model_transform
from tool_case import TINY_CNN, assert_usage_error, cli


def test_kmodel_runs_bit_identical_to_its_ir(tmp_path, capsys):
    mlir = tmp_path / "tiny.mlir"
    assert model_transform.run(["--model_def", str(TINY_CNN), "--mlir", str(mlir)]) == 0
    kmodel = tmp_path / "tiny.kmodel"
    write_kmodel(read_module(mlir), kmodel)
    feeds = tmp_path / "in.npz"
    save_npz(feeds, {"input": np.random.default_rng(0).standard_normal((1, 3, 32, 32))
                     .astype(np.float32)})
    outs = {}
    for model in (mlir, kmodel):
        out = tmp_path / f"{model.suffix[1:]}.npz"
        code, stdout, err = cli(model_runner.run, ["--input", feeds, "--model", model,
                                                   "--output", out, "--dump_all_tensors"], capsys)
        assert code == 0, err
        outs[model.suffix] = load_npz(out)
    assert "(kmodel)" in stdout
    a, b = outs[".mlir"], outs[".kmodel"]
    assert a.keys() == b.keys() and "logits" in a
    for name in a:
        assert a[name].tobytes() == b[name].tobytes(), name


def test_corrupt_kmodel_is_one_message(tmp_path, capsys):
    bad = tmp_path / "bad.kmodel"
    bad.write_bytes(b"KILNMDL\0" + b"\0" * 10)
    feeds = tmp_path / "in.npz"
    save_npz(feeds, {"input": np.zeros((1, 3, 32, 32), np.float32)})
    code, _, err = cli(model_runner.run, ["--input", feeds, "--model", bad, "--output",
                                          tmp_path / "o.npz"], capsys)
    assert_usage_error(code, err, "model_runner", "bad.kmodel", "truncated")
