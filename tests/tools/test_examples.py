"""examples/: the committed tiny CNN and test image are what the script makes."""

from __future__ import annotations

import importlib.util

import numpy as np
import onnx
import pytest
from PIL import Image
from tool_case import EXAMPLES, TINY_CNN, TINY_INPUT


@pytest.fixture(scope="module")
def script():
    spec = importlib.util.spec_from_file_location("make_tiny_cnn", EXAMPLES / "make_tiny_cnn.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_model_is_what_the_script_builds(script):
    committed = onnx.load(str(TINY_CNN))
    built = script.build_model()
    assert committed.graph == built.graph, "regenerate: python examples/make_tiny_cnn.py"
    assert committed.ir_version == 8
    assert [(o.domain, o.version) for o in committed.opset_import] == [("", 13)]
    assert TINY_CNN.stat().st_size < 200_000
    ops = {n.op_type for n in committed.graph.node}
    assert ops == {"Conv", "BatchNormalization", "Relu", "Add", "MaxPool", "GlobalAveragePool",
                   "Flatten", "Gemm"}
    assert [i.name for i in committed.graph.input] == ["input"]


def test_committed_image_is_what_the_script_draws(script):
    with Image.open(TINY_INPUT) as img:
        assert img.mode == "RGB" and img.size == (40, 40)
        np.testing.assert_array_equal(np.asarray(img), script.make_image())


def test_script_output_is_deterministic(script, tmp_path):
    a = script.write_examples(tmp_path / "a")
    b = script.write_examples(tmp_path / "b")
    for x, y in zip(a, b):
        assert x.read_bytes() == y.read_bytes()


def test_model_runs_in_onnxruntime():
    from kiln.frontend.onnx.reference import run_onnx

    x = np.random.default_rng(0).standard_normal((1, 3, 32, 32)).astype(np.float32)
    got = run_onnx(TINY_CNN, {"input": x}, all_tensors=True)
    assert got["logits"].shape == (1, 10)
    assert np.isfinite(got["logits"]).all()
    assert "res_add" in got and "pool" in got


def test_committed_calibration_images_are_what_the_script_draws(script):
    for i in range(script.CALIBRATION_IMAGES):
        with Image.open(EXAMPLES / "calib" / f"img_{i:02d}.png") as img:
            np.testing.assert_array_equal(np.asarray(img), script.make_calibration_image(i))


def test_quickstart_runs_the_whole_flow(tmp_path):
    """The README's first command: transform, calibrate, deploy, run, compare, all passing."""
    import os
    import shutil
    import subprocess

    if shutil.which("model_deploy") is None:
        pytest.skip("console scripts not installed (pip install -e .)")
    env = dict(os.environ, KILN_WORK=str(tmp_path))
    done = subprocess.run(["sh", str(EXAMPLES / "quickstart.sh")], capture_output=True,
                          text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "11 passed, 0 failed" in done.stdout  # model_deploy's per-layer check
    for name in ("tiny_cnn_int8.kmodel", "tiny_cnn_int8_npu.mlir", "tiny_cnn_int8_qdq.onnx",
                 "tiny_cnn_int8_tensors.npz"):
        assert (tmp_path / name).is_file(), name
