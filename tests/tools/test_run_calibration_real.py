"""run_calibration on the real models: every method's table for YOLOv8n and PP-OCRv4
detection is produced from drawn test pictures (shapes, gradients, text) and reads back (few
samples, to stay quick in CI; bench/calibration.py uses real photos)."""

from __future__ import annotations

import sys

import pytest
from kiln.calibration.table import read_table
from kiln.compiler.module_io import read_module
from kiln.tools import model_transform, run_calibration
from tool_case import REPO, cli

sys.path.insert(0, str(REPO / "bench"))
sys.path.insert(0, str(REPO / "tests" / "conformance"))
from realmodels import ModelUnavailable, real_model
from synthetic_image import synthetic_image

CASES = {  # name: (size, mean, scale)
    "yolov8n": (320, "0,0,0", "0.0039216,0.0039216,0.0039216"),
    "ppocr_det": (640, "123.675,116.28,103.53", "0.017125,0.017507,0.017429"),
}


@pytest.mark.realmodel
@pytest.mark.parametrize("name", sorted(CASES))
def test_every_method_on_real_model(name, tmp_path, capsys):
    try:
        onnx_path = real_model(name)
    except ModelUnavailable as e:
        pytest.skip(f"model wheel not available here: {e}")
    from PIL import Image

    size, mean, scale = CASES[name]
    (tmp_path / "imgs").mkdir()
    for i in range(4):
        Image.fromarray(synthetic_image(size, size, seed=i)).save(tmp_path / "imgs" / f"{i}.png")
    mlir = tmp_path / f"{name}.mlir"
    assert model_transform.run(["--model_name", name, "--model_def", str(onnx_path),
                                "--input_shapes", f"[[1,3,{size},{size}]]", "--mean", mean,
                                "--scale", scale, "--pixel_format", "rgb",
                                "--mlir", str(mlir)]) == 0
    locs = {op.loc for op in read_module(mlir).walk()} | {"images", "x"}
    for method in run_calibration.SEARCH_METHODS:
        out = tmp_path / f"{method}_cali_table"
        code, _, err = cli(run_calibration.run, [mlir, "--dataset", tmp_path / "imgs",
                                                 "--cali_method", method, "-o", out], capsys)
        assert code == 0, err
        table = read_table(out, known_names=locs)
        assert table.method == method and len(table) > 100
        assert all(table[n].threshold > 0 for n in table.names())
