"""model_deploy on the real models, the whole user flow: model_transform (float reference of
every tensor on a drawn test picture), run_calibration on 4 drawn pictures, model_deploy INT8
with its check and the QDQ ONNX export, then model_runner on a folder of two inputs and
onnxruntime on the export. The figures go to stdout (`pytest -s` shows them): the device
model's output cosine against the float IR, and the export's against the device model."""

from __future__ import annotations

import shutil
import sys
import time

import numpy as np
import pytest
from kiln.compiler.fileio import load_npz, save_npz
from kiln.compiler.module_io import read_module
from kiln.compiler.similarity import cosine_similarity
from kiln.data.preprocess import input_specs, load_inputs
from kiln.tools import model_deploy, model_runner, model_transform, run_calibration
from tool_case import REPO, cli

sys.path.insert(0, str(REPO / "bench"))
sys.path.insert(0, str(REPO / "tests" / "conformance"))
from realmodels import ModelUnavailable, real_model
from synthetic_image import synthetic_image

# name: (height, width, mean, scale, calibration method, minimum output cosine vs float).
# ppocr_det at 320 (not its 640) to stay quick. ppocr_cls is calibrated with mse: KL on 4
# pictures clips its first convs at about a tenth of their range (thresholds ~1.05 for
# |x| up to 10) and its output cosine falls to 0.60.
CASES = {
    "yolov8n": (320, 320, "0,0,0", "0.0039216,0.0039216,0.0039216", "kl", 0.99),
    "ppocr_det": (320, 320, "123.675,116.28,103.53", "0.017125,0.017507,0.017429", "kl",
                  0.95),
    "ppocr_cls": (48, 192, "127.5,127.5,127.5", "0.0078431,0.0078431,0.0078431", "mse",
                  0.99),
}
TOLERANCE = "0.95,0.5"  # model_deploy's check: loose, the cosines are printed
QDQ_COSINE = 0.999  # onnxruntime on the export against the device model (the floor)
# PP-OCRv4 det misses that floor: onnxruntime computes the export's 16-bit convs in float32
# and rounds half to even, so about 5e-5 of their codes land one step away from the exact
# integer runner's (at its first conv already), and the detector amplifies any perturbation
# (its own INT8 cosine to float is 0.977): 0.9989 here, 0.9965-0.9985 at 448 on text scenes,
# with or without --input_rounding. One int32 unit added to one bias of its first conv moves
# the device model as far from itself (bench/perturbation.py: 0.9954 min, 0.9981 median), so
# 0.999 there asks for bit-exact arithmetic. The README and the issue note say so.
QDQ_COSINE_DET = 0.998


def _qdq_session(path):
    import onnxruntime as ort

    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


@pytest.mark.realmodel
@pytest.mark.parametrize("name", sorted(CASES))
def test_deploy_real_model(name, tmp_path, capsys):
    try:
        onnx_path = real_model(name)
    except ModelUnavailable as e:
        pytest.skip(f"model wheel not available here: {e}")
    from PIL import Image

    h, w, mean, scale, method, min_cosine = CASES[name]
    start = time.perf_counter()
    (tmp_path / "imgs").mkdir()
    for i in range(4):
        Image.fromarray(synthetic_image(h, w, seed=i)).save(tmp_path / "imgs" / f"{i}.png")
    pictures = []
    for seed in (10, 11):
        pictures.append(tmp_path / f"test_{seed}.png")
        Image.fromarray(synthetic_image(h, w, seed=seed)).save(pictures[-1])

    mlir, reference = tmp_path / f"{name}.mlir", tmp_path / f"{name}_top_outputs.npz"
    code, _, err = cli(model_transform.run, [
        "--model_name", name, "--model_def", onnx_path, "--input_shapes", f"[[1,3,{h},{w}]]",
        "--mean", mean, "--scale", scale, "--pixel_format", "rgb", "--test_input",
        pictures[0], "--test_result", reference, "--mlir", mlir], capsys)
    assert code == 0, err
    table = tmp_path / f"{name}_cali_table"
    code, _, err = cli(run_calibration.run, [mlir, "--dataset", tmp_path / "imgs",
                                             "--cali_method", method, "-o", table], capsys)
    assert code == 0, err
    took = {"transform+calibration": time.perf_counter() - start}

    kmodel, qdq = tmp_path / f"{name}.kmodel", tmp_path / f"{name}_qdq.onnx"
    feeds = tmp_path / f"{name}_in_f32.npz"
    t0 = time.perf_counter()
    code, out, err = cli(model_deploy.run, [
        "--mlir", mlir, "--quantize", "INT8", "--calibration_table", table, "--model", kmodel,
        "--export_onnx", qdq, "--test_input", feeds, "--test_reference", reference,
        "--tolerance", TOLERANCE], capsys)
    took["deploy"] = time.perf_counter() - t0
    assert code == 0, out + err
    assert (tmp_path / f"{name}_npu.mlir").is_file() and qdq.is_file()
    summary = next(line for line in err.splitlines() if f"wrote {kmodel} (" in line)
    layers = summary.split(f"wrote {kmodel} (", 1)[1].split(")")[0]  # e.g. "12 float, 300 i8"
    checked = load_npz(tmp_path / f"{name}_model_outputs.npz")
    ref = load_npz(reference)
    float_cos = {k: cosine_similarity(ref[k], v) for k, v in checked.items() if k in ref}
    assert float_cos

    # model_runner on a folder of two inputs: the first is the check's input
    folder = tmp_path / "inputs"
    folder.mkdir()
    shutil.copy(feeds, folder / "a.npz")
    specs = input_specs(read_module(mlir).main)
    save_npz(folder / "b.npz", load_inputs(pictures[1], specs))
    t0 = time.perf_counter()
    code, _, err = cli(model_runner.run, ["--input", folder, "--model", kmodel, "--output",
                                          tmp_path / "outputs", "--quiet"], capsys)
    took["model_runner x2"] = time.perf_counter() - t0
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "outputs").iterdir()) == ["a.npz", "b.npz"]
    first = load_npz(tmp_path / "outputs" / "a.npz")
    for k, v in first.items():  # the same program on the same input: the same bits
        assert v.tobytes() == checked[k].tobytes(), k

    # onnxruntime on the QDQ export, against the device model
    t0 = time.perf_counter()
    session = _qdq_session(qdq)
    names = [o.name for o in session.get_outputs()]
    qdq_cos = {}
    for sample in ("a", "b"):
        kmodel_out = load_npz(tmp_path / "outputs" / f"{sample}.npz")
        assert set(names) <= set(kmodel_out), (names, list(kmodel_out))
        got = session.run(names, load_npz(folder / f"{sample}.npz"))
        for k, v in zip(names, got):
            assert v.shape == kmodel_out[k].shape, k
            qdq_cos[f"{sample}:{k}"] = cosine_similarity(kmodel_out[k], v)
    took["onnxruntime x2"] = time.perf_counter() - t0
    took["total"] = time.perf_counter() - start

    print(f"\n{name} ({h}x{w}, {method}): {layers}")
    print(f"{name} device model vs float IR, output cosine: "
          + ", ".join(f"{k} {v:.6f}" for k, v in float_cos.items()))
    print(f"{name} QDQ export (onnxruntime) vs device model, output cosine: "
          + ", ".join(f"{k} {v:.6f}" for k, v in qdq_cos.items()))
    print(f"{name} seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in took.items()))
    assert min(float_cos.values()) >= min_cosine
    assert min(qdq_cos.values()) >= (QDQ_COSINE_DET if name == "ppocr_det" else QDQ_COSINE)
    assert all(np.isfinite(v).all() for v in first.values())
