"""The kmodel format: exact round trips (random modules, a real model run bit-identically),
determinism, alignment, and clear errors for damaged files."""

from __future__ import annotations

import math
import struct
import sys
import zlib
from pathlib import Path

import kiln.dialects  # noqa: F401
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from kiln.codegen.binary import KModelError
from kiln.codegen.kmodel import (
    ALIGN,
    HEADER_SIZE,
    MAGIC,
    kmodel_bytes,
    parse_kmodel,
    read_kmodel,
    read_kmodel_target,
    write_kmodel,
)
from kiln.compiler.attributes import DenseAttr, EnumAttr, SymbolRef
from kiln.compiler.errors import UserError
from kiln.compiler.interpreter import random_inputs, run_module
from kiln.compiler.ir import Function, Module, Operation
from kiln.compiler.text.parser import parse_module
from kiln.compiler.text.printer import print_module
from kiln.compiler.types import (
    F32,
    FunctionType,
    NoneType,
    ScalarType,
    TensorType,
    UniformPerAxisType,
    UniformType,
)
from kiln.compiler.weights import WeightStore

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "ir"))
from strategies import modules  # noqa: E402


def same_attr(a, b) -> bool:
    """Equal, with floats compared bit for bit (sign of zero, NaN payloads)."""
    if isinstance(a, float) and isinstance(b, float):
        return struct.pack("<d", a) == struct.pack("<d", b)
    if isinstance(a, tuple) and isinstance(b, tuple):
        return len(a) == len(b) and all(same_attr(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


def same_dict(a: dict, b: dict) -> bool:
    return list(a) == list(b) and all(same_attr(a[k], b[k]) for k in a)


def roundtrip(module: Module) -> Module:
    return parse_kmodel(kmodel_bytes(module))[1]


# -- round trips ------------------------------------------------------------------------------
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(modules())
def test_random_module_roundtrip(module):
    data = kmodel_bytes(module)
    back = parse_kmodel(data)[1]
    assert print_module(back) == print_module(module)
    assert print_module(back, generic=True) == print_module(module, generic=True)
    assert same_dict(back.attributes, module.attributes)
    for f0, f1 in zip(module.functions, back.functions, strict=True):
        assert same_dict(f0.attributes, f1.attributes)
        assert all(same_dict(a, b) for a, b in zip(f0.arg_attributes, f1.arg_attributes))
        for op0, op1 in zip(f0.body, f1.body, strict=True):
            assert op0.loc == op1.loc and same_dict(op0.attributes, op1.attributes)
    assert kmodel_bytes(back) == data  # nothing is lost: writing again gives the same bytes


def _attr_module() -> Module:
    """One op carrying every attribute kind, including values text cannot spell easily."""
    nan = struct.unpack("<d", struct.pack("<Q", 0x7FF8_0000_DEAD_BEEF))[0]
    per_axis = UniformPerAxisType(ScalarType("i8"), F32, 0, (0.5, 0.25), (1, -2))
    attrs = {
        "b": True, "i": -(2**63), "big": 3**90, "neg_big": -(2**100), "f": 0.1,
        "neg_zero": -0.0, "inf": -math.inf, "nan": nan, "s": "é\n\"x\"", "empty": "",
        "arr": (1, (2.5, "x"), ()), "sym": SymbolRef("model.0.weight"),
        "enum": EnumAttr("round_mode", "half_even"),
        "dense_f16": DenseAttr(np.array([[1.5, -0.0], [65504, np.inf]], np.float16)),
        "dense_bool": DenseAttr(np.array([True, False, True])),
        "dense_bf16": DenseAttr(np.array([1.0, -2.5], np.float32),
                                TensorType((2,), ScalarType("bf16"))),
        "dense_i4": DenseAttr(np.array([-8, 7], np.int8), TensorType((2,), ScalarType("i4"))),
        "dense_empty": DenseAttr(np.zeros((0, 3), np.int64)),
        "dense_scalar": DenseAttr(np.array(7, np.uint32)),
        "t_scalar": ScalarType("u16"), "t_none": NoneType(),
        "t_tensor": TensorType((-1, 2), per_axis),
        "t_func": FunctionType((TensorType((1,), F32), NoneType()), (ScalarType("i64"),)),
    }
    module = Module("m", {"kiln.weights": "w.npz"})
    t = TensorType((2, 3), UniformType(ScalarType("u8"), F32, 0.02, 128))
    func = Function("main", [t, NoneType()], [t], ["x", None], {"kiln.outputs": ("y",)},
                    [{"kiln.name": "input:0"}, {}])
    op = func.body.append(Operation.create("test.all", [func.arguments[0]], [t], attrs, "l0"))
    func.body.append(Operation.create("func.return", [op.results[0]]))
    module.add_function(func)
    return module


def test_every_attribute_kind_exact():
    module = _attr_module()
    back = roundtrip(module)
    op0 = next(iter(module.functions[0].body))
    op1 = next(iter(back.functions[0].body))
    assert same_dict(op0.attributes, op1.attributes)
    assert op1.attributes["dense_bf16"].array.dtype == op0.attributes["dense_bf16"].array.dtype
    assert back.functions[0].arg_attributes == [{"kiln.name": "input:0"}, {}]
    assert back.functions[0].attributes == {"kiln.outputs": ("y",)}
    assert [a.name_hint for a in back.functions[0].arguments] == ["x", None]
    assert print_module(back) == print_module(module)


def test_data_is_aligned_and_output_deterministic(tmp_path):
    module = _attr_module()
    a, b = tmp_path / "a.kmodel", tmp_path / "b.kmodel"
    write_kmodel(module, a)
    write_kmodel(roundtrip(module), b)
    assert a.read_bytes() == b.read_bytes()
    data = a.read_bytes()
    assert data[:8] == MAGIC and read_kmodel_target(a) == "int8-sym"
    payload = data[HEADER_SIZE:]
    (meta_len,) = struct.unpack_from("<Q", payload)
    (count,) = struct.unpack_from("<I", payload, 8)
    assert count == 6  # the six dense attributes
    data_start = -(-(8 + meta_len) // ALIGN) * ALIGN
    for k in range(count):
        offset, nbytes = struct.unpack_from("<QQ", payload, 12 + 16 * k)
        assert offset % ALIGN == 0 and (HEADER_SIZE + data_start + offset) % ALIGN == 0
        assert data_start + offset + nbytes <= len(payload)
    assert data_start + offset + nbytes == len(payload)  # nothing after the last buffer


def test_weights_travel_with_the_module():
    text = """
    module attributes {kiln.weights = "missing.npz"} {
      func.func @main(%x: tensor<2x2xf32>) -> tensor<2x2xf32> {
        %w = top.weight @"w.0" : tensor<2x2xf32> loc("w0")
        %y = top.add %x, %w : (tensor<2x2xf32>, tensor<2x2xf32>) -> tensor<2x2xf32> loc("y")
        return %y : tensor<2x2xf32>
      }
    }"""
    module = parse_module(text)
    module.weights = WeightStore()
    module.weights.add("w.0", np.arange(4, dtype=np.float32).reshape(2, 2) / 3)
    module.weights.add("unused", np.zeros(3, np.float32))
    back = roundtrip(module)
    assert back.weights.names() == ["w.0"] and not back.weights.dirty
    x = {"x": np.ones((2, 2), np.float32)}
    assert run_module(back, x)["y"].tobytes() == run_module(module, x)["y"].tobytes()


def test_imported_model_runs_bit_identically(tmp_path):
    from kiln.frontend.onnx.importer import import_onnx

    module = import_onnx(ROOT / "examples" / "tiny_cnn.onnx")
    path = tmp_path / "tiny.kmodel"
    write_kmodel(module, path, target_name="int8-asym")
    back = read_kmodel(path)
    assert read_kmodel_target(path) == "int8-asym"
    assert print_module(back) == print_module(module)
    inputs = random_inputs(module.main, seed=3)
    expected, actual = run_module(module, inputs), run_module(back, inputs)
    assert list(expected) == list(actual)
    for name in expected:
        assert expected[name].dtype == actual[name].dtype
        assert expected[name].tobytes() == actual[name].tobytes()
    write_kmodel(back, tmp_path / "again.kmodel", target_name="int8-asym")
    assert (tmp_path / "again.kmodel").read_bytes() == path.read_bytes()


# -- errors -----------------------------------------------------------------------------------
@pytest.fixture
def good(tmp_path) -> tuple[Path, bytes]:
    path = tmp_path / "m.kmodel"
    write_kmodel(_attr_module(), path)
    return path, path.read_bytes()


def _expect(path: Path, data: bytes, problem: str) -> None:
    path.write_bytes(data)
    with pytest.raises(KModelError, match=problem) as info:
        read_kmodel(path)
    assert isinstance(info.value, UserError)
    assert str(info.value).startswith(f"{path}: ")


def test_truncated_file(good):
    path, data = good
    _expect(path, data[:-1], "truncated: the header announces a payload of")
    _expect(path, data[:HEADER_SIZE + 10], "truncated")
    _expect(path, data[:20], "truncated: 20 bytes, shorter than the 64-byte header")
    _expect(path, b"", "truncated")


def test_corrupted_payload(good):
    path, data = good
    damaged = bytearray(data)
    damaged[HEADER_SIZE + 40] ^= 0x10
    _expect(path, bytes(damaged), "payload is corrupted: CRC32 is 0x[0-9a-f]{8}, the header")
    _expect(path, data + b"\0", "1 unexpected bytes after the payload")


def test_wrong_magic(good):
    path, data = good
    _expect(path, b"PK\x03\x04" + data[4:], "not a kmodel file \\(wrong magic")
    _expect(path, b"hello", "wrong magic")


def test_unsupported_version(good):
    path, data = good
    _expect(path, data[:8] + struct.pack("<I", 99) + data[12:],
            "unsupported kmodel format version 99 \\(this kiln reads version 1\\)")


def test_bad_metadata_behind_a_valid_checksum(good):
    """A writer bug (valid CRC, broken content) still gives a KModelError, not a crash."""
    path, data = good
    payload = bytearray(data[HEADER_SIZE:])
    (meta_len,) = struct.unpack_from("<Q", payload)
    payload[8 + meta_len - 1] = 0xFF  # the last byte: the op count of ... or a tag
    payload[:8] = struct.pack("<Q", meta_len - 3)  # and cut the metadata short
    header = bytearray(data[:HEADER_SIZE])
    struct.pack_into("<I", header, 56, zlib.crc32(bytes(payload)))
    _expect(path, bytes(header) + bytes(payload), "metadata")


def test_missing_file_and_bad_target(tmp_path):
    with pytest.raises(KModelError, match="no such file"):
        read_kmodel(tmp_path / "nope.kmodel")
    with pytest.raises(KModelError, match="target name"):
        kmodel_bytes(_attr_module(), "x" * 33)
