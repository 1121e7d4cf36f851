"""The calibration table: TPU-MLIR's format, exact round trips, a file:line for every error."""

import re
from pathlib import Path

import pytest
from kiln.calibration.table import (
    CalibrationEntry,
    CalibrationTable,
    CalibrationTableError,
    format_table,
    read_table,
    write_table,
)
from kiln.compiler.errors import UserError

DATA = Path(__file__).parent / "data"
# The row pattern of TPU-MLIR's ImportCalibrationTable pass (std::regex_match: whole line).
TPU_MLIR_ROW = re.compile(r"\S+\s+[-0-9.e]+\s+[-0-9.e]+\s+[-0-9.e]+")


def sample_table() -> CalibrationTable:
    t = CalibrationTable(method="kl", histogram_bins=2048, samples=100,
                         mlir="yolo_we.mlir", weights="yolo_we_weights.npz")
    t.add("images", 1.0, 0.0, 1.0)
    t.add("/model.0/conv/Conv_output_0", 1 / 3, -0.1, 2 / 3)
    t.add("onnx::Mul_123:0", 1e-7, -1e-7, 0.0)
    t.add("big.value", 1e16, -2.5e20, 1e16)
    t.add("neg_zero", 0.1 + 0.2, -0.0, 0.30000000000000004)
    t.add("tiny", 5e-324, -5e-324, 5e-324)
    return t


def test_round_trip_is_exact_and_bytes_identical(tmp_path):
    t = sample_table()
    t.int4_entries["images"] = CalibrationEntry(0.875, -1.0, 0.875)
    t.fp8_entries["fp8:0"] = CalibrationEntry(448.0, -448.0, 448.0)
    t.weight_scales["/model.0/conv/Conv_weight"] = (0.5, 0.25, 1e-9)
    t.asym_ops.append("/model.0/conv/Conv_output_0")
    t.int4_ops.append("images")
    path = tmp_path / "cali_table"
    write_table(path, t)
    back = read_table(path)
    assert back == t
    assert back["onnx::Mul_123:0"].threshold == 1e-7
    assert back["big.value"].min == -2.5e20
    assert str(back["neg_zero"].min) == "-0.0"
    path2 = tmp_path / "again"
    write_table(path2, back)
    assert path2.read_bytes() == path.read_bytes()
    write_table(path2, t)
    assert path2.read_bytes() == path.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["again", "cali_table"]


def test_written_format(tmp_path):
    t = sample_table()
    t.generated = "2026-01-02 03:04:05"
    text = format_table(t)
    lines = text.splitlines()
    assert lines[:10] == [
        "# kiln calibration table v1",
        "# generated time: 2026-01-02 03:04:05",
        "# quantization threshold calculation method: kl",
        "# histogram number: 2048",
        "# sample number: 100",
        "# kiln.mlir yolo_we.mlir",
        "# kiln.weights yolo_we_weights.npz",
        "###",
        "# op_name    threshold    min    max",
        "images 1.0 0.0 1.0",
    ]
    assert "big.value 1e16 -2.5e20 1e16" in lines
    rows = [line for line in lines if not line.startswith("#")]
    assert len(rows) == len(t) and all(TPU_MLIR_ROW.fullmatch(r) for r in rows)
    assert text.endswith("\n") and "\r" not in text
    # Without a time and extras, the header is the version line and TPU-MLIR's two lines.
    bare = CalibrationTable()
    bare.add("x", 2.0, -1.0, 2.0)
    assert format_table(bare) == ("# kiln calibration table v1\n###\n"
                                  "# op_name    threshold    min    max\nx 2.0 -1.0 2.0\n")


def test_tpu_mlir_table_reads():
    path = DATA / "tpu_mlir_cali_table"
    t = read_table(path)
    assert (t.method, t.histogram_bins, t.samples) == ("kl", 2048, 100)
    assert t.generated == "2024-07-20 15:32:08.194813"
    assert t.mlir is None and t.weights is None
    assert len(t) == 18 and t.names()[0] == "images"
    assert t["/model.0/conv/Conv_output_0_Conv"] == \
        CalibrationEntry(22.1834469, -41.0673599, 37.2513161)
    assert t["onnx::Reshape_326_Reshape"].max == 10.123
    assert t["output0:0_Concat"].threshold == 640.0022583
    assert t["/model.24/m.2/Conv_output_0_Conv"].threshold == 1e-5
    assert not (t.int4_entries or t.fp8_entries or t.weight_scales or t.asym_ops)
    # Every row of TPU-MLIR's file is a row TPU-MLIR's own pattern accepts.
    rows = [line for line in path.read_text().splitlines() if line and line[0] != "#"]
    assert len(rows) == len(t) and all(TPU_MLIR_ROW.fullmatch(r) for r in rows)
    # Checked against the network's names: all known.
    assert read_table(path, known_names=t.names() + ["other"]) == t


def test_tpu_mlir_sections_read_and_write_back(tmp_path):
    t = read_table(DATA / "tpu_mlir_cali_table_sections")
    assert t.method == "mse" and len(t) == 4
    assert t.int4_entries == {
        "input": CalibrationEntry(2.1044307, -2.4050637, 2.1044307),
        "/conv1/Conv_output_0_Conv": CalibrationEntry(5.9912424, -6.8471341, 5.9912424),
    }
    assert t.asym_ops == ["/relu/Relu_output_0_Relu"]
    write_table(tmp_path / "t", t)
    text = (tmp_path / "t").read_text()
    assert "Conv 5.3391118 -9.8813086 6.0719042\n#int4_th\ninput 2.1044307 -2.4050637 " \
        "2.1044307\n" in text
    assert text.endswith("5.9912424\n#asym_op\n/relu/Relu_output_0_Relu\n")
    assert "\n\n" not in text
    assert read_table(tmp_path / "t") == t


def test_other_tpu_mlir_sections(tmp_path):
    path = tmp_path / "t"
    path.write_text("# op_name    threshold    min    max\r\n"
                    "a 1.0 -1.0 1.0\r\n"
                    "#tpu-mlir-fp8 caliration table\r\n"
                    "a 2.0 -2.0 2.0\r\n"
                    "#weight_scale\r\n"
                    "conv_weight 3 0.1 0.2 0.3\r\n"
                    "empty_weight 0\r\n"
                    "#int4_op\r\n"
                    "a\r\n")
    t = read_table(path)
    assert t["a"].threshold == 1.0 and t.fp8_entries["a"].threshold == 2.0
    assert t.weight_scales == {"conv_weight": (0.1, 0.2, 0.3), "empty_weight": ()}
    assert t.int4_ops == ["a"]


def test_replacement_files(tmp_path):
    t = sample_table()
    t.weights = "/abs/w.npz"
    mlir, weights = t.replacement_files(tmp_path / "sub" / "cali_table")
    assert mlir == tmp_path / "sub" / "yolo_we.mlir"
    assert weights == Path("/abs/w.npz")
    assert CalibrationTable().replacement_files("x") == (None, None)


def test_add_and_write_refuse_bad_values(tmp_path):
    t = CalibrationTable()
    for args, match in ((("a b", 1.0, 0.0, 1.0), "name"), (("#a", 1.0, 0.0, 1.0), "name"),
                        (("", 1.0, 0.0, 1.0), "name"), (("a", -1.0, 0.0, 1.0), "positive"),
                        (("a", 0.0, 0.0, 1.0), "positive"), (("a", float("nan"), 0, 1), "NaN"),
                        (("a", 1.0, 2.0, 1.0), "min 2.0 > max 1.0"),
                        (("a", 1.0, float("-inf"), 1.0), "finite")):
        with pytest.raises(ValueError, match=match):
            t.add(*args)
    t.entries["bad"] = CalibrationEntry(float("inf"), 0.0, 1.0)
    with pytest.raises(ValueError, match="positive"):
        write_table(tmp_path / "t", t)
    assert not (tmp_path / "t").exists()


@pytest.mark.parametrize("field", ["mlir", "weights", "generated", "method"])
def test_header_values_that_tpu_mlir_would_misread(tmp_path, field):
    t = sample_table()
    setattr(t, field, "model_asym_op.mlir")
    with pytest.raises(CalibrationTableError, match="section"):
        write_table(tmp_path / "t", t)
    setattr(t, field, "two\nlines")
    with pytest.raises(CalibrationTableError, match="several lines"):
        write_table(tmp_path / "t", t)


HEADER = "# kiln calibration table v1\n###\n# op_name    threshold    min    max\n"
BAD_TABLES = [
    # (body after the 3 header lines, line of the error, message part)
    ("a 1.0 -1.0\n", 4, "expected 'name threshold min max', got 3 fields: 'a 1.0 -1.0'"),
    ("a 1.0 -1.0 1.0 7\n", 4, "got 5 fields"),
    ("a 1.0 -1.0 1.0\nb 1.0 abc 2.0\n", 5, "min 'abc' is not a number"),
    ("b 1,5 -1.0 2.0\n", 4, "threshold '1,5' is not a number"),
    ("b 1_0 -1.0 2.0\n", 4, "threshold '1_0' is not a number"),
    ("a 1.0 -1.0 1.0\n\nb -2.0 -1.0 2.0\n", 6, "'b': threshold -2.0 is not a positive number"),
    ("b 0 -1.0 2.0\n", 4, "'b': threshold 0.0 is not a positive number"),
    ("b nan -1.0 2.0\n", 4, "'b': threshold is NaN"),
    ("b inf -1.0 2.0\n", 4, "'b': threshold inf is not a positive number"),
    ("b 1.0 -inf 2.0\n", 4, "'b': min -inf is not a finite number"),
    ("b 1.0 3.0 2.0\n", 4, "'b': min 3.0 > max 2.0"),
    ("a 1.0 -1.0 1.0\nb 1 0 1\na 2.0 -1.0 1.0\n", 6, "duplicate name 'a' (first at line 4)"),
    ("a 1.0 -1.0 1.0\n#int4_th\na 1.0 -1.0 1.0\na 1.0 -1.0 1.0\n", 7,
     "duplicate name 'a' in the int4 section (first at line 6)"),
    ("#weight_scale\nw 3 0.1 0.2\n", 5, "'w' announces 3 weight scales but has 2"),
    ("#weight_scale\nw x 0.1\n", 5, "expected 'name N scale1 ... scaleN'"),
    ("#weight_scale\nw 1 nan\n", 5, "weight scales of 'w' are not all finite"),
    ("#asym_op\nconv 1.0\n", 5, "expected one op name in the #asym_op section, got 2 fields"),
    ("# kiln.bias_table x\n", 4, "unknown kiln header 'kiln.bias_table'"),
    ("# kiln.mlir\n", 4, "kiln.mlir names no file"),
    ("# kiln.mlir a.mlir\n# kiln.mlir b.mlir\n", 5, "kiln.mlir given twice (first at line 4)"),
]


@pytest.mark.parametrize("body,line,message", BAD_TABLES)
def test_errors_name_file_and_line(tmp_path, body, line, message):
    path = tmp_path / "cali_table"
    path.write_text(HEADER + body)
    with pytest.raises(CalibrationTableError) as info:
        read_table(path)
    assert str(info.value).startswith(f"{path}:{line}: ")
    assert message in str(info.value)


def test_version_lines(tmp_path):
    path = tmp_path / "t"
    path.write_text("# kiln calibration table v2\n###\n")
    with pytest.raises(CalibrationTableError, match=r":1: table version 2 is newer"):
        read_table(path)
    path.write_text("x 1.0 -1.0 1.0\n# kiln calibration table vX\n")
    with pytest.raises(CalibrationTableError, match=r":2: malformed version line"):
        read_table(path)


def test_unknown_names(tmp_path):
    path = tmp_path / "t"
    path.write_text(HEADER + "/model.0/conv/Conv_output_0 1.0 -1.0 1.0\n"
                             "/model.0/conv/Conv_output_1 1.0 -1.0 1.0\n")
    known = ["/model.0/conv/Conv_output_0", "/model.0/act/Mul_output_0", "/model.1/conv"]
    with pytest.raises(CalibrationTableError) as info:
        read_table(path, known_names=known)
    assert str(info.value) == (
        f"{path}:5: unknown layer '/model.0/conv/Conv_output_1' (no tensor of that name); "
        "did you mean '/model.0/conv/Conv_output_0'?")
    with pytest.raises(CalibrationTableError) as info:
        read_table(path, known_names=["zzz"])
    assert str(info.value) == f"{path}:4: unknown layer '/model.0/conv/Conv_output_0' " \
                              "(no tensor of that name)"
    path.write_text("#asym_op\nrelu9\n")
    with pytest.raises(CalibrationTableError, match=r":2: unknown layer 'relu9'.*'relu1'"):
        read_table(path, known_names=["relu1"])


def test_unreadable_files(tmp_path):
    with pytest.raises(CalibrationTableError, match=r"missing: no such file$"):
        read_table(tmp_path / "missing")
    path = tmp_path / "latin1"
    path.write_bytes(b"# header\na 1.0 -1.0 1.0\nb\xe9 1.0 -1.0 1.0\n")
    with pytest.raises(CalibrationTableError, match=r"latin1:3: not UTF-8 text"):
        read_table(path)
    with pytest.raises(CalibrationTableError, match="cannot be read"):
        read_table(tmp_path)  # a folder


def test_error_is_a_user_error():
    assert issubclass(CalibrationTableError, UserError)
