"""Little-endian primitives of the kmodel format: the writer, the bounds-checked reader, and the
encodings of types and attributes (see docs/kmodel.md for the byte layout).

Bulk data (DenseAttr contents) never goes inline: the writer hands the array to a `BufferPool`
and records the buffer's index, so every tensor payload of the file lands in the 64-byte
aligned data region.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

import numpy as np

from ..compiler.attributes import AttrValue, DenseAttr, EnumAttr, SymbolRef
from ..compiler.errors import UserError
from ..compiler.types import (
    CalibratedType,
    FunctionType,
    NoneType,
    ScalarType,
    TensorType,
    Type,
    UniformPerAxisType,
    UniformType,
)


class KModelError(UserError):
    """A kmodel cannot be written or read; the message names the file and the problem."""


# Element type codes: fixed by the format, independent of the order of compiler.types.
SCALAR_CODES: dict[str, int] = {
    "f64": 0, "f32": 1, "f16": 2, "bf16": 3, "i4": 4, "u4": 5, "i8": 6, "u8": 7,
    "i16": 8, "u16": 9, "i32": 10, "u32": 11, "i64": 12, "bool": 13,
    "i9": 14, "i10": 15, "i11": 16, "i12": 17,
}
_SCALAR_NAMES = {code: name for name, code in SCALAR_CODES.items()}

# type tags
T_NONE, T_SCALAR, T_TENSOR, T_FUNCTION, T_CALIBRATED, T_UNIFORM, T_PER_AXIS = range(7)
# attribute tags
(A_BOOL, A_INT, A_FLOAT, A_STRING, A_ARRAY, A_SYMBOL, A_ENUM, A_DENSE, A_TYPE,
 A_BIGINT) = range(10)

_I64_MIN, _I64_MAX = -(1 << 63), (1 << 63) - 1


def le_bytes(array: np.ndarray) -> bytes:
    """The raw C-order little-endian bytes of an array."""
    array = np.asarray(array)
    return np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<")).tobytes()


class BufferPool:
    """The arrays that go to the aligned data region, in the order they were added."""

    def __init__(self) -> None:
        self.blobs: list[bytes] = []

    def add(self, array: np.ndarray) -> int:
        self.blobs.append(le_bytes(array))
        return len(self.blobs) - 1


class Writer:
    def __init__(self, pool: BufferPool) -> None:
        self.parts: list[bytes] = []
        self.pool = pool

    def getvalue(self) -> bytes:
        return b"".join(self.parts)

    def u8(self, v: int) -> None:
        self.parts.append(struct.pack("<B", v))

    def u32(self, v: int) -> None:
        self.parts.append(struct.pack("<I", v))

    def i64(self, v: int) -> None:
        self.parts.append(struct.pack("<q", v))

    def u64(self, v: int) -> None:
        self.parts.append(struct.pack("<Q", v))

    def f32(self, v: float) -> None:
        self.parts.append(struct.pack("<f", v))

    def f64(self, v: float) -> None:
        self.parts.append(struct.pack("<d", v))

    def str(self, s: str) -> None:
        data = s.encode("utf-8", "surrogatepass")
        self.u32(len(data))
        self.parts.append(data)

    def opt_str(self, s: str | None) -> None:
        self.u8(0 if s is None else 1)
        if s is not None:
            self.str(s)

    def scalar(self, t: ScalarType) -> None:
        self.u8(SCALAR_CODES[t.name])

    def type(self, t: object) -> None:
        if isinstance(t, NoneType):
            self.u8(T_NONE)
        elif isinstance(t, ScalarType):
            self.u8(T_SCALAR)
            self.scalar(t)
        elif isinstance(t, TensorType):
            self.u8(T_TENSOR)
            self.u32(t.rank)
            for d in t.shape:
                self.i64(d)
            self.type(t.element)
        elif isinstance(t, FunctionType):
            self.u8(T_FUNCTION)
            for group in (t.inputs, t.results):
                self.u32(len(group))
                for item in group:
                    self.type(item)
        elif isinstance(t, CalibratedType):
            self.u8(T_CALIBRATED)
            self.scalar(t.expressed)
            self.f32(t.min)
            self.f32(t.max)
        elif isinstance(t, UniformType):
            self.u8(T_UNIFORM)
            self.scalar(t.storage)
            self.scalar(t.expressed)
            self.f32(t.scale)
            self.u8(0 if t.zero_point is None else 1)
            self.i64(t.zp)
        elif isinstance(t, UniformPerAxisType):
            self.u8(T_PER_AXIS)
            self.scalar(t.storage)
            self.scalar(t.expressed)
            self.u32(t.axis)
            self.u32(len(t.scales))
            self.parts.append(np.asarray(t.scales, dtype="<f4").tobytes())
            self.u8(0 if t.zero_points is None else 1)
            if t.zero_points is not None:
                self.parts.append(np.asarray(t.zero_points, dtype="<i8").tobytes())
        else:
            raise TypeError(f"cannot serialize type {t!r}")

    def attr(self, value: AttrValue) -> None:
        if isinstance(value, bool):
            self.u8(A_BOOL)
            self.u8(int(value))
        elif isinstance(value, int):
            if _I64_MIN <= value <= _I64_MAX:
                self.u8(A_INT)
                self.i64(value)
            else:  # Python ints are unbounded: two's complement, as few bytes as needed
                data = value.to_bytes((value.bit_length() + 8) // 8, "little", signed=True)
                self.u8(A_BIGINT)
                self.u32(len(data))
                self.parts.append(data)
        elif isinstance(value, float):
            self.u8(A_FLOAT)
            self.f64(value)
        elif isinstance(value, str):
            self.u8(A_STRING)
            self.str(value)
        elif isinstance(value, tuple):
            self.u8(A_ARRAY)
            self.u32(len(value))
            for item in value:
                self.attr(item)
        elif isinstance(value, SymbolRef):
            self.u8(A_SYMBOL)
            self.str(value.name)
        elif isinstance(value, EnumAttr):
            self.u8(A_ENUM)
            self.str(value.kind)
            self.str(value.value)
        elif isinstance(value, DenseAttr):
            self.u8(A_DENSE)
            self.type(value.type)
            self.u32(self.pool.add(value.array))
        else:
            self.u8(A_TYPE)
            self.type(value)

    def attr_dict(self, attrs: dict[str, AttrValue]) -> None:
        self.u32(len(attrs))
        for key, value in attrs.items():
            self.str(key)
            self.attr(value)


class Reader:
    """Reads the metadata block; every overrun or bad tag is a KModelError naming the file."""

    def __init__(self, data: bytes, where: str,
                 buffer: Callable[[int, TensorType], np.ndarray] | None = None) -> None:
        self.data = memoryview(data)
        self.pos = 0
        self.where = where
        self.buffer = buffer  # (buffer index, type) -> array, for dense attributes

    def fail(self, problem: str) -> KModelError:
        return KModelError(f"{self.where}: {problem} (metadata offset {self.pos})")

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise self.fail(f"metadata is truncated: needs {n} more bytes")
        out = bytes(self.data[self.pos:self.pos + n])
        self.pos += n
        return out

    def _unpack(self, fmt: str) -> int | float:
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))[0]

    def u8(self) -> int:
        return self._unpack("<B")

    def u32(self) -> int:
        return self._unpack("<I")

    def i64(self) -> int:
        return self._unpack("<q")

    def u64(self) -> int:
        return self._unpack("<Q")

    def f32(self) -> float:
        return self._unpack("<f")

    def f64(self) -> float:
        return self._unpack("<d")

    def str(self) -> str:
        raw = self.take(self.u32())
        try:
            return raw.decode("utf-8", "surrogatepass")
        except UnicodeDecodeError as e:
            raise self.fail(f"string is not valid UTF-8 ({e})") from None

    def opt_str(self) -> str | None:
        return self.str() if self.flag() else None

    def flag(self) -> bool:
        v = self.u8()
        if v > 1:
            raise self.fail(f"flag byte must be 0 or 1, got {v}")
        return bool(v)

    def scalar(self) -> ScalarType:
        code = self.u8()
        if code not in _SCALAR_NAMES:
            raise self.fail(f"unknown element type code {code}")
        return ScalarType(_SCALAR_NAMES[code])

    def type(self) -> Type:
        tag = self.u8()
        try:
            return self._type(tag)
        except ValueError as e:  # a type constructor rejected the decoded parameters
            raise self.fail(f"invalid type ({e})") from None

    def _type(self, tag: int):
        if tag == T_NONE:
            return NoneType()
        if tag == T_SCALAR:
            return self.scalar()
        if tag == T_TENSOR:
            shape = tuple(self.i64() for _ in range(self.u32()))
            element = self.type()
            if not isinstance(element, (ScalarType, CalibratedType, UniformType,
                                        UniformPerAxisType)):
                raise self.fail(f"tensor element type cannot be {element!r}")
            return TensorType(shape, element)
        if tag == T_FUNCTION:
            inputs = tuple(self.type() for _ in range(self.u32()))
            results = tuple(self.type() for _ in range(self.u32()))
            return FunctionType(inputs, results)
        if tag == T_CALIBRATED:
            return CalibratedType(self.scalar(), self.f32(), self.f32())
        if tag == T_UNIFORM:
            storage, expressed, scale = self.scalar(), self.scalar(), self.f32()
            has_zp, zp = self.flag(), self.i64()
            return UniformType(storage, expressed, scale, zp if has_zp else None)
        if tag == T_PER_AXIS:
            storage, expressed, axis, n = self.scalar(), self.scalar(), self.u32(), self.u32()
            scales = tuple(float(s) for s in np.frombuffer(self.take(4 * n), dtype="<f4"))
            zps = None
            if self.flag():
                zps = tuple(int(z) for z in np.frombuffer(self.take(8 * n), dtype="<i8"))
            return UniformPerAxisType(storage, expressed, axis, scales, zps)
        raise self.fail(f"unknown type tag {tag}")

    def attr(self) -> AttrValue:
        tag = self.u8()
        if tag == A_BOOL:
            return self.flag()
        if tag == A_INT:
            return self.i64()
        if tag == A_BIGINT:
            return int.from_bytes(self.take(self.u32()), "little", signed=True)
        if tag == A_FLOAT:
            return self.f64()
        if tag == A_STRING:
            return self.str()
        if tag == A_ARRAY:
            return tuple(self.attr() for _ in range(self.u32()))
        if tag == A_SYMBOL:
            return SymbolRef(self.str())
        if tag == A_ENUM:
            return EnumAttr(self.str(), self.str())
        if tag == A_DENSE:
            t = self.type()
            if not isinstance(t, TensorType) or not isinstance(t.element, ScalarType):
                raise self.fail(f"dense attribute needs a plain tensor type, got {t!r}")
            index = self.u32()
            if self.buffer is None:
                raise self.fail("dense attribute outside a module")
            return DenseAttr(self.buffer(index, t), t)
        if tag == A_TYPE:
            return self.type()
        raise self.fail(f"unknown attribute tag {tag}")

    def attr_dict(self) -> dict[str, AttrValue]:
        out: dict[str, AttrValue] = {}
        for _ in range(self.u32()):
            key = self.str()
            out[key] = self.attr()
        return out
