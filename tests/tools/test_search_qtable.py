"""run_calibration --search search_qtable on the tiny CNN: the qtable, the tuned table and
the log it writes, judged on the real lowered model, and what model_deploy makes of them."""

from __future__ import annotations

from pathlib import Path

import pytest
from kiln.calibration.mixed import parse_compare_layers
from kiln.calibration.qtable import read_qtable
from kiln.calibration.search_qtable import parse_methods
from kiln.calibration.table import read_table
from kiln.tools import model_deploy, run_calibration
from tool_case import assert_usage_error, cli, tiny_flow


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> tuple[Path, Path]:
    mlir, imgs, _ = tiny_flow(tmp_path_factory.mktemp("search"), table=None)
    return mlir, imgs


def search(tiny, tmp: Path, capsys, *extra) -> tuple[int, str]:
    mlir, imgs = tiny
    code, _, err = cli(run_calibration.run, [mlir, "--dataset", imgs, "-o", tmp / "cali",
                                             "--search", "search_qtable", "--inference_num",
                                             "4", "--quantize_table", tmp / "mix", *extra],
                       capsys)
    return code, err


def test_unreachable_goal_raises_the_worst_layers_within_the_limit(tiny, tmp_path, capsys):
    code, err = search(tiny, tmp_path, capsys, "--expected_cos", "0.9999999",
                       "--max_float_layers", "3")
    assert code == 0, err
    rows = read_qtable(tmp_path / "mix").modes
    assert 1 <= len(rows) <= 3 and set(rows.values()) <= {"INT16", "F16"}
    log = (tmp_path / "mix.log").read_text()
    # every quantized layer has its loss in the log, worst first
    table_part = log.split("# rank layer op cosine loss method\n", 1)[1]
    ranked = [line.split() for line in table_part.splitlines() if line]
    assert len(ranked) >= 8
    losses = [float(r[4]) for r in ranked]
    assert losses == sorted(losses, reverse=True)
    assert "all INT8: output similarity" in log
    # the ceiling of INT16 is measured first; a goal it cannot reach goes on to F16
    ceiling = float(log.split("quantized layers in INT16: output similarity ")[1].split()[0])
    if ceiling < 0.9999999:
        assert "INT16 cannot reach 0.9999999 even everywhere: trying F16" in log
        assert "layer(s) in F16" in log and "layer(s) in INT16" not in log
    else:
        assert "layer(s) in INT16" in log
    assert "int8 outputs_cos" in err and "mix model outputs_cos" in err
    # the qtable and table deploy; the mixed layers are 16-bit or half-float there
    out = tmp_path / "m.kmodel"
    code, _, err = cli(model_deploy.run, ["--mlir", tiny[0], "--quantize", "INT8",
                                          "--calibration_table", tmp_path / "cali",
                                          "--quantize_table", tmp_path / "mix", "--model",
                                          out, "--quiet"], capsys)
    assert code == 0, err
    text = (tmp_path / "m_npu.mlir").read_text()
    for layer, mode in rows.items():
        line = next(x for x in text.splitlines() if f'loc("{layer}")' in x and "=" in x)
        assert ("16:f32" in line) if mode == "INT16" else ('kiln.mode = "F16"' in line), line


def test_reachable_goal_writes_an_empty_qtable(tiny, tmp_path, capsys):
    code, err = search(tiny, tmp_path, capsys, "--expected_cos", "0.9")
    assert code == 0, err
    assert read_qtable(tmp_path / "mix").modes == {}
    assert "0 layer(s) above INT8" in err


def test_method_tuning_and_compare_layers_and_post_process(tiny, tmp_path, capsys):
    post = tmp_path / "post.py"
    post.write_text("import numpy as np\n\ndef PostProcess(outputs):\n"
                    "    return {'top': np.sort(outputs['logits'], axis=-1)[..., -3:]}\n")
    code, err = search(tiny, tmp_path, capsys, "--expected_cos", "0.9999999",
                       "--max_float_layers", "2", "--quantize_method_list", "KL,MSE,MAX",
                       "--post_process", post)
    assert code == 0, err
    assert "methods kl, mse, max" in err
    log = (tmp_path / "mix.log").read_text()
    assert "mse             threshold" in log and "keeping" in log
    assert read_table(tmp_path / "cali").method == "percentile9999"
    code, err = search(tiny, tmp_path, capsys, "--expected_cos", "0.9",
                       "--global_compare_layers", "res_add:0.3,logits:0.7")
    assert code == 0, err


@pytest.mark.parametrize("extra, fragment", [
    (["--quantize_method_list", "KL,FOO"], "unknown method 'FOO'"),
    (["--global_compare_layers", "nope"], "no layer named nope"),
    (["--mix_mode", "INT4"], "--mix_mode INT4"),
    (["--post_process", "missing.py"], "missing.py: no such file"),
    (["--expected_cos", "1.5"], "--expected_cos"),
])
def test_bad_search_options_are_one_message(extra, fragment, tiny, tmp_path, capsys):
    code, err = search(tiny, tmp_path, capsys, *extra)
    assert_usage_error(code, err, "run_calibration", fragment)


def test_option_parsers():
    assert parse_methods("KL, Percentile9999") == ["kl", "percentile9999"]
    assert parse_compare_layers("a:1,b:3") == {"a": 0.25, "b": 0.75}
    assert parse_compare_layers("a,b") == {"a": 0.5, "b": 0.5}
    with pytest.raises(ValueError):
        parse_compare_layers("a:x")
