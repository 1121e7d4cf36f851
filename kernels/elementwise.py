"""Elementwise arithmetic, comparison and logic kernels of the top dialect, plus MatMul/Gemm.

ONNX semantics on numpy arrays: multidirectional (numpy) broadcasting, both operands of one
dtype (a Python scalar operand takes the other's dtype), integer arithmetic that wraps, and
the integer behaviour of onnxruntime where ONNX leaves it open:

- integer div truncates toward zero (C semantics), not floor;
- integer pow is computed as double pow then cast, like onnxruntime (so 2 ** -1 == 0 and
  results beyond 2**53 are rounded);
- cast from float to int truncates toward zero; NaN, inf and out-of-range values give what
  the x86 conversion gives (the same as onnxruntime on x86, undefined by ONNX).

Integer division or modulo by zero returns 0 (onnxruntime's result is undefined).
The names min, max, abs, round and pow shadow Python builtins inside this module on purpose:
they are the op names; the module itself only uses numpy's versions.
"""

from __future__ import annotations

import functools

import numpy as np

__all__ = [
    "abs",
    "add",
    "and_",
    "cast",
    "ceil",
    "div",
    "equal",
    "exp",
    "floor",
    "gemm",
    "greater",
    "greater_or_equal",
    "less",
    "less_or_equal",
    "log",
    "matmul",
    "max",
    "min",
    "mod",
    "mul",
    "neg",
    "not_",
    "or_",
    "pow",
    "reciprocal",
    "round",
    "sign",
    "sqrt",
    "sub",
    "trunc_div",
    "where",
    "xor",
]

ArrayLike = np.ndarray | float | int | bool


def _operands(a: ArrayLike, b: ArrayLike, op: str) -> tuple[np.ndarray, np.ndarray]:
    """Two arrays of one dtype; a bare Python scalar takes the dtype of the other operand."""
    a_scalar = not isinstance(a, np.ndarray | np.generic)
    b_scalar = not isinstance(b, np.ndarray | np.generic)
    if a_scalar and not b_scalar:
        b = np.asarray(b)
        return np.asarray(a, dtype=b.dtype), b
    if b_scalar and not a_scalar:
        a = np.asarray(a)
        return a, np.asarray(b, dtype=a.dtype)
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype != b.dtype:
        raise ValueError(f"{op}: operands must share one dtype, got {a.dtype} and {b.dtype}")
    _check_broadcast(op, a, b)
    return a, b


def _check_broadcast(op: str, *xs: np.ndarray) -> None:
    try:
        np.broadcast_shapes(*(x.shape for x in xs))
    except ValueError:
        raise ValueError(
            f"{op}: shapes {[x.shape for x in xs]} do not broadcast (ONNX aligns trailing dims)"
        ) from None


def _is_int(x: np.ndarray) -> bool:
    return np.issubdtype(x.dtype, np.integer)


def add(a: ArrayLike, b: ArrayLike) -> np.ndarray:
    """a + b (integers wrap)."""
    a, b = _operands(a, b, "add")
    return np.add(a, b)


def sub(a: ArrayLike, b: ArrayLike) -> np.ndarray:
    """a - b (integers wrap)."""
    a, b = _operands(a, b, "sub")
    return np.subtract(a, b)


def mul(a: ArrayLike, b: ArrayLike) -> np.ndarray:
    """a * b (integers wrap)."""
    a, b = _operands(a, b, "mul")
    return np.multiply(a, b)


def trunc_div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Integer quotient rounded toward zero (C semantics); x / 0 gives 0."""
    with np.errstate(divide="ignore", over="ignore"):
        q = np.floor_divide(a, b)
        if np.issubdtype(a.dtype, np.signedinteger):
            inexact = np.remainder(a, b) != 0
            q = q + (inexact & ((a < 0) != (b < 0))).astype(q.dtype)
    return q


def div(a: ArrayLike, b: ArrayLike) -> np.ndarray:
    """a / b; integer division truncates toward zero like onnxruntime (7 / -2 == -3)."""
    a, b = _operands(a, b, "div")
    if _is_int(a):
        return trunc_div(a, b)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.true_divide(a, b)


def mod(a: ArrayLike, b: ArrayLike, *, fmod: bool = False) -> np.ndarray:
    """ONNX Mod: fmod=False takes the divisor's sign (integers only), fmod=True the dividend's."""
    a, b = _operands(a, b, "mod")
    if not _is_int(a) and not fmod:
        raise ValueError("mod: floating-point inputs require fmod=True (ONNX Mod)")
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.fmod(a, b) if fmod else np.mod(a, b)


def pow(a: ArrayLike, b: ArrayLike) -> np.ndarray:
    """a ** b in a's dtype; b may be of another numeric dtype. Ints go through double pow."""
    a, b = np.asarray(a), np.asarray(b)
    _check_broadcast("pow", a, b)
    if not (np.issubdtype(a.dtype, np.number) and np.issubdtype(b.dtype, np.number)):
        raise ValueError(f"pow: numeric operands required, got {a.dtype} and {b.dtype}")
    with np.errstate(all="ignore"):
        if a.dtype == np.float64:
            return np.power(a, b.astype(np.float64))
        out = np.power(a.astype(np.float64), b.astype(np.float64))
        return out.astype(a.dtype)


def _unary_float(fn: np.ufunc, x: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return fn(np.asarray(x))


def sqrt(x: np.ndarray) -> np.ndarray:
    """Square root; negative inputs give NaN."""
    return _unary_float(np.sqrt, x)


def exp(x: np.ndarray) -> np.ndarray:
    """e ** x (overflow gives inf)."""
    return _unary_float(np.exp, x)


def log(x: np.ndarray) -> np.ndarray:
    """Natural log; log(0) = -inf, negative inputs give NaN."""
    return _unary_float(np.log, x)


def neg(x: np.ndarray) -> np.ndarray:
    """-x (the most negative integer stays itself)."""
    return np.negative(np.asarray(x))


def abs(x: np.ndarray) -> np.ndarray:
    """|x| (the most negative integer stays itself)."""
    return np.abs(np.asarray(x))


def reciprocal(x: np.ndarray) -> np.ndarray:
    """1 / x; 1 / 0 = inf."""
    x = np.asarray(x)
    with np.errstate(divide="ignore"):
        return np.divide(x.dtype.type(1), x)


def floor(x: np.ndarray) -> np.ndarray:
    """Round toward -inf (identity on integers)."""
    x = np.asarray(x)
    return x.copy() if _is_int(x) else np.floor(x)


def ceil(x: np.ndarray) -> np.ndarray:
    """Round toward +inf (identity on integers)."""
    x = np.asarray(x)
    return x.copy() if _is_int(x) else np.ceil(x)


def round(x: np.ndarray) -> np.ndarray:
    """Round half to even (2.5 -> 2, -0.5 -> -0)."""
    x = np.asarray(x)
    return x.copy() if _is_int(x) else np.rint(x)


def sign(x: np.ndarray) -> np.ndarray:
    """-1, 0 or 1 in x's dtype; NaN stays NaN."""
    return np.sign(np.asarray(x))


def _variadic(op: str, fn: np.ufunc, xs: tuple[ArrayLike, ...]) -> np.ndarray:
    if not xs:
        raise ValueError(f"{op}: needs at least one input")
    arrays = [np.asarray(x) for x in xs]
    if len({x.dtype for x in arrays}) > 1:
        raise ValueError(f"{op}: inputs must share one dtype, got {[x.dtype.name for x in arrays]}")
    _check_broadcast(op, *arrays)
    if len(arrays) == 1:
        return arrays[0].copy()
    return functools.reduce(fn, arrays)


def min(*xs: ArrayLike) -> np.ndarray:
    """Elementwise minimum of one or more broadcast inputs; NaN propagates."""
    return _variadic("min", np.minimum, xs)


def max(*xs: ArrayLike) -> np.ndarray:
    """Elementwise maximum of one or more broadcast inputs; NaN propagates."""
    return _variadic("max", np.maximum, xs)


def equal(a: ArrayLike, b: ArrayLike) -> np.ndarray:
    """a == b as bool."""
    return np.equal(*_operands(a, b, "equal"))


def less(a: ArrayLike, b: ArrayLike) -> np.ndarray:
    """a < b as bool."""
    return np.less(*_operands(a, b, "less"))


def less_or_equal(a: ArrayLike, b: ArrayLike) -> np.ndarray:
    """a <= b as bool."""
    return np.less_equal(*_operands(a, b, "less_or_equal"))


def greater(a: ArrayLike, b: ArrayLike) -> np.ndarray:
    """a > b as bool."""
    return np.greater(*_operands(a, b, "greater"))


def greater_or_equal(a: ArrayLike, b: ArrayLike) -> np.ndarray:
    """a >= b as bool."""
    return np.greater_equal(*_operands(a, b, "greater_or_equal"))


def _bool(x: ArrayLike, op: str) -> np.ndarray:
    x = np.asarray(x)
    if x.dtype != np.bool_:
        raise ValueError(f"{op}: inputs must be bool, got {x.dtype}")
    return x


def not_(x: np.ndarray) -> np.ndarray:
    """Logical not of a bool tensor."""
    return np.logical_not(_bool(x, "not"))


def and_(a: ArrayLike, b: ArrayLike) -> np.ndarray:
    """Logical and of bool tensors."""
    return np.logical_and(_bool(a, "and"), _bool(b, "and"))


def or_(a: ArrayLike, b: ArrayLike) -> np.ndarray:
    """Logical or of bool tensors."""
    return np.logical_or(_bool(a, "or"), _bool(b, "or"))


def xor(a: ArrayLike, b: ArrayLike) -> np.ndarray:
    """Logical xor of bool tensors."""
    return np.logical_xor(_bool(a, "xor"), _bool(b, "xor"))


def where(cond: np.ndarray, x: ArrayLike, y: ArrayLike) -> np.ndarray:
    """x where cond else y, all three broadcast together."""
    cond = _bool(cond, "where")
    x, y = _operands(x, y, "where")
    _check_broadcast("where", cond, x, y)
    return np.where(cond, x, y)


def cast(x: np.ndarray, to_dtype: np.dtype | type) -> np.ndarray:
    """Convert to to_dtype: float -> int truncates toward zero, anything -> bool is x != 0."""
    x = np.asarray(x)
    dtype = np.dtype(to_dtype)
    if dtype.kind not in "biuf" or x.dtype.kind not in "biuf":
        raise ValueError(f"cast: only bool, integer and float dtypes, got {x.dtype} -> {dtype}")
    with np.errstate(invalid="ignore", over="ignore"):
        return x.astype(dtype)


def matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """numpy.matmul semantics: 1-D operands promoted and squeezed, batch dims broadcast."""
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype != b.dtype:
        raise ValueError(f"matmul: operands must share one dtype, got {a.dtype} and {b.dtype}")
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError("matmul: operands must have rank >= 1")
    try:
        return np.asarray(np.matmul(a, b))  # 1-D @ 1-D gives a numpy scalar: keep an array
    except ValueError:
        raise ValueError(f"matmul: shapes {a.shape} and {b.shape} do not fit") from None


def gemm(
    a: np.ndarray,
    b: np.ndarray,
    c: np.ndarray | None = None,
    *,
    alpha: float = 1.0,
    beta: float = 1.0,
    trans_a: bool = False,
    trans_b: bool = False,
) -> np.ndarray:
    """alpha * A' @ B' + beta * C for 2-D A, B (' = optional transpose), C broadcast to [M, N]."""
    a, b = np.asarray(a), np.asarray(b)
    if a.ndim != 2 or b.ndim != 2:
        raise ValueError(f"gemm: A and B must be 2-D, got {a.shape} and {b.shape}")
    if a.dtype != b.dtype:
        raise ValueError(f"gemm: operands must share one dtype, got {a.dtype} and {b.dtype}")
    a_ = a.T if trans_a else a
    b_ = b.T if trans_b else b
    if a_.shape[1] != b_.shape[0]:
        raise ValueError(f"gemm: inner dims differ: A' {a_.shape} and B' {b_.shape}")
    out = np.matmul(a_, b_)
    if alpha != 1.0:
        out = out * alpha
    if c is not None and beta != 0.0:
        c = np.asarray(c)
        target = (a_.shape[0], b_.shape[1])
        if not _broadcasts_to(c.shape, target):
            raise ValueError(f"gemm: C of shape {c.shape} does not broadcast to {target}")
        out = out + (c * beta if beta != 1.0 else c)
    return out.astype(a.dtype, copy=False)


def _broadcasts_to(shape: tuple[int, ...], target: tuple[int, ...]) -> bool:
    """True when shape broadcasts unidirectionally to target."""
    try:
        return np.broadcast_shapes(shape, target) == target
    except ValueError:
        return False
