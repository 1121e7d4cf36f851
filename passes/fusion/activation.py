"""Activations that exporters write out as arithmetic, recognized and made one op:
SiLU = x * sigmoid(x); HardSwish = x * hard_sigmoid(x) or x * clip(x + 3, 0, 6) / 6;
GELU = 0.5 * x * (1 + erf(x / sqrt(2))) in any association of the products."""

from __future__ import annotations

import math

from ...compiler.ir import Operation, Value
from ...compiler.rewrite import Rewriter, pattern
from ...dialects import top
from .match import const_scalar, single_use

_TOL = 1e-4


def _close(value: float | None, target: float) -> bool:
    return value is not None and abs(value - target) <= _TOL * max(1.0, abs(target))


def _replace_with(rw: Rewriter, old: Operation, op_name: str, x: Value, **attrs) -> bool:
    rw.replace_op(old, Operation.create(op_name, [x], [old.results[0].type], attrs, old.loc))
    return True


@pattern(top.MulOp)
def fuse_silu(mul: top.MulOp, rw: Rewriter) -> bool:
    for x, s in ((mul.lhs, mul.rhs), (mul.rhs, mul.lhs)):
        sig = s.owner
        if isinstance(sig, top.SigmoidOp) and sig.input is x and single_use(s) and \
                x.type == mul.output.type:
            return _replace_with(rw, mul, "top.silu", x)
    return False


@pattern(top.MulOp)
def fuse_hard_swish_from_hard_sigmoid(mul: top.MulOp, rw: Rewriter) -> bool:
    for x, h in ((mul.lhs, mul.rhs), (mul.rhs, mul.lhs)):
        hs = h.owner
        if isinstance(hs, top.HardSigmoidOp) and hs.input is x and single_use(h) and \
                _close(hs.alpha, 1 / 6) and _close(hs.beta, 0.5) and x.type == mul.output.type:
            return _replace_with(rw, mul, "top.hard_swish", x)
    return False


def _relu6_of_x_plus_3(value: Value, rw: Rewriter) -> Value | None:
    """x when `value` is clip(x + 3, 0, 6), else None."""
    clip = value.owner
    if not isinstance(clip, top.ClipOp) or not single_use(value):
        return None
    if not (_close(clip.min, 0.0) and _close(clip.max, 6.0)):
        return None
    add = clip.input.owner
    if not isinstance(add, top.AddOp) or not single_use(clip.input):
        return None
    for x, c in ((add.lhs, add.rhs), (add.rhs, add.lhs)):
        if _close(const_scalar(c, rw.module), 3.0):
            return x
    return None


def _div_by(op: Operation, rw: Rewriter, d: float) -> Value | None:
    """y when `op` is y / d or y * (1/d)."""
    if isinstance(op, top.DivOp) and _close(const_scalar(op.rhs, rw.module), d):
        return op.lhs
    if isinstance(op, top.MulOp):
        for y, c in ((op.lhs, op.rhs), (op.rhs, op.lhs)):
            if _close(const_scalar(c, rw.module), 1.0 / d):
                return y
    return None


@pattern(None)
def fuse_hard_swish_from_relu6(op: Operation, rw: Rewriter) -> bool:
    """x * clip(x+3, 0, 6) / 6, as (x * r) / 6 or x * (r / 6)."""
    inner = _div_by(op, rw, 6.0)
    if inner is not None:  # (x * relu6(x + 3)) / 6
        mul = inner.owner
        if isinstance(mul, top.MulOp) and single_use(inner):
            for x, r in ((mul.lhs, mul.rhs), (mul.rhs, mul.lhs)):
                if _relu6_of_x_plus_3(r, rw) is x and x.type == op.results[0].type:
                    return _replace_with(rw, op, "top.hard_swish", x)
    if isinstance(op, top.MulOp):  # x * (relu6(x + 3) / 6)
        for x, q in ((op.lhs, op.rhs), (op.rhs, op.lhs)):
            if q.owner is None or not single_use(q):
                continue
            r = _div_by(q.owner, rw, 6.0)
            if r is not None and _relu6_of_x_plus_3(r, rw) is x and x.type == op.output.type:
                return _replace_with(rw, op, "top.hard_swish", x)
    return False


def _erf_term_input(value: Value, rw: Rewriter) -> Value | None:
    """x when `value` is 1 + erf(x / sqrt(2)) (or erf(x * 1/sqrt(2)) + 1)."""
    add = value.owner
    if not isinstance(add, top.AddOp) or not single_use(value):
        return None
    for e, one in ((add.lhs, add.rhs), (add.rhs, add.lhs)):
        erf = e.owner
        if isinstance(erf, top.ErfOp) and single_use(e) and _close(const_scalar(one, rw.module),
                                                                    1.0):
            scaled = erf.input.owner
            if scaled is not None and single_use(erf.input):
                x = _div_by(scaled, rw, math.sqrt(2.0))
                if x is not None:
                    return x
    return None


def _factors(value: Value, depth: int = 2) -> list[Value]:
    """The operands of a product tree of single-use muls, up to `depth` levels."""
    op = value.owner
    if depth and isinstance(op, top.MulOp) and single_use(value):
        return _factors(op.lhs, depth - 1) + _factors(op.rhs, depth - 1)
    return [value]


@pattern(top.MulOp)
def fuse_gelu(mul: top.MulOp, rw: Rewriter) -> bool:
    factors = _factors(mul.lhs) + _factors(mul.rhs)
    if len(factors) != 3:
        return False
    half = [f for f in factors if _close(const_scalar(f, rw.module), 0.5)]
    for t in factors:
        x = _erf_term_input(t, rw)
        if x is None or not half:
            continue
        rest = [f for f in factors if f is not t and f is not half[0]]
        if rest == [x] and x.type == mul.output.type:
            return _replace_with(rw, mul, "top.gelu", x, approximate="none")
    return False


PATTERNS = [fuse_silu, fuse_hard_swish_from_hard_sigmoid, fuse_hard_swish_from_relu6,
            fuse_gelu]
