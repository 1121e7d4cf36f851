"""run_qtable and run_sensitive_layer end to end on the tiny CNN: the qtable, the loss table /
new calibration table and the log they write, and their bad-input messages."""

from __future__ import annotations

from pathlib import Path

import pytest
from kiln.calibration.qtable import read_qtable
from kiln.calibration.table import read_table
from kiln.tools import run_qtable, run_sensitive_layer
from tool_case import assert_usage_error, cli, tiny_flow


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> tuple[Path, Path, Path]:
    return tiny_flow(tmp_path_factory.mktemp("rq"), table="cali")


def test_run_qtable_moves_layers_below_min_layer_cos(tiny, tmp_path, capsys):
    mlir, imgs, table = tiny
    code, _, err = cli(run_qtable.run, [mlir, "--dataset", imgs, "--calibration_table", table,
                                        "--expected_cos", "0.9999999", "--min_layer_cos",
                                        "0.99999", "-o", tmp_path / "q"], capsys)
    assert code == 0, err
    rows = read_qtable(tmp_path / "q").modes
    assert set(rows.values()) <= {"F16"}  # the best prefix of the walk (maybe none)
    loss = (tmp_path / "full_loss_table.txt").read_text().splitlines()
    assert loss[0] == "# platform: int8-sym mix_mode: F16"
    cos = [float(x.rsplit(" ", 1)[1]) for x in loss[2:]]
    assert len(cos) >= 8 and cos == sorted(cos)  # worst first
    log = (tmp_path / "q.log").read_text()
    assert "-> F16: output similarity" in log  # the walk moved layers below 0.99999
    assert all(f"{layer} (cosine" in log for layer in rows)
    assert "int8 outputs_cos" in err and "mix model outputs_cos" in err
    # the table's rounded weights are what model_deploy deploys: the search runs on them
    assert f"{table} was made on {table}.mlir: searching on that IR" in err


def test_a_table_without_its_ir_is_a_usage_error(tiny, tmp_path, capsys):
    mlir, imgs, table = tiny
    lone = tmp_path / "cali"
    lone.write_bytes(table.read_bytes())  # the IR of its rounded weights left behind
    code, _, err = cli(run_qtable.run, [mlir, "--dataset", imgs, "--calibration_table", lone,
                                        "-o", tmp_path / "q"], capsys)
    assert_usage_error(code, err, "run_qtable", "names the IR cali.mlir")


def test_run_qtable_stops_when_the_goal_is_met(tiny, tmp_path, capsys):
    mlir, imgs, table = tiny
    code, _, err = cli(run_qtable.run, [mlir, "--dataset", imgs, "--calibration_table", table,
                                        "--expected_cos", "0.9", "-o", tmp_path / "q",
                                        "--mix_mode", "INT16"], capsys)
    assert code == 0, err
    assert read_qtable(tmp_path / "q").modes == {}


def test_run_sensitive_layer_ranks_candidates_and_writes_best_thresholds(tiny, tmp_path,
                                                                          capsys):
    mlir, imgs, table = tiny
    code, _, err = cli(run_sensitive_layer.run, [
        mlir, "--dataset", imgs, "--calibration_table", table, "--max_float_layers", "2",
        "--candidates", "4", "--quantize_method_list", "KL,MAX", "-o", tmp_path / "s"],
        capsys)
    assert code == 0, err
    rows = read_qtable(tmp_path / "s").modes
    assert len(rows) == 2
    assert "is 0 sensitive layer, loss is" in err
    new = read_table(tmp_path / "new_cali_table.txt")
    old = read_table(table)
    assert set(new.names()) == set(old.names())
    log = (tmp_path / "s.log").read_text()
    assert "kl " in log and "max " in log and "only this layer INT8" in log


@pytest.mark.parametrize("tool, extra, fragment", [
    (run_qtable, ["--expected_cos", "2"], "--expected_cos"),
    (run_qtable, ["--mix_mode", "INT4"], "--mix_mode INT4"),
    (run_sensitive_layer, ["--quantize_method_list", "NOPE"], "unknown method 'NOPE'"),
])
def test_bad_input_is_one_message(tool, extra, fragment, tiny, tmp_path, capsys):
    mlir, imgs, table = tiny
    code, _, err = cli(tool.run, [mlir, "--dataset", imgs, "--calibration_table", table,
                                  "-o", tmp_path / "q", *extra], capsys)
    assert_usage_error(code, err, tool.PROG, fragment)
