"""quant_debug end to end on the example CNN: the float IR against device models deployed from
calibration tables edited to break one layer (a tiny threshold clips it), so that each of the
Magik guide's failure patterns shows where it should; the report files (text, CSV, PNG, HTML,
dumps) hold what they promise and are the same bytes on a second run; bad input exits 2 with
one line naming the file."""

from __future__ import annotations

import base64
import csv
import io
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from kiln.calibration.table import read_table, write_table
from kiln.compiler.fileio import load_npz
from kiln.debug.collect import DebugRun, LayerStats, OpInfo
from kiln.debug.diagnose import diagnose, late_start
from kiln.debug.postprocess import PostProcessCheck, compare_result
from kiln.tools import model_deploy, model_transform, quant_debug, run_calibration
from tool_case import (
    REPO,
    TINY_CNN,
    assert_usage_error,
    cli,
    core_model,
    files_bytes,
    make_png,
    save,
    snapshot,
)

PROG = "quant_debug"
# the example CNN's layers in program order (its convs carry their fused relu / bn's loc)
LAYERS = ("stem_relu", "block1_relu", "block2_bn", "res_add", "res_relu", "pool", "head_relu",
          "gap", "flat", "logits")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# calibration ranges divided by this clip a layer so hard that its cosine falls far below
CLIP = 100.0


@dataclass(frozen=True)
class Tiny:
    mlir: Path
    debug: Path  # three pictures, not the calibration ones
    models: dict[str, Path]  # "base", or the clipped layer -> device model


def _deploy(mlir: Path, table: Path, model: Path) -> Path:
    assert model_deploy.run(["--mlir", str(mlir), "--quantize", "INT8", "--calibration_table",
                             str(table), "--model", str(model), "--quiet"]) == 0
    return model


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Tiny:
    root = tmp_path_factory.mktemp("qd_inputs")
    images, debug = root / "cali", root / "debug"
    for i in range(4):
        make_png(images / f"cali_{i}.png", 40, 40, seed=i)
    for i in range(3):
        make_png(debug / f"debug_{i}.png", 40, 40, seed=50 + i)
    mlir = root / "tiny.mlir"
    assert model_transform.run([
        "--model_name", "tiny_cnn", "--model_def", str(TINY_CNN), "--input_shapes",
        "[[1,3,32,32]]", "--mean", "123.675,116.28,103.53", "--scale", "0.0171,0.0175,0.0174",
        "--pixel_format", "rgb", "--resize_dims", "36,36", "--mlir", str(mlir)]) == 0
    table = root / "tiny_cali_table"
    assert run_calibration.run([str(mlir), "--dataset", str(images), "-o", str(table)]) == 0
    models = {"base": _deploy(mlir, table, root / "base.kmodel")}
    # first layer (pattern 1), a middle one (pattern 2), the last one (pattern 3)
    for layer in ("stem_relu", "block1_relu", "logits"):
        edited = read_table(table)
        row = edited[layer]
        # the range too: a layer lowered above 8 bits takes the observed range, not the
        # threshold (the outputs are, as they are read in float)
        edited.add(layer, row.threshold / CLIP, row.min / CLIP, row.max / CLIP)
        write_table(root / f"{layer}_table", edited)
        models[layer] = _deploy(mlir, root / f"{layer}_table", root / f"{layer}.kmodel")
    return Tiny(mlir, debug, models)


def debug_run(tiny: Tiny, out: Path, capsys, model: str = "base", *extra
              ) -> tuple[int, str, str]:
    return cli(quant_debug.run, ["--mlir", tiny.mlir, "--model", tiny.models[model],
                                 "--debug_dir", tiny.debug, "-o", out, *extra], capsys)


def csv_rows(out: Path) -> list[dict[str, str]]:
    with open(out / "layers.csv", newline="") as f:
        return list(csv.DictReader(f))


# -- the report ---------------------------------------------------------------------------------
def test_report_files_hold_the_table_plot_and_diagnosis(tiny, tmp_path, capsys):
    from PIL import Image

    out = tmp_path / "out"
    code, stdout, err = debug_run(tiny, out, capsys, "base", "--dump")
    assert code == 0, err
    for name in ("layers.txt", "layers.csv", "layers.png", "report.html", "diagnosis.txt",
                 "dumps/float.npz", "dumps/deployed.npz"):
        assert (out / name).is_file(), name
    assert stdout == (out / "layers.txt").read_text()
    assert "3 sample(s)" in stdout and "Traceback" not in err
    rows = csv_rows(out)
    assert [r["layer"] for r in rows] == list(LAYERS)
    assert [int(r["index"]) for r in rows] == list(range(len(LAYERS)))
    kinds = {r["layer"]: f"{r['op']} {r['type']}" for r in rows}
    assert kinds["stem_relu"] == "npu.conv2d u8" and kinds["flat"] == "top.reshape u8"
    assert kinds["logits"].startswith("npu.matmul i") and kinds["pool"] == "npu.max_pool u8"
    for r in rows:
        lo, mean, hi = float(r["cos_min"]), float(r["cos_mean"]), float(r["cos_max"])
        assert 0.99 < lo <= mean <= hi <= 1.0 + 1e-12, r
        assert 0.9 < float(r["euclid_mean"]) <= 1.0 and float(r["max_abs"]) > 0.0, r
        assert 20.0 < float(r["sqnr_db_mean"]) < 80.0 and r["below"] == "0", r
    diagnosis = (out / "diagnosis.txt").read_text()
    assert "no failure pattern: every layer above 0.99" in diagnosis
    assert diagnosis in stdout
    png = (out / "layers.png").read_bytes()
    assert png.startswith(PNG_SIGNATURE)
    with Image.open(io.BytesIO(png)) as image:
        assert image.format == "PNG" and image.size == (1100, 500)
    page = (out / "report.html").read_text()
    inline = re.search(r'<img [^>]*src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert inline and base64.b64decode(inline.group(1)) == png
    assert '<table id="layers">' in page and page.count("<tr") == len(LAYERS) + 1
    assert all(f"<td>{name}</td>" in page for name in LAYERS)
    assert 'class="below"' not in page and "every layer above 0.99" in page


def test_dumps_hold_float_integer_and_dequantized_tensors(tiny, tmp_path, capsys):
    out = tmp_path / "out"
    assert debug_run(tiny, out, capsys, "base", "--dump", "--input_num", "1")[0] == 0
    reference, deployed = load_npz(out / "dumps/float.npz"), load_npz(out / "dumps/deployed.npz")
    assert set(LAYERS) <= set(reference) and set(LAYERS) <= set(deployed)
    assert reference["stem_relu"].dtype == np.float32
    ints, values = deployed["stem_relu@int"], deployed["stem_relu"]
    assert ints.dtype == np.uint8 and values.dtype == np.float32  # a relu: never negative
    scale = values[ints != 0] / ints[ints != 0]  # one per-tensor scale dequantizes them all
    assert np.allclose(scale, scale[0], rtol=1e-6)
    assert not any(k.endswith("@int") for k in reference)


def test_a_data_list_gives_the_samples_in_its_order(tiny, tmp_path, capsys):
    listing = tmp_path / "list.txt"
    listing.write_text(f"# two of the debug pictures\n{tiny.debug / 'debug_2.png'}\n"
                       f"{tiny.debug / 'debug_0.png'}\n")
    code, stdout, err = cli(quant_debug.run, ["--mlir", tiny.mlir, "--model",
                                              tiny.models["base"], "--data_list", listing,
                                              "-o", tmp_path / "out"], capsys)
    assert code == 0, err
    assert f"on 2 sample(s) of {listing}" in stdout
    assert len(csv_rows(tmp_path / "out")) == len(LAYERS)


def test_same_inputs_give_the_same_bytes_and_leave_the_inputs_alone(tiny, tmp_path, capsys):
    before = snapshot(tiny.mlir.parent)
    first, second = tmp_path / "a", tmp_path / "b"
    assert debug_run(tiny, first, capsys, "logits", "--dump")[0] == 0
    assert debug_run(tiny, second, capsys, "logits", "--dump")[0] == 0
    assert files_bytes(first) == files_bytes(second)
    assert snapshot(tiny.mlir.parent) == before


# -- the four failure patterns ------------------------------------------------------------------
@pytest.mark.parametrize(("model", "pattern", "named"), [
    ("stem_relu", 1, "the first quantized layer 'stem_relu' is below 0.99"),
    ("block1_relu", 2, "drop from 'block1_relu' on"),
    ("logits", 3, "late drop from 'logits' on"),
])
def test_a_clipped_layer_shows_its_pattern(tiny, tmp_path, capsys, model, pattern, named):
    out = tmp_path / "out"
    code, stdout, err = debug_run(tiny, out, capsys, model, "--input_num", "2")
    assert code == 0, err
    diagnosis = (out / "diagnosis.txt").read_text()
    first_line = diagnosis.splitlines()[0]
    assert f"pattern {pattern}: {named}" in first_line
    assert [p for p in (1, 2, 3, 4) if f"pattern {p}:" in first_line] == [pattern]
    rows = csv_rows(out)
    below = [r["layer"] for r in rows if r["below"] == "1"]
    assert below[0] == model and below[-1] == "logits"
    # res_add is read only by res_relu's table: its range is fitted to the table, on purpose
    fitted = [r["layer"] for r in rows if r["lut_input"] == "1"]
    assert fitted == ["res_add"]
    page = (out / "report.html").read_text()
    assert page.count('<tr class="below">') == len(set(below) - set(fitted))
    assert page.count('<tr class="fitted">') == len(set(below) & set(fitted))
    assert stdout.count("BELOW") == len(below)


def _post_process_file(path: Path, cut: float) -> Path:
    path.write_text("import numpy as np\n\n\n"
                    "def PostProcess(outputs):\n"
                    f"    return {{'positive': outputs['logits'] > {cut!r}}}\n")
    return path


def test_layers_fine_but_post_process_disagrees_is_pattern_4(tiny, tmp_path, capsys):
    """A post-process that thresholds the logits exactly between the float and the device
    value of one logit: every layer is fine, the decision flips."""
    out = tmp_path / "dump"
    assert debug_run(tiny, out, capsys, "base", "--dump", "--input_num", "1")[0] == 0
    a = load_npz(out / "dumps/float.npz")["logits"].ravel()
    b = load_npz(out / "dumps/deployed.npz")["logits"].ravel()
    k = int(np.argmax(np.abs(a - b)))
    flip = _post_process_file(tmp_path / "flip.py", float(a[k] + b[k]) / 2)
    code, _, err = debug_run(tiny, tmp_path / "flip", capsys, "base", "--post_process", flip,
                             "--input_num", "1")
    assert code == 0, err
    diagnosis = (tmp_path / "flip" / "diagnosis.txt").read_text()
    assert "pattern 4: every layer above 0.99, post-process results differ on 1 of 1" in \
        diagnosis
    assert re.search(r"'positive' on 1 \(first debug_\d\.png: 1 of 10 element\(s\) differ\)",
                     diagnosis), diagnosis
    # far from every logit: the decisions agree, no pattern
    calm = _post_process_file(tmp_path / "calm.py", 1e6)
    assert debug_run(tiny, tmp_path / "calm", capsys, "base", "--post_process", calm)[0] == 0
    diagnosis = (tmp_path / "calm" / "diagnosis.txt").read_text()
    assert "no failure pattern: every layer above 0.99" in diagnosis
    assert "post-process results ('positive') agree on all 3 sample(s)" in diagnosis


def test_post_process_errors_name_the_file_and_line(tiny, tmp_path, capsys):
    none = tmp_path / "none.py"
    none.write_text("x = 1\n")
    code, _, err = debug_run(tiny, tmp_path / "o", capsys, "base", "--post_process", none)
    assert_usage_error(code, err, PROG, str(none), "PostProcess")
    broken = tmp_path / "broken.py"
    broken.write_text("def PostProcess(outputs):\n    return outputs['nope']\n")
    code, _, err = debug_run(tiny, tmp_path / "o", capsys, "base", "--post_process", broken,
                             "--quiet")
    assert_usage_error(code, err, PROG, f"{broken}:2:", "KeyError", "debug_")


# -- diagnosis rules on constructed statistics ---------------------------------------------------
def _run(cosines: list[float], quantized: list[bool] | None = None,
         lut_inputs: tuple[int, ...] = ()) -> DebugRun:
    layers = []
    for i, c in enumerate(cosines):
        q = True if quantized is None else quantized[i]
        layer = LayerStats(i, f"l{i}", OpInfo("npu.conv2d" if q else "top.mul",
                                              "i8" if q else "f32", q, i in lut_inputs))
        layer.add(c, c, 0.1, 20.0)
        layers.append(layer)
    return DebugRun(layers, ["s0"], "set")


def test_diagnosis_rules():
    ok, bad = 0.999, 0.9
    assert late_start(10) == 8 and late_start(3) == 2 and late_start(1) == 0
    assert diagnose(_run([ok] * 10), 0.99).verdict == "no failure pattern: every layer above 0.99"
    # the first quantized layer decides pattern 1, a float layer before it does not
    d = diagnose(_run([ok, bad, ok, ok], [False, True, True, True]), 0.99)
    assert d.patterns == [1] and d.findings[0].layers == ("l1",)
    # a drop that recovers is no pattern, it is listed
    d = diagnose(_run([ok, ok, bad, bad, ok, ok]), 0.99)
    assert d.patterns == [] and "'l2', 'l3'" in d.notes[0]
    assert d.verdict.startswith("no failure pattern: 2 layer(s) below 0.99")
    # the drop is where the cosine falls and stays: an early dip does not count
    d = diagnose(_run([ok, bad, ok, ok, ok, ok, ok, bad, bad, bad]), 0.99)
    assert d.patterns == [2] and d.findings[0].layers == ("l7", "l8", "l9")
    assert "'l1'" in d.notes[0]
    # the network stays mostly below though its last layer recovers (a detector's concat
    # of boxes and scores): still a drop, and the finding says the last layer recovered
    d = diagnose(_run([ok, ok, bad, bad, ok, bad, bad, bad, bad, ok]), 0.99)
    assert d.patterns == [2] and d.findings[0].layers[0] == "l2"
    assert "stays below for 6 of the 8 layers" in d.findings[0].detail
    assert "'l9' is back above it" in d.findings[0].detail
    # a bad first layer and a late drop are both reported
    d = diagnose(_run([bad] + [ok] * 8 + [bad]), 0.99)
    assert d.patterns == [1, 3] and d.findings[1].layers == ("l9",)
    # a bad first layer that the network never recovers from is pattern 1 alone
    d = diagnose(_run([bad, bad, ok, bad, bad, bad]), 0.99)
    assert d.patterns == [1] and "most later layers stay below" in d.findings[0].detail
    # a table's input is fitted to the table's range: below, but not counted
    d = diagnose(_run([ok, bad, ok, ok], lut_inputs=(1,)), 0.99)
    assert d.patterns == [] and "but 1 table input(s)" in d.verdict and "'l1'" in d.notes[0]
    d = diagnose(_run([ok, ok, bad, bad, bad, bad], lut_inputs=(2, 4)), 0.99)
    assert d.patterns == [2] and d.findings[0].layers == ("l3", "l5")
    # NaN cosines (inf values in the deployed model) are below any threshold
    assert diagnose(_run([ok, ok, ok, math.nan]), 0.99).patterns == [3]


def test_post_process_comparison_rules():
    same = np.array([1, 2, 3])
    assert compare_result(same, same.copy(), 0.99) is None
    assert compare_result(same, np.array([1, 2, 4]), 0.99) == "1 of 3 element(s) differ"
    assert compare_result(np.array(True), np.array(False), 0.99) == "True vs False"
    assert compare_result(np.ones(3), np.ones(4), 0.99) == "shape [3] vs [4]"
    assert compare_result(np.array([1.0, 2.0]), np.array([1.0, 2.01]), 0.99) is None
    assert "cosine" in compare_result(np.array([1.0, 0.0]), np.array([0.0, 1.0]), 0.99)
    check = PostProcessCheck(0.99)
    check.add("a.png", {"k": same}, {"k": same})
    check.add("b.png", {"k": same}, {})
    assert check.bad_samples == ["b.png"] and "missing from the deployed model" in \
        check.summary()


# -- bad input ----------------------------------------------------------------------------------
def test_bad_paths_exit_2_naming_the_file(tiny, tmp_path, capsys):
    base = ["--mlir", tiny.mlir, "--model", tiny.models["base"], "--debug_dir", tiny.debug,
            "-o", tmp_path / "o", "--threshold", "0.99"]
    cases = [
        (["--mlir", tmp_path / "no.mlir"], "no.mlir"),
        (["--model", tmp_path / "no.kmodel"], "no.kmodel"),
        (["--model", tiny.mlir.with_suffix(".onnx")], "give the .kmodel"),
        (["--debug_dir", tmp_path / "nodir"], "nodir"),
        (["--threshold", "1.5"], "--threshold"),
    ]
    for change, fragment in cases:
        argv = list(base)
        argv[argv.index(change[0]) + 1] = change[1]
        assert_usage_error(*cli(quant_debug.run, argv, capsys)[::2], PROG, fragment)
    empty = tmp_path / "empty"
    empty.mkdir()
    argv = base[:5] + [empty] + base[6:]
    assert_usage_error(*cli(quant_debug.run, argv, capsys)[::2], PROG, str(empty))
    (tmp_path / "file").write_text("")
    argv = base[:7] + [tmp_path / "file"]
    assert_usage_error(*cli(quant_debug.run, argv, capsys)[::2], PROG, "is a file")
    lowered = tiny.models["base"].with_name("base_npu.mlir")
    argv = ["--mlir", lowered] + base[2:]
    assert_usage_error(*cli(quant_debug.run, argv, capsys)[::2], PROG, "lowered")
    assert not (tmp_path / "o").exists()


def test_a_model_from_another_float_ir_exits_2(tiny, tmp_path, capsys):
    """Same input, other tensor names: no layer in common. Other input shape: named."""
    for name, shape in (("same_input", (1, 3, 32, 32)), ("other_input", (1, 3, 16, 16))):
        onnx_path = save(core_model(shape=shape), tmp_path / f"{name}.onnx")
        mlir = tmp_path / f"{name}.mlir"
        assert model_transform.run(["--model_def", str(onnx_path), "--mlir", str(mlir)]) == 0
        model = tmp_path / f"{name}.kmodel"
        assert model_deploy.run(["--mlir", str(mlir), "--quantize", "F32", "--model",
                                 str(model), "--quiet"]) == 0
        code, _, err = cli(quant_debug.run, ["--mlir", tiny.mlir, "--model", model,
                                             "--debug_dir", tiny.debug, "-o", tmp_path / "o",
                                             "--quiet"],
                           capsys)
        fragment = "no layer in common" if name == "same_input" else "1x3x16x16"
        assert_usage_error(code, err, PROG, str(model), fragment, str(tiny.mlir))


def test_pyproject_declares_the_script_and_package():
    text = (REPO / "pyproject.toml").read_text()
    assert re.search(r'^quant_debug = "kiln\.tools\.quant_debug:entry"$', text, re.M)
    assert '"kiln.debug",' in text and '"matplotlib>=3.5"' in text
