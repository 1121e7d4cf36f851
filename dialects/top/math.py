"""top ops: elementwise math, comparison, logic, Where and Cast (kernels/elementwise.py).

Add, Sub, Mul and Div live in base.py. Element types are compared through `expressed` (the
float type a calibrated or quantized tensor stands for), so the checks still hold once a
later stage has attached calibrated ranges to the types. Comparisons produce bool tensors;
the logic ops take and produce bool tensors.

The small verifier helpers at the top are shared by the other families of this directory
(activation, normalization, reduce).
"""

from __future__ import annotations

import numpy as np

from ...compiler.ir import Value
from ...compiler.opdef import OpDef, attr, op_error, tensor_type
from ...compiler.text.printer import format_type
from ...compiler.types import BOOL, ScalarType, TensorType
from ...kernels import activation as act
from ...kernels import elementwise as ew
from .base import BinaryOp, UnaryOp, broadcast_shapes


# -- verifier helpers shared by the families of this directory ---------------------------------
def check_same_element(op: OpDef, *named: tuple[str, TensorType]) -> None:
    """Every (what, type) pair has the element type of the first one."""
    first_name, first = named[0]
    for name, t in named[1:]:
        if t.expressed != first.expressed:
            raise op_error(op, f"{name} element type {t.expressed} differs from the {first_name} "
                               f"element type {first.expressed}")


def check_element(op: OpDef, what: str, t: TensorType, *, float_only: bool = False,
                  bool_only: bool = False) -> None:
    """The element type of `t` is a float type (float_only) or bool (bool_only)."""
    el = t.expressed
    if float_only and not el.is_float:
        raise op_error(op, f"{what} must have a float element type, got {el}")
    if bool_only and el != BOOL:
        raise op_error(op, f"{what} must have element type bool, got {el}")


def check_like_input(op: OpDef, x: Value,
                     what: str = "operand") -> tuple[TensorType, TensorType]:
    """The result has the shape and element type of operand `x`; returns both types."""
    a = tensor_type(op, x, what)
    r = tensor_type(op, op.results[0], "result")
    if a.shape != r.shape:
        raise op_error(op, f"result shape {r.shape} differs from {what} shape {a.shape}")
    check_same_element(op, (what, a), ("result", r))
    return a, r


def check_axis(op: OpDef, axis: int, rank: int, name: str = "axis") -> None:
    """A normalized (non-negative) axis of a tensor of rank `rank`."""
    if not 0 <= axis < rank:
        raise op_error(op, f"'{name}' {axis} is out of range [0, {rank}) (axes are "
                           f"non-negative once imported)")


def check_broadcast_result(op: OpDef, r: TensorType, *operands: TensorType) -> None:
    """The result shape is the multidirectional broadcast of the operands' shapes."""
    if not all(t.is_static for t in operands):
        return
    shape: tuple[int, ...] | None = ()
    for t in operands:
        shape = broadcast_shapes(shape, t.shape) if shape is not None else None
    if shape is None:
        shapes = " and ".join(str(t.shape) for t in operands)
        raise op_error(op, f"operand shapes {shapes} do not broadcast")
    if r.is_static and shape != r.shape:
        raise op_error(op, f"result shape {r.shape} is not the broadcast shape {shape}")


# -- unary -------------------------------------------------------------------------------------
class _Unary(UnaryOp):
    """A unary op whose result has the operand's shape and element type."""

    FLOAT_ONLY = False  # ONNX defines the op on float types only
    BOOL_ONLY = False

    def verify_(self) -> None:
        a, _ = check_like_input(self, self.input)
        check_element(self, "operand", a, float_only=self.FLOAT_ONLY, bool_only=self.BOOL_ONLY)


class SqrtOp(_Unary):
    NAME = "top.sqrt"
    FLOAT_ONLY = True

    def compute(self, x):
        return ew.sqrt(x)


class ExpOp(_Unary):
    NAME = "top.exp"
    FLOAT_ONLY = True

    def compute(self, x):
        return ew.exp(x)


class LogOp(_Unary):
    NAME = "top.log"
    FLOAT_ONLY = True

    def compute(self, x):
        return ew.log(x)


class NegOp(_Unary):
    NAME = "top.neg"

    def compute(self, x):
        return ew.neg(x)


class AbsOp(_Unary):
    NAME = "top.abs"

    def compute(self, x):
        return ew.abs(x)


class ReciprocalOp(_Unary):
    NAME = "top.reciprocal"
    FLOAT_ONLY = True

    def compute(self, x):
        return ew.reciprocal(x)


class FloorOp(_Unary):
    NAME = "top.floor"
    FLOAT_ONLY = True

    def compute(self, x):
        return ew.floor(x)


class CeilOp(_Unary):
    NAME = "top.ceil"
    FLOAT_ONLY = True

    def compute(self, x):
        return ew.ceil(x)


class RoundOp(_Unary):
    """Round half to even."""

    NAME = "top.round"
    FLOAT_ONLY = True

    def compute(self, x):
        return ew.round(x)


class SignOp(_Unary):
    NAME = "top.sign"

    def compute(self, x):
        return ew.sign(x)


class ErfOp(_Unary):
    NAME = "top.erf"
    FLOAT_ONLY = True

    def compute(self, x):
        return act.erf(x)


class NotOp(_Unary):
    NAME = "top.not"
    BOOL_ONLY = True

    def compute(self, x):
        return ew.not_(x)


# -- binary arithmetic -------------------------------------------------------------------------
class _Arith(BinaryOp):
    """Both operands and the result share one element type."""

    def verify_(self) -> None:
        super().verify_()
        check_same_element(self, ("lhs", self.lhs.type), ("rhs", self.rhs.type),
                           ("result", self.output.type))


class PowOp(BinaryOp):
    """lhs ** rhs in lhs's element type; rhs may be of another numeric type (ONNX Pow)."""

    NAME = "top.pow"

    def verify_(self) -> None:
        super().verify_()
        check_same_element(self, ("lhs", self.lhs.type), ("result", self.output.type))
        if self.rhs.type.expressed == BOOL or self.lhs.type.expressed == BOOL:
            raise op_error(self, "operands must be numeric, not bool")

    def compute(self, a, b):
        return ew.pow(a, b)


class MinOp(_Arith):
    """Elementwise minimum of two operands (ONNX's variadic Min is a chain of these)."""

    NAME = "top.min"
    COMMUTATIVE = True

    def compute(self, a, b):
        return ew.min(a, b)


class MaxOp(_Arith):
    """Elementwise maximum of two operands (ONNX's variadic Max is a chain of these)."""

    NAME = "top.max"
    COMMUTATIVE = True

    def compute(self, a, b):
        return ew.max(a, b)


class ModOp(_Arith):
    """fmod=false: the result takes the divisor's sign (integers only); true: the dividend's."""

    NAME = "top.mod"
    ATTRS = {"fmod": attr("bool", default=False)}

    def verify_(self) -> None:
        super().verify_()
        if self.lhs.type.expressed.is_float and not self.fmod:
            raise op_error(self, "float operands require fmod = true")

    def compute(self, a, b):
        return ew.mod(a, b, fmod=self.fmod)


# -- comparison and logic ----------------------------------------------------------------------
class _Compare(BinaryOp):
    """Operands of one element type, a bool result."""

    def verify_(self) -> None:
        super().verify_()
        check_same_element(self, ("lhs", self.lhs.type), ("rhs", self.rhs.type))
        check_element(self, "result", self.output.type, bool_only=True)


class EqualOp(_Compare):
    NAME = "top.equal"
    COMMUTATIVE = True

    def compute(self, a, b):
        return ew.equal(a, b)


class LessOp(_Compare):
    NAME = "top.less"

    def compute(self, a, b):
        return ew.less(a, b)


class LessOrEqualOp(_Compare):
    NAME = "top.less_or_equal"

    def compute(self, a, b):
        return ew.less_or_equal(a, b)


class GreaterOp(_Compare):
    NAME = "top.greater"

    def compute(self, a, b):
        return ew.greater(a, b)


class GreaterOrEqualOp(_Compare):
    NAME = "top.greater_or_equal"

    def compute(self, a, b):
        return ew.greater_or_equal(a, b)


class _Logic(BinaryOp):
    """bool operands, bool result."""

    COMMUTATIVE = True

    def verify_(self) -> None:
        super().verify_()
        for what, v in (("lhs", self.lhs), ("rhs", self.rhs), ("result", self.output)):
            check_element(self, what, v.type, bool_only=True)


class AndOp(_Logic):
    NAME = "top.and"

    def compute(self, a, b):
        return ew.and_(a, b)


class OrOp(_Logic):
    NAME = "top.or"

    def compute(self, a, b):
        return ew.or_(a, b)


class XorOp(_Logic):
    NAME = "top.xor"

    def compute(self, a, b):
        return ew.xor(a, b)


# -- select and conversion ---------------------------------------------------------------------
class WhereOp(OpDef):
    """`x` where `condition` else `y`; the three operands broadcast together."""

    NAME = "top.where"
    OPERANDS = ("condition", "x", "y")
    RESULTS = ("output",)
    PURE = True

    def verify_(self) -> None:
        c = tensor_type(self, self.condition, "condition")
        x = tensor_type(self, self.x, "x")
        y = tensor_type(self, self.y, "y")
        r = tensor_type(self, self.output, "result")
        check_element(self, "condition", c, bool_only=True)
        check_same_element(self, ("x", x), ("y", y), ("result", r))
        check_broadcast_result(self, r, c, x, y)

    def compute(self, cond, x, y):
        return ew.where(cond, x, y)


class CastOp(OpDef):
    """Convert to the element type `to` (`{to = f16}`); float -> int truncates toward zero."""

    NAME = "top.cast"
    OPERANDS = ("input",)
    RESULTS = ("output",)
    ATTRS = {"to": attr("type")}
    PURE = True

    def verify_(self) -> None:
        a = tensor_type(self, self.input, "operand")
        r = tensor_type(self, self.output, "result")
        to = self.to
        if not isinstance(to, ScalarType):
            raise op_error(self, f"'to' must be an element type such as f16 or i64, got "
                                 f"{format_type(to)}")
        if a.shape != r.shape:
            raise op_error(self, f"result shape {r.shape} differs from operand shape {a.shape}")
        if r.expressed != to:
            raise op_error(self, f"result element type {r.expressed} is not 'to' ({to})")

    def compute(self, x):
        return ew.cast(x, np.dtype(self.to.numpy_dtype))


__all__ = [name for name, obj in list(globals().items())
           if isinstance(obj, type) and issubclass(obj, OpDef) and obj.NAME
           and obj.__module__ == __name__]
