"""run_calibration end to end: the example CNN on image folders, a BERT-style encoder with an
attention mask on a two-level folder, every method, --search, --we, --bc, bad input."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np
import pytest
from kiln.calibration.qtable import read_qtable
from kiln.calibration.table import read_table
from kiln.compiler.module_io import read_module
from kiln.compiler.verifier import verify_module
from kiln.tools import model_transform, run_calibration
from tool_case import (
    REPO,
    TINY_CNN,
    assert_usage_error,
    cli,
    files_bytes,
    make_png,
    snapshot,
)

sys.path.insert(0, str(REPO / "tests" / "calibration_data"))
from test_exact_ops import bert_attention

PROG = "run_calibration"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """examples/tiny_cnn transformed, plus a folder of 12 images (and a stray tmp.txt)."""
    root = tmp_path_factory.mktemp("cal")
    code = model_transform.run([
        "--model_name", "tiny_cnn", "--model_def", str(TINY_CNN), "--input_shapes",
        "[[1,3,32,32]]", "--mean", "123.675,116.28,103.53", "--scale", "0.0171,0.0175,0.0174",
        "--pixel_format", "rgb", "--resize_dims", "36,36", "--mlir", str(root / "tiny.mlir")])
    assert code == 0
    for i in range(12):
        make_png(root / "imgs" / f"img_{i:02d}.png", 40, 40, seed=i)
    (root / "imgs" / "tmp.txt").write_text("not an image")
    return root


def calibrate(capsys, *argv):
    return cli(run_calibration.run, list(argv), capsys)


def test_table_and_qtable_read_back_and_name_only_activations(tiny, tmp_path, capsys):
    before = snapshot(tiny)
    out = tmp_path / "t_cali_table"
    code, _, err = calibrate(capsys, tiny / "tiny.mlir", "--dataset", tiny / "imgs",
                             "--input_num", "8", "-o", out)
    assert code == 0, err
    assert "skipped 1 entry that is not data: tmp.txt" in err
    module = read_module(tiny / "tiny.mlir")
    locs = {op.loc for op in module.walk() if op.name not in ("top.weight", "top.constant")}
    table = read_table(out, known_names=locs | {"input"})
    assert table.method == "percentile9999" and table.samples == 8  # the default
    assert "input" in table and "logits" in table
    for name in table.names():
        e = table[name]
        assert 0 < e.threshold <= max(abs(e.min), abs(e.max)) + 1e-6
    weight_locs = {op.loc for op in module.walk() if op.name == "top.weight"}
    assert not weight_locs & set(table.names())
    qtable = read_qtable(tmp_path / "t_qtable")
    assert qtable.shape_layers == [] and not qtable.modes
    assert snapshot(tiny) == before  # nothing the user gave is modified


@pytest.mark.parametrize("method", run_calibration.SEARCH_METHODS)
def test_every_method_writes_a_table(tiny, tmp_path, capsys, method):
    out = tmp_path / "m_cali_table"
    code, _, err = calibrate(capsys, tiny / "tiny.mlir", "--dataset", tiny / "imgs",
                             "--input_num", "4", "--cali_method", method, "-o", out)
    assert code == 0, err
    assert read_table(out).method == method


def test_same_inputs_same_bytes(tiny, tmp_path, capsys):
    for run in ("a", "b"):
        code, _, err = calibrate(capsys, tiny / "tiny.mlir", "--dataset", tiny / "imgs",
                                 "--input_num", "6", "--seed", "3", "--we", "--bc",
                                 "--bc_inference_num", "3", "-o", tmp_path / run / "x_cali_table")
        assert code == 0, err
    assert files_bytes(tmp_path / "a") == files_bytes(tmp_path / "b")


def test_search_threshold_judges_each_method_on_the_lowered_model(tiny, tmp_path, capsys):
    """Each method's logged cosine is the one of its table lowered for the target and run by
    the integer interpreter (as model_deploy would), on the first --inference_num samples;
    the best is kept. (It was a float simulation, which could rank methods wrongly.)"""
    from kiln.calibration.mixed import Evaluator
    from kiln.compiler.target import load_target
    from kiln.data.dataset import load_dataset

    out = tmp_path / "s_cali_table"
    code, _, err = calibrate(capsys, tiny / "tiny.mlir", "--dataset", tiny / "imgs",
                             "--input_num", "8", "--search", "search_threshold",
                             "--inference_num", "4", "-o", out)
    assert code == 0, err
    scores = {}
    for line in err.splitlines():
        found = re.search(r"search_threshold: (\S+) +output cosine ([0-9.]+) \(int8-sym, "
                          r"4 sample", line)
        if found:
            scores[found[1]] = float(found[2])
    assert set(scores) == set(run_calibration.SEARCH_METHODS)
    kept = read_table(out)
    assert scores[kept.method] == max(scores.values())
    module = read_module(tiny / "tiny.mlir")
    samples = list(load_dataset(module.main, dataset=str(tiny / "imgs"), input_num=8,
                                seed=0).take(4))
    ev = Evaluator(kept.replacement_files(out)[0], load_target("int8-sym"), samples)
    assert ev.score(kept, {}) == pytest.approx(scores[kept.method], abs=1e-6)


def test_we_and_bc_write_new_weights_beside_the_table(tiny, tmp_path, capsys):
    before = snapshot(tiny)
    out = tmp_path / "wb_cali_table"
    code, _, err = calibrate(capsys, tiny / "tiny.mlir", "--dataset", tiny / "imgs",
                             "--input_num", "8", "--we", "--bc", "--bc_inference_num", "4",
                             "-o", out)
    assert code == 0, err
    assert "conv pair(s) equalized" in err and "conv(s) corrected" in err
    table = read_table(out)
    mlir, weights = table.replacement_files(out)
    assert mlir.is_file() and weights.is_file() and mlir.parent == tmp_path
    module = read_module(mlir)
    verify_module(module)
    assert snapshot(tiny) == before
    # equalization keeps the function: the new IR computes what the original did
    from kiln.compiler.interpreter import run_module

    original = read_module(tiny / "tiny.mlir")
    feeds = {"input": np.random.default_rng(0).standard_normal((1, 3, 32, 32), np.float32)}
    a, b = run_module(original, feeds)["logits"], run_module(module, feeds)["logits"]
    assert np.allclose(a, b, rtol=0.05, atol=0.05)  # bias correction moves it a little


def test_bert_style_encoder_with_attention_mask(tmp_path, capsys):
    """Masks written as finfo.min or -inf never get a range; activations all do, finite."""
    import onnx

    for style in ("finfo_min", "where_neg_inf"):
        model_path = tmp_path / f"{style}.onnx"
        onnx.save(bert_attention(style), model_path)
        mlir = tmp_path / f"{style}.mlir"
        assert model_transform.run(["--model_def", str(model_path), "--mlir", str(mlir)]) == 0
        data = tmp_path / f"data_{style}"
        rng = np.random.default_rng(0)
        for i in range(6):
            sample = data / f"s{i}"
            sample.mkdir(parents=True)
            np.save(sample / "input_ids.npy", rng.integers(2, 30, (1, 5)).astype(np.int64))
            length = int(rng.integers(2, 6))
            mask = (np.arange(5) < length).astype(np.int64)[None]
            np.save(sample / "attention_mask.npy", mask)
        out = tmp_path / f"{style}_cali_table"
        code, _, err = calibrate(capsys, mlir, "--dataset", data, "-o", out)
        assert code == 0, err
        table = read_table(out)
        names = set(table.names())
        assert "input_ids" not in names and "attention_mask" not in names
        assert not any(n.startswith("/mask/") for n in names), sorted(names)
        assert {"/attn/probs", "/attn/scores", "output"} <= names
        for n in names:
            assert np.isfinite(table[n].min) and np.isfinite(table[n].max)


def test_bad_input_is_one_message_and_exit_2(tiny, tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, err = calibrate(capsys, tiny / "tiny.mlir", "--dataset", empty)
    assert_usage_error(code, err, PROG, "empty")
    code, _, err = calibrate(capsys, tmp_path / "nope.mlir", "--dataset", tiny / "imgs")
    assert_usage_error(code, err, PROG, "nope.mlir")
    code, _, err = calibrate(capsys, tiny / "tiny.mlir", "--dataset", tiny / "imgs",
                             "--cali_method", "magic")
    assert_usage_error(code, err, PROG, "magic")
    bad = tmp_path / "badshape"
    bad.mkdir()
    np.save(bad / "x.npy", np.zeros((1, 3, 8, 8), np.float32))
    code, _, err = calibrate(capsys, tiny / "tiny.mlir", "--dataset", bad)
    assert_usage_error(code, err, PROG, "x.npy")


def test_console_script(tiny, tmp_path):
    import subprocess

    done = subprocess.run([sys.executable, "-m", "kiln.tools.run_calibration",
                           str(tiny / "tiny.mlir"), "--dataset", str(tiny / "imgs"),
                           "--input_num", "2", "-o", str(tmp_path / "c_cali_table")],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert Path(tmp_path / "c_cali_table").is_file()


def test_processor_selects_the_bit_width(tiny, tmp_path, capsys):
    """feature12 computes the same statistics for 8-bit features by default; a bad name is
    one message naming the known targets."""
    out = tmp_path / "p_cali_table"
    code, _, err = calibrate(capsys, tiny / "tiny.mlir", "--dataset", tiny / "imgs",
                             "--input_num", "4", "--processor", "feature12", "-o", out)
    assert code == 0, err
    code, _, err = calibrate(capsys, tiny / "tiny.mlir", "--dataset", tiny / "imgs",
                             "--processor", "bm1684x")
    assert_usage_error(code, err, PROG, "unknown target 'bm1684x'", "int8-sym")


def test_score_branch_keeps_its_max_unless_asked(tmp_path, capsys):
    """The class branch of a detector head keeps max |x|; `--score_branch method` gives it
    the method's threshold like every other layer."""
    from kiln.compiler.text.parser import parse_module
    from kiln.compiler.text.printer import print_module

    cases = parse_module((REPO / "tests" / "calibration" / "score_cases.mlir").read_text())
    cases.functions[:] = [f for f in cases.functions if f.name == "yolo_head"]
    mlir = tmp_path / "head.mlir"
    mlir.write_text(print_module(cases))
    rng = np.random.default_rng(0)
    data = tmp_path / "data"  # not the output folder: the rounded weights are an npz too
    data.mkdir()
    for i in range(6):
        x = rng.standard_normal((1, 2, 4, 4)).astype(np.float32)
        x[0, :, i % 4, 1] = 40.0  # a rare peak: an object
        np.save(data / f"s{i}.npy", x)
    rows = {}
    for mode in ("max", "method"):
        out = tmp_path / f"{mode}_cali_table"
        code, _, err = calibrate(capsys, mlir, "--dataset", data, "--cali_method", "aciq_gauss",
                                 "--score_branch", mode, "-o", out)
        assert code == 0, err
        assert ("score branches: 3 tensor(s) keep their max" in err) == (mode == "max")
        rows[mode] = read_table(out)
    for name in ("cls_conv", "cls_act", "cls_logits"):
        e = rows["max"][name]
        assert e.threshold == pytest.approx(max(abs(e.min), abs(e.max)))
        assert rows["method"][name].threshold < e.threshold
    for name in ("neck", "box"):  # shared or box layers keep the method's threshold
        assert rows["max"][name].threshold == rows["method"][name].threshold


def test_weights_are_rounded_on_the_grid_by_default(tiny, tmp_path, capsys):
    """The default names output-aware rounded weights on each conv of an IR written beside
    the table (its float weights stay); model_deploy's integer convs get exactly those
    integers, a conv the qtable leaves F16 its float weight; `--weight_rounding nearest`
    writes no IR."""
    from kiln import dialects  # noqa: F401
    from kiln.compiler.target import load_target
    from kiln.passes.lower_to_npu import ROUNDED_WEIGHT_ATTR
    from kiln.passes.lowering.scheme import QScheme
    from kiln.tools import model_deploy

    before = snapshot(tiny)
    out = tmp_path / "r_cali_table"
    code, _, err = calibrate(capsys, tiny / "tiny.mlir", "--dataset", tiny / "imgs",
                             "--input_num", "8", "-o", out)
    assert code == 0, err
    assert re.search(r"weight rounding: [1-9][0-9]* layer\(s\) rounded", err)
    mlir, weights = read_table(out).replacement_files(out)
    assert mlir.is_file() and weights.is_file()
    rounded, original = read_module(mlir), read_module(tiny / "tiny.mlir")
    scheme = QScheme.of(load_target("int8-sym"))
    convs = [op for op in rounded.walk() if op.name == "top.conv"]
    chosen = {}
    for op, old_op in zip(convs, (op for op in original.walk() if op.name == "top.conv")):
        ref = op.operands[1].owner.attributes["ref"].name
        np.testing.assert_array_equal(rounded.weights.get(ref), original.weights.get(
            old_op.operands[1].owner.attributes["ref"].name))  # the float model is kept
        if ROUNDED_WEIGHT_ATTR in op.attributes:
            q, _ = scheme.weights(rounded.weights.get(op.attributes[ROUNDED_WEIGHT_ATTR].name),
                                  0, 8)
            chosen[op.loc] = (q, scheme.weights(rounded.weights.get(ref), 0, 8)[0])
    assert chosen and any(np.any(q != near) for q, near in chosen.values())
    assert snapshot(tiny) == before

    floated = sorted(chosen)[0]
    qtable = tmp_path / "q"
    qtable.write_text(f"{floated} F16\n")
    model = tmp_path / "m.kmodel"
    code, _, err = cli(model_deploy.run, ["--mlir", tiny / "tiny.mlir", "--quantize", "INT8",
                                          "--calibration_table", out, "--quantize_table",
                                          qtable, "--model", model, "--quiet"], capsys)
    assert code == 0, err
    low = read_module(model.with_name("m_npu.mlir"))
    ops = {op.loc: op for op in low.walk() if op.loc}
    assert ops[floated].name == "top.conv" and ROUNDED_WEIGHT_ATTR not in ops[floated].attributes
    w = low.weights.get(ops[floated].operands[1].owner.attributes["ref"].name)
    float_w = rounded.weights.get(
        next(op for op in convs if op.loc == floated).operands[1].owner.attributes["ref"].name)
    np.testing.assert_array_equal(w.astype(np.float32),
                                  float_w.astype(np.float16).astype(np.float32))  # F16
    for loc, (q, _) in chosen.items():
        if loc != floated:
            assert ops[loc].name == "npu.conv2d", (loc, ops[loc].name)
            filt = ops[loc].operands[1].owner.attributes["ref"].name
            np.testing.assert_array_equal(low.weights.get(filt), q)

    plain = tmp_path / "n_cali_table"
    code, _, err = calibrate(capsys, tiny / "tiny.mlir", "--dataset", tiny / "imgs",
                             "--input_num", "8", "--weight_rounding", "nearest", "-o", plain)
    assert code == 0, err
    assert "weight rounding" not in err and read_table(plain).mlir is None
    assert not plain.with_name(plain.name + ".mlir").exists()
    code, _, err = calibrate(capsys, tiny / "tiny.mlir", "--dataset", tiny / "imgs",
                             "--weight_rounding_num", "0", "-o", plain)
    assert code == 2 and "--weight_rounding_num must be at least 1" in err


def test_input_rounding_is_measured_by_default_and_can_be_kept(tiny, tmp_path, capsys):
    """The default logs the input-rounding step (calibration/input_rounding.py, its own
    tests); `--input_rounding keep` skips it; a sample count below 1 is a usage error."""
    out = tmp_path / "i_cali_table"
    code, _, err = calibrate(capsys, tiny / "tiny.mlir", "--dataset", tiny / "imgs",
                             "--input_num", "8", "-o", out)
    assert code == 0, err
    assert re.search(r"input rounding: \d+ layer\(s\) get their input's mean rounding error",
                     err)
    code, _, err = calibrate(capsys, tiny / "tiny.mlir", "--dataset", tiny / "imgs",
                             "--input_num", "8", "--input_rounding", "keep", "-o", out)
    assert code == 0 and "input rounding" not in err, err
    code, _, err = calibrate(capsys, tiny / "tiny.mlir", "--dataset", tiny / "imgs",
                             "--input_rounding_num", "0", "-o", out)
    assert code == 2 and "--input_rounding_num must be at least 1" in err
