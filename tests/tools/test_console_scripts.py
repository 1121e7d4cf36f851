"""Each console script works as a separate process (the one subprocess test per tool): the
installed script if `pip install -e .` has made it, else `python -m kiln.tools.<module>`."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys

import numpy as np
from kiln.compiler.fileio import load_npz, save_npz
from tool_case import REPO, core_model, save

SCRIPTS = {"model_transform": "model_transform", "model_runner": "model_runner",
           "npz_tool": "npz_tool"}


def command(script: str) -> list[str]:
    installed = shutil.which(script)
    return [installed] if installed else [sys.executable, "-m", f"kiln.tools.{SCRIPTS[script]}"]


def run(script: str, *argv) -> subprocess.CompletedProcess:
    return subprocess.run(command(script) + [str(a) for a in argv], capture_output=True,
                          text=True, timeout=300)


def test_pyproject_declares_the_scripts():
    text = (REPO / "pyproject.toml").read_text()
    for script, module in SCRIPTS.items():
        assert re.search(rf'^{script} = "kiln\.tools\.{module}:entry"$', text, re.M), script


def test_model_transform_script(tmp_path):
    save(core_model(), tmp_path / "in" / "core.onnx")
    save_npz(tmp_path / "in" / "x.npz", {"input": np.ones((1, 3, 16, 16), np.float32)})
    done = run("model_transform", "--model_def", tmp_path / "in" / "core.onnx", "--test_input",
               tmp_path / "in" / "x.npz", "--mlir", tmp_path / "out" / "core.mlir")
    assert done.returncode == 0, done.stderr
    assert "0 failed" in done.stdout
    bad = run("model_transform", "--model_def", tmp_path / "missing.onnx")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert bad.stderr.startswith("model_transform: error:")


def test_model_runner_script(tmp_path):
    save(core_model(), tmp_path / "core.onnx")
    save_npz(tmp_path / "x.npz", {"input": np.ones((1, 3, 16, 16), np.float32)})
    done = run("model_runner", "--input", tmp_path / "x.npz", "--model", tmp_path / "core.onnx",
               "--output", tmp_path / "y.npz")
    assert done.returncode == 0, done.stderr
    assert sorted(load_npz(tmp_path / "y.npz")) == ["feat", "out"]
    bad = run("model_runner", "--input", tmp_path / "x.npz")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr


def test_npz_tool_script(tmp_path):
    save_npz(tmp_path / "a.npz", {"t": np.arange(5.0)})
    save_npz(tmp_path / "b.npz", {"t": -np.arange(5.0)})
    assert run("npz_tool", "compare", tmp_path / "a.npz", tmp_path / "a.npz").returncode == 0
    failed = run("npz_tool", "compare", tmp_path / "a.npz", tmp_path / "b.npz")
    assert failed.returncode == 1 and "FAIL" in failed.stdout
    bad = run("npz_tool", "compare", tmp_path / "a.npz")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
