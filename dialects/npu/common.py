"""Verifier helpers shared by the npu ops."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ...compiler.ir import Value
from ...compiler.opdef import OpDef, op_error, tensor_type
from ...compiler.types import ScalarType, TensorType, UniformType
from ..quant import MAX_SHIFT, MIN_SHIFT


def int_tensor(op: OpDef, value: Value, what: str) -> TensorType:
    """A tensor of a per-tensor !quant.uniform type or of a plain integer type."""
    t = tensor_type(op, value, what)
    el = t.element
    if isinstance(el, UniformType) or (isinstance(el, ScalarType) and el.is_integer):
        return t
    raise op_error(op, f"{what} must be a tensor of integers or of a per-tensor "
                       f"!quant.uniform type, got {_show(t)}")


def check_zp(op: OpDef, t: TensorType, zp: int, what: str) -> None:
    """The zero point attribute fits the storage type and agrees with a uniform type."""
    lo, hi = t.scalar.int_range
    if not lo <= zp <= hi:
        raise op_error(op, f"{what} zero point {zp} does not fit in {t.scalar}")
    if isinstance(t.element, UniformType) and t.element.zp != zp:
        raise op_error(op, f"{what} zero point {zp} differs from the type's "
                           f"{t.element.zp}")


def check_requant(op: OpDef, multiplier: Sequence[int], shift: Sequence[int],
                  channels: int | None, what: str = "") -> None:
    """Multipliers in [0, 2^31), shifts in range, one entry or one per channel."""
    prefix = f"{what} " if what else ""
    if len(multiplier) != len(shift):
        raise op_error(op, f"{prefix}multiplier has {len(multiplier)} values but shift has "
                           f"{len(shift)}")
    n = len(multiplier)
    if n != 1 and (channels is None or (channels >= 0 and n != channels)):
        expected = "1" if channels is None else f"1 or {channels}"
        raise op_error(op, f"{prefix}multiplier needs {expected} values, got {n}")
    for m in multiplier:
        if not 0 <= m < (1 << 31):
            raise op_error(op, f"{prefix}multiplier {m} is not in [0, 2^31)")
    for s in shift:
        if not MIN_SHIFT <= s <= MAX_SHIFT:
            raise op_error(op, f"{prefix}shift {s} is not in [{MIN_SHIFT}, {MAX_SHIFT}]")


def check_broadcast(op: OpDef, a: TensorType, b: TensorType, r: TensorType) -> None:
    """The operands broadcast (numpy rules) and the result has their broadcast shape."""
    try:
        shape = tuple(np.broadcast_shapes(a.shape, b.shape))
    except ValueError:
        raise op_error(op, f"operand shapes {a.shape} and {b.shape} do not broadcast") from None
    if r.shape != shape:
        raise op_error(op, f"result shape {r.shape} is not the broadcast shape {shape}")


def check_same_shape(op: OpDef, a: TensorType, r: TensorType) -> None:
    if a.shape != r.shape:
        raise op_error(op, f"result shape {r.shape} differs from operand shape {a.shape}")


def check_bias(op: OpDef, bias: Value | None, channels: int) -> None:
    if bias is None:
        return
    b = tensor_type(op, bias, "bias")
    if b.scalar.name not in ("i32", "i64") or not isinstance(b.element,
                                                            ScalarType | UniformType):
        raise op_error(op, f"bias must be an i32 (or, on 16-bit paths, i64) tensor, got "
                           f"{_show(b)}")
    if b.shape != (channels,):
        raise op_error(op, f"bias shape {b.shape} must be ({channels},)")


def check_weight(op: OpDef, w: TensorType) -> None:
    """Weights are 8- or 16-bit signed, symmetric (zero point 0), per tensor or channel."""
    if w.scalar.name not in ("i8", "i16"):
        raise op_error(op, f"weights must have i8 or i16 storage, got {_show(w)}")
    el = w.element
    zps = getattr(el, "zero_points", None) or ()
    if getattr(el, "zero_point", None) or any(zps):
        raise op_error(op, "weights must be symmetric (zero point 0)")


def _show(t) -> str:
    from ...compiler.text.printer import format_type
    return format_type(t)


__all__: list[str] = []
