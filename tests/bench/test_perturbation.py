"""bench/perturbation.py finds the convs whose bias it changes: every int32-biased conv of the
lowered tiny CNN, in program order, each bias a stored weight and each conv's result a tensor
the interpreter keeps (the figures count that tensor's moved codes)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from kiln import dialects  # noqa: F401  (registers the ops)
from kiln.compiler.interpreter import run_module
from kiln.compiler.module_io import read_module
from kiln.passes.registry import build_pass_manager

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "tools"))
from perturbation import conv_biases, main  # noqa: E402
from tool_case import tiny_flow  # noqa: E402


def test_conv_biases_of_the_tiny_cnn(tmp_path):
    mlir, _, table = tiny_flow(tmp_path, "tiny_cnn")
    low = read_module(mlir)
    build_pass_manager(f"import-calibration{{table={table}}},lower-to-npu{{target=int8-sym}}",
                       verify_each=False).run(low)
    found = conv_biases(low, 10)
    convs = [op.loc for op in low.walk() if op.name == "npu.conv2d"]
    assert [loc for _, loc in found] == convs and len(convs) == 4
    assert conv_biases(low, 2) == found[:2]
    kept = run_module(low, keep_all=True)
    for bias, loc in found:
        assert low.weights.get(bias).dtype == np.int32
        assert loc in kept


@pytest.mark.parametrize("argv", [["--models", "resnet"], ["--eval", "0"], ["--det-size", "100"]])
def test_bad_options_exit_2_before_any_work(argv, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2 and "error:" in capsys.readouterr().err
