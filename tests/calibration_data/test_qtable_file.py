"""kiln.calibration.qtable: the qtable file, written deterministically, read with checks."""

from __future__ import annotations

import re

import pytest
from kiln.calibration.qtable import (
    SHAPE_SECTION,
    QTableError,
    format_qtable,
    normalize_mode,
    parse_qtable,
    read_qtable,
    write_qtable,
)
from kiln.compiler.errors import UserError

ROWS = {"/encoder/Softmax_output_0": "F16", "conv_out": "int16", "head": "INT4"}
SHAPE = ["/Cast_output_0", "/Mul_output_0"]
EXPECTED = """# op_name quantize_mode
# kiln qtable 1
/encoder/Softmax_output_0 F16
conv_out INT16
head INT4
# shape layers (computed exactly, never quantized)
/Cast_output_0 F32
/Mul_output_0 F32
"""


def test_write_is_deterministic_atomic_and_reads_back(tmp_path):
    path = tmp_path / "net_qtable"
    write_qtable(path, ROWS, SHAPE)
    assert path.read_text() == EXPECTED
    first = path.read_bytes()
    write_qtable(path, list(ROWS.items()), iter(SHAPE))
    assert path.read_bytes() == first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net_qtable"]  # no temporary left
    table = read_qtable(path, known_names=[*ROWS, *SHAPE, "other"])
    assert table.modes == {"/encoder/Softmax_output_0": "F16", "conv_out": "INT16",
                           "head": "INT4"}
    assert table.shape_layers == SHAPE and table.version == 1
    assert table.mode_of("conv_out") == "INT16" and table.mode_of("/Mul_output_0") == "F32"
    assert table.mode_of("other") is None
    assert table.where("/Cast_output_0") == f"{path}:7"


def test_no_shape_section_when_there_are_no_shape_layers():
    assert SHAPE_SECTION not in format_qtable({"a": "F32"})


def test_tpu_mlir_reads_every_line_as_a_comment_or_a_two_field_row():
    """TPU-MLIR's reader: a line matching `#.*` is skipped, else it must match `\\S+\\s+\\S+`
    and its mode be one it knows; the shape-layer rows are plain F32 rows to it."""
    modes = {}
    for line in EXPECTED.splitlines():
        if re.fullmatch(r"#.*", line):
            continue
        assert re.fullmatch(r"\S+\s+\S+", line), line
        name, mode = line.split()
        modes[name] = mode
    assert modes["/Mul_output_0"] == "F32" and len(modes) == 5


def test_a_tpu_mlir_table_reads(tmp_path):
    path = tmp_path / "yolo_qtable"
    path.write_text("# op_name quantize_mode\nconvolution_output10_Conv F16\r\n"
                    "model_1/leaky_re_lu_3/LeakyRelu:0_LeakyRelu  bf16\n\n")
    table = read_qtable(path)
    assert table.modes == {"convolution_output10_Conv": "F16",
                           "model_1/leaky_re_lu_3/LeakyRelu:0_LeakyRelu": "BF16"}
    assert table.version is None and table.shape_layers == []


@pytest.mark.parametrize("mode, normal", [
    ("int8", "INT8"), ("INT16", "INT16"), ("f16", "F16"), ("BF16", "BF16"), ("F32", "F32"),
    ("INT4", "INT4"), ("int12", "INT12"), ("INT3", None), ("INT17", None), ("INT08", None),
    ("F8E4M3", None), ("UINT8", None), ("W8F16", None), ("", None),
])
def test_modes(mode, normal):
    assert normalize_mode(mode) == normal


@pytest.mark.parametrize("text, message", [
    ("a INT8\nb FP8\n", r"q:2: unknown quantize mode 'FP8' for layer 'b' \(known: INT8"),
    ("a INT8\n# note\na F16\n", r"q:3: layer 'a' is listed twice \(first at line 1\)"),
    ("a INT8 extra\n", r"q:1: expected 'op_name MODE', got 3 field\(s\)"),
    ("lonely\n", r"q:1: expected 'op_name MODE', got 1 field"),
    (f"a INT8\n{SHAPE_SECTION}\nb INT8\n", r"q:3: shape layer 'b' must be F32"),
    (f"a F32\n{SHAPE_SECTION}\nb F32\n{SHAPE_SECTION}\n", r"q:4: the shape layers line appears"),
    (f"a F32\n{SHAPE_SECTION}\na F32\n", r"q:3: layer 'a' is listed twice"),
    ("# kiln qtable 2\na F32\n", r"q:1: qtable version 2 was written by a newer kiln"),
    ("# kiln qtable one\n", r"q:1: bad kiln qtable version 'one'"),
])
def test_every_bad_line_is_named(text, message):
    with pytest.raises(QTableError, match=message) as e:
        parse_qtable(text, "q")
    assert isinstance(e.value, UserError)


def test_unknown_layer_suggests_the_closest_name(tmp_path):
    path = tmp_path / "t"
    path.write_text("# op_name quantize_mode\n/layer1/conv F16\n/layer2/conv_out F16\n")
    with pytest.raises(QTableError, match=rf"{re.escape(str(path))}:3: the model has no layer "
                                          r"'/layer2/conv_out' \(did you mean '/layer2/conv'\?\)"):
        read_qtable(path, known_names=["/layer1/conv", "/layer2/conv", "/head"])
    with pytest.raises(QTableError, match=r"no layer 'zzz'$"):
        parse_qtable("zzz F16\n", "q", known_names=["/layer1/conv"])


def test_missing_file(tmp_path):
    with pytest.raises(QTableError, match="no such file"):
        read_qtable(tmp_path / "absent")


@pytest.mark.parametrize("rows, shape, message", [
    ({"a b": "F16"}, [], "cannot be written"),
    ({"#a": "F16"}, [], "cannot be written"),
    ({"a": "F64"}, [], "unknown quantize mode 'F64'"),
    ([("a", "F16"), ("a", "F32")], [], "given twice"),
    ({"a": "F16"}, ["a"], "given twice"),
])
def test_write_rejects_what_cannot_be_read_back(tmp_path, rows, shape, message):
    with pytest.raises(ValueError, match=message):
        write_qtable(tmp_path / "t", rows, shape)
    assert not (tmp_path / "t").exists()
