"""Types of the kiln IR: element types, quantized element types and tensor types.

Every type is a frozen dataclass, so types compare and hash by value and can be shared.
Quantization parameters (scales, calibrated ranges) are f32 by definition: they are rounded
to float32 when a type is built, and the printer writes the shortest text that reads back to
the same float32, so they survive a print/parse round trip bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def to_f32(value: float) -> float:
    """Round a Python float to the nearest float32 and return it as a Python float."""
    return float(np.float32(value))


@dataclass(frozen=True)
class ScalarType:
    """A plain element type such as f32, i8 or bool."""

    name: str

    def __post_init__(self) -> None:
        if self.name not in _SCALAR_INFO:
            raise ValueError(f"unknown element type '{self.name}'")

    @property
    def is_float(self) -> bool:
        return _SCALAR_INFO[self.name][0] == "float"

    @property
    def is_integer(self) -> bool:
        return _SCALAR_INFO[self.name][0] in ("int", "uint")

    @property
    def is_signed(self) -> bool:
        return _SCALAR_INFO[self.name][0] in ("int", "float")

    @property
    def bits(self) -> int:
        return _SCALAR_INFO[self.name][1]

    @property
    def int_range(self) -> tuple[int, int]:
        """The (min, max) an integer type can hold."""
        kind, bits = _SCALAR_INFO[self.name]
        if kind == "int":
            return -(1 << (bits - 1)), (1 << (bits - 1)) - 1
        if kind == "uint":
            return 0, (1 << bits) - 1
        raise ValueError(f"{self.name} is not an integer type")

    @property
    def numpy_dtype(self) -> np.dtype:
        """The numpy dtype that holds values of this type (i4/u4 widen to int8/uint8)."""
        if self.name == "bf16":
            import ml_dtypes

            return np.dtype(ml_dtypes.bfloat16)
        return np.dtype(_NUMPY_NAMES[self.name])

    def __str__(self) -> str:
        return self.name


_SCALAR_INFO: dict[str, tuple[str, int]] = {
    "f64": ("float", 64),
    "f32": ("float", 32),
    "f16": ("float", 16),
    "bf16": ("float", 16),
    "i4": ("int", 4),
    "u4": ("uint", 4),
    "i8": ("int", 8),
    "u8": ("uint", 8),
    "i9": ("int", 9),
    "i10": ("int", 10),
    "i11": ("int", 11),
    "i12": ("int", 12),
    "i16": ("int", 16),
    "u16": ("uint", 16),
    "i32": ("int", 32),
    "u32": ("uint", 32),
    "i64": ("int", 64),
    "bool": ("bool", 1),
}
_NUMPY_NAMES = {
    "f64": "float64", "f32": "float32", "f16": "float16", "i4": "int8", "u4": "uint8",
    "i8": "int8", "u8": "uint8", "i9": "int16", "i10": "int16", "i11": "int16", "i12": "int16",
    "i16": "int16", "u16": "uint16", "i32": "int32",
    "u32": "uint32", "i64": "int64", "bool": "bool",
}
SCALAR_NAMES: tuple[str, ...] = tuple(_SCALAR_INFO)

F32 = ScalarType("f32")
F16 = ScalarType("f16")
BF16 = ScalarType("bf16")
I8 = ScalarType("i8")
U8 = ScalarType("u8")
I16 = ScalarType("i16")
I32 = ScalarType("i32")
I64 = ScalarType("i64")
BOOL = ScalarType("bool")


_NARROW = ("i4", "u4", "i9", "i10", "i11", "i12")  # held in a wider numpy dtype


def scalar_type_of(dtype: np.dtype) -> ScalarType:
    """The element type that holds a numpy dtype exactly."""
    dtype = np.dtype(dtype)
    if dtype.name == "bfloat16":
        return BF16
    for name, np_name in _NUMPY_NAMES.items():
        if np_name == dtype.name and name not in _NARROW:
            return ScalarType(name)
    raise ValueError(f"no kiln element type for numpy dtype {dtype}")


@dataclass(frozen=True)
class CalibratedType:
    """`!quant.calibrated<f32<min:max>>`: a float value whose observed range is known."""

    expressed: ScalarType
    min: float
    max: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "min", to_f32(self.min))
        object.__setattr__(self, "max", to_f32(self.max))
        if not self.expressed.is_float:
            raise ValueError("a calibrated type expresses a float type")
        if not (self.min <= self.max):
            raise ValueError(f"calibrated range min {self.min} is above max {self.max}")


@dataclass(frozen=True)
class UniformType:
    """`!quant.uniform<i8:f32, scale>` or `<u8:f32, scale:zero_point>`: real = scale * (q - zp).

    `zero_point` is None for a symmetric type (zero point 0, printed without it).
    """

    storage: ScalarType
    expressed: ScalarType
    scale: float
    zero_point: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "scale", to_f32(self.scale))
        _check_storage(self.storage, self.expressed, (self.zero_point,))
        if not (self.scale > 0 and np.isfinite(self.scale)):
            raise ValueError(f"quantization scale must be positive and finite, got {self.scale}")

    @property
    def zp(self) -> int:
        return 0 if self.zero_point is None else self.zero_point


@dataclass(frozen=True)
class UniformPerAxisType:
    """`!quant.uniform<i8:f32:axis, {s0, s1:zp1, ...}>`: one scale (and zero point) per slice."""

    storage: ScalarType
    expressed: ScalarType
    axis: int
    scales: tuple[float, ...]
    zero_points: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "scales", tuple(to_f32(s) for s in self.scales))
        if self.zero_points is not None:
            object.__setattr__(self, "zero_points", tuple(int(z) for z in self.zero_points))
            if len(self.zero_points) != len(self.scales):
                raise ValueError("per-axis type needs as many zero points as scales")
        _check_storage(self.storage, self.expressed, self.zero_points or ())
        if not self.scales:
            raise ValueError("per-axis type needs at least one scale")
        for s in self.scales:
            if not (s > 0 and np.isfinite(s)):
                raise ValueError(f"quantization scale must be positive and finite, got {s}")
        if self.axis < 0:
            raise ValueError(f"per-axis quantization axis must be >= 0, got {self.axis}")


def _check_storage(storage: ScalarType, expressed: ScalarType, zero_points) -> None:
    if not storage.is_integer:
        raise ValueError(f"quantized storage type must be an integer type, got {storage}")
    if not expressed.is_float:
        raise ValueError(f"quantized expressed type must be a float type, got {expressed}")
    lo, hi = storage.int_range
    for zp in zero_points:
        if zp is not None and not (lo <= zp <= hi):
            raise ValueError(f"zero point {zp} does not fit in {storage}")


QuantType = CalibratedType | UniformType | UniformPerAxisType
ElementType = ScalarType | CalibratedType | UniformType | UniformPerAxisType


@dataclass(frozen=True)
class TensorType:
    """`tensor<1x3x224x224xf32>`; a dimension of -1 is dynamic and prints as `?`."""

    shape: tuple[int, ...]
    element: ElementType

    def __post_init__(self) -> None:
        object.__setattr__(self, "shape", tuple(int(d) for d in self.shape))
        for d in self.shape:
            if d < -1:
                raise ValueError(f"tensor dimension must be >= 0 or dynamic, got {d}")
        if isinstance(self.element, UniformPerAxisType):
            if self.element.axis >= max(len(self.shape), 1):
                raise ValueError(
                    f"per-axis quantization axis {self.element.axis} is out of range for "
                    f"rank {len(self.shape)}")
            dim = self.shape[self.element.axis] if self.shape else 1
            if dim >= 0 and dim != len(self.element.scales):
                raise ValueError(
                    f"per-axis type has {len(self.element.scales)} scales but axis "
                    f"{self.element.axis} has size {dim}")

    @property
    def rank(self) -> int:
        return len(self.shape)

    @property
    def num_elements(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n

    @property
    def is_static(self) -> bool:
        return all(d >= 0 for d in self.shape)

    @property
    def scalar(self) -> ScalarType:
        """The plain element type behind the tensor (the storage type of a quantized one)."""
        el = self.element
        if isinstance(el, ScalarType):
            return el
        if isinstance(el, CalibratedType):
            return el.expressed
        return el.storage

    @property
    def expressed(self) -> ScalarType:
        """The float type a quantized tensor stands for (the element type itself otherwise)."""
        el = self.element
        return el if isinstance(el, ScalarType) else el.expressed

    def with_element(self, element: ElementType) -> TensorType:
        return TensorType(self.shape, element)

    def with_shape(self, shape: tuple[int, ...]) -> TensorType:
        return TensorType(tuple(shape), self.element)


@dataclass(frozen=True)
class NoneType:
    """`none`: the type of an omitted optional operand."""


@dataclass(frozen=True)
class FunctionType:
    """`(inputs) -> results`; used for function signatures and type attributes."""

    inputs: tuple[Type, ...]
    results: tuple[Type, ...]


Type = TensorType | NoneType | ScalarType | FunctionType
