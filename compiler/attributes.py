"""Attribute values of the kiln IR.

Attributes are typed values, never a bag of strings. Plain Python immutables carry the common
kinds, and small frozen classes carry the rest:

    bool   true / false                 int    3, -1            float  0.5, 1e-05, inf, nan
    str    "text"                       tuple  [1, 2, 3] (an array of any attributes)
    SymbolRef  @"model.0.weight"        EnumAttr   #round_mode<half_even>
    DenseAttr  dense<[1, 2]> : tensor<2xi64>      a type     f16, tensor<2xf32>

`bool` is tested before `int` everywhere, since Python's bool is an int.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .types import FunctionType, NoneType, ScalarType, TensorType, scalar_type_of


@dataclass(frozen=True)
class SymbolRef:
    """A reference by name to a symbol: a weight in the module's npz file, a function."""

    name: str


@dataclass(frozen=True)
class EnumAttr:
    """A value of a named enumeration, `#kind<value>`, e.g. `#resize_mode<linear>`."""

    kind: str
    value: str


class DenseAttr:
    """An inline constant tensor: `dense<[[1, 2], [3, 4]]> : tensor<2x2xi32>`.

    The array is stored read-only in the numpy dtype of the type's element type; equality and
    hashing go by type and bytes, so identical constants are merged by CSE.
    """

    __slots__ = ("_hash", "array", "type")

    def __init__(self, array: np.ndarray, type: TensorType | None = None) -> None:
        array = np.asarray(array)
        if type is None:
            type = TensorType(array.shape, scalar_type_of(array.dtype))
        if not isinstance(type.element, ScalarType):
            raise ValueError("dense constants must have a plain element type")
        if tuple(array.shape) != type.shape:
            if array.size == type.num_elements:
                array = array.reshape(type.shape)
            elif array.ndim == 0 or array.size == 1:  # a splat
                array = np.broadcast_to(array.reshape(()), type.shape)
            else:
                raise ValueError(
                    f"dense constant has {array.size} elements but type {type.shape} "
                    f"needs {type.num_elements}")
        array = np.array(array, dtype=type.scalar.numpy_dtype, copy=True)
        array.flags.writeable = False
        self.type = type
        self.array = array
        self._hash: int | None = None

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, DenseAttr) and self.type == other.type
                and self.array.tobytes() == other.array.tobytes())

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash((self.type, self.array.tobytes()))
        return self._hash

    def __repr__(self) -> str:
        return f"DenseAttr({self.array!r}, {self.type!r})"


AttrValue = Any  # bool | int | float | str | tuple | SymbolRef | EnumAttr | DenseAttr | a type

_TYPE_CLASSES = (TensorType, ScalarType, NoneType, FunctionType)
_KINDS = ((bool, "bool"), (int, "int"), (float, "float"), (str, "string"), (tuple, "array"),
          (SymbolRef, "symbol"), (EnumAttr, "enum"), (DenseAttr, "dense"),
          (_TYPE_CLASSES, "type"))


def attr_kind(value: AttrValue) -> str:
    """A short name of an attribute value's kind, used in verifier messages."""
    for classes, kind in _KINDS:  # bool before int: Python's bool is an int
        if isinstance(value, classes):
            return kind
    raise TypeError(f"not an attribute value: {value!r} ({type(value).__name__})")


def check_attr_value(value: AttrValue) -> None:
    """Raise TypeError unless `value` (recursively) is a valid attribute value."""
    kind = attr_kind(value)
    if kind == "array":
        for item in value:
            check_attr_value(item)
