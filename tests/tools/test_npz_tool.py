"""npz_tool compare / dump end to end, in-process through run(argv)."""

from __future__ import annotations

import numpy as np
import pytest
from kiln.compiler.fileio import save_npz
from kiln.tools import npz_tool
from tool_case import assert_usage_error, cli

PROG = "npz_tool"


@pytest.fixture
def dumps(tmp_path):
    rng = np.random.default_rng(0)
    ref = {"x": rng.standard_normal((2, 8)).astype(np.float32),
           "y": rng.standard_normal((4,)).astype(np.float32),
           "ids": np.arange(6, dtype=np.int64).reshape(2, 3),
           "only_ref": np.zeros(3, np.float32)}
    same = {k: v.copy() for k, v in ref.items() if k != "only_ref"}
    same["only_other"] = np.ones(2, np.float32)
    bad = dict(same)
    bad["y"] = -ref["y"]
    save_npz(tmp_path / "ref.npz", ref)
    save_npz(tmp_path / "same.npz", same)
    save_npz(tmp_path / "bad.npz", bad)
    save_npz(tmp_path / "shape.npz", {"x": ref["x"].reshape(4, 4)})
    save_npz(tmp_path / "unrelated.npz", {"z": np.zeros(1)})
    close = {k: v for k, v in same.items()}
    close["x"] = ref["x"] + np.float32(1e-3)
    save_npz(tmp_path / "close.npz", close)
    return tmp_path


def tool(capsys, *argv):
    return cli(npz_tool.run, list(argv), capsys)


def test_compare_equal_files(dumps, capsys):
    code, out, err = tool(capsys, "compare", dumps / "ref.npz", dumps / "same.npz")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split() == ["tensor", "cosine", "euclid", "max_abs", "sqnr_db", "result"]
    rows = {line.split()[0]: line.split() for line in lines[1:-1]}
    assert set(rows) == {"x", "y", "ids"}
    assert rows["x"][-1] == "equal" and rows["x"][-2] == "inf"
    assert "3 passed, 0 failed" in lines[-1]
    assert "1 only in the reference" in lines[-1] and "1 only in the other" in lines[-1]


def test_compare_close_files_reports_the_numbers(dumps, capsys):
    code, out, _ = tool(capsys, "compare", dumps / "ref.npz", dumps / "close.npz")
    assert code == 0
    row = next(line.split() for line in out.splitlines() if line.startswith("x "))
    assert row[-1] == "ok"
    assert float(row[1]) >= 0.99999 and 0.99 < float(row[2]) < 1.0
    assert abs(float(row[3]) - 1e-3) < 1e-5
    assert 40 < float(row[4]) < 80


def test_compare_below_tolerance_exits_1(dumps, capsys):
    code, out, err = tool(capsys, "compare", dumps / "ref.npz", dumps / "bad.npz")
    assert code == 1
    row = next(line.split() for line in out.splitlines() if line.startswith("y "))
    assert row[-1] == "FAIL" and float(row[1]) == pytest.approx(-1.0)
    assert "tensor 'y' is below tolerance: cosine -1.000000 < 0.99" in err
    assert "Traceback" not in err


def test_tolerance_and_excepts(dumps, capsys):
    args = ["compare", dumps / "ref.npz", dumps / "close.npz"]
    assert tool(capsys, *args, "--tolerance", "0.99,0.99999")[0] == 1
    assert tool(capsys, *args, "--tolerance", "0.99,0.99999", "--excepts", "x")[0] == 0
    assert tool(capsys, "compare", dumps / "ref.npz", dumps / "bad.npz", "--excepts",
                "y,nothing")[0] == 0


def test_verbose_shows_shapes_and_one_sided_names(dumps, capsys):
    code, out, _ = tool(capsys, "compare", dumps / "ref.npz", dumps / "same.npz", "-v")
    assert code == 0
    assert out.splitlines()[0].split()[:3] == ["tensor", "shape", "dtype"]
    assert "[2, 3]  int64" in out
    assert "only in the reference: only_ref" in out and "only in the other: only_other" in out


def test_shape_mismatch_fails(dumps, capsys):
    code, out, err = tool(capsys, "compare", dumps / "ref.npz", dumps / "shape.npz", "-v")
    assert code == 1
    assert "SHAPE" in out and "[2, 8]/[4, 4]" in out
    assert "shape (2, 8) vs (4, 4)" in err


@pytest.mark.parametrize("argv, fragment", [
    ([], "required"),
    (["frobnicate"], "invalid choice"),
    (["compare", "{d}/ref.npz"], "required"),
    (["compare", "{d}/ref.npz", "{d}/missing.npz"], "missing.npz: no such file"),
    (["compare", "{d}/ref.npz", "{d}/junk.npz"], "not a readable npz"),
    (["compare", "{d}/ref.npz", "{d}/unrelated.npz"], "no tensor name in common"),
    (["compare", "{d}/ref.npz", "{d}/same.npz", "--tolerance", "x"], "--tolerance"),
    (["compare", "{d}/ref.npz", "{d}/same.npz", "--tolerance", "1.5"], "--tolerance"),
    (["compare", "{d}/ref.npz", "{d}/same.npz", "--frob"], "unrecognized arguments"),
    (["dump", "{d}/ref.npz", "nope"], "no array named 'nope'"),
    (["dump", "{d}/missing.npz"], "no such file"),
])
def test_bad_input_is_one_message_and_exit_2(dumps, capsys, argv, fragment):
    (dumps / "junk.npz").write_bytes(b"not a zip file")
    code, _, err = tool(capsys, *[a.format(d=dumps) for a in argv])
    assert_usage_error(code, err, PROG, fragment)
    assert len(err.strip().splitlines()) == 1, err


def test_dump_lists_every_array(dumps, capsys):
    code, out, err = tool(capsys, "dump", dumps / "ref.npz")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split() == ["name", "shape", "dtype", "stats"]
    assert any(line.startswith("ids") and "[2, 3]" in line and "int64" in line
               and "min=0" in line and "max=5" in line for line in lines)
    assert lines[-1] == "4 array(s)"


def test_dump_one_array_prints_values(dumps, capsys):
    code, out, _ = tool(capsys, "dump", dumps / "ref.npz", "ids")
    assert code == 0
    assert out.splitlines()[0].startswith("ids: shape [2, 3] int64  min=0  max=5")
    assert "[[0 1 2]\n [3 4 5]]" in out


def test_help_exits_0(capsys):
    code, out, _ = tool(capsys, "--help")
    assert code == 0 and "compare" in out
