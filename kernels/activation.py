"""Float activation kernels of the top dialect (ONNX semantics, numpy reference).

Every kernel keeps the input's float dtype: float32 in, float32 out. Where float32 arithmetic
would lose accuracy (erf, gelu) the work is done in float64 and rounded once at the end.
"""

from __future__ import annotations

import math

import numpy as np

from .shape import normalize_axis

__all__ = [
    "clip",
    "elu",
    "erf",
    "erfc",
    "gelu",
    "hard_sigmoid",
    "hard_swish",
    "leaky_relu",
    "log_softmax",
    "mish",
    "prelu",
    "relu",
    "selu",
    "shrink",
    "sigmoid",
    "silu",
    "softmax",
    "softplus",
    "softsign",
    "tanh",
]

# ONNX Selu defaults: the float32 values written in the operator schema.
SELU_ALPHA = 1.67326319217681884765625
SELU_GAMMA = 1.05070102214813232421875

_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
_ONE_OVER_SQRT_PI = 1.0 / math.sqrt(math.pi)
# erf/erfc switch from the power series to the continued fraction at this |x|; with the
# term counts below both sides are accurate to ~1e-12 relative in float64 (see the tests).
_ERF_SWITCH = 2.5
_SERIES_TERMS = 40
_CF_DEPTH = 30
# erfc(x) underflows float64 past ~27; clamping keeps the continued fraction away from inf.
_ERFC_CLAMP = 27.0


def _float_dtype(x: np.ndarray) -> np.dtype:
    """The float dtype a float kernel returns for `x` (float32 for non-float inputs)."""
    return x.dtype if np.issubdtype(x.dtype, np.floating) else np.dtype(np.float32)


def relu(x: np.ndarray) -> np.ndarray:
    """max(x, 0); NaN propagates."""
    x = np.asarray(x)
    return np.maximum(x, x.dtype.type(0))


def leaky_relu(x: np.ndarray, *, alpha: float = 0.01) -> np.ndarray:
    """x if x >= 0 else alpha * x."""
    x = np.asarray(x)
    return np.where(x >= 0, x, x * x.dtype.type(alpha)).astype(x.dtype, copy=False)


def prelu(x: np.ndarray, slope: np.ndarray) -> np.ndarray:
    """x if x >= 0 else slope * x, slope broadcast against x (numpy/ONNX trailing alignment)."""
    x, slope = np.asarray(x), np.asarray(slope)
    try:
        np.broadcast_shapes(x.shape, slope.shape)
    except ValueError:
        raise ValueError(
            f"prelu: slope of shape {slope.shape} does not broadcast to input of shape "
            f"{x.shape} (ONNX aligns trailing dims: a per-channel NCHW slope must be [C, 1, 1])"
        ) from None
    return np.where(x >= 0, x, x * slope.astype(x.dtype, copy=False)).astype(x.dtype, copy=False)


def clip(
    x: np.ndarray, min: np.ndarray | float | None = None, max: np.ndarray | float | None = None
) -> np.ndarray:
    """min(max(x, min), max); a missing bound is unbounded, and min > max gives max everywhere."""
    x = np.asarray(x)
    out = x
    if min is not None:
        out = np.maximum(out, np.asarray(min).astype(x.dtype))
    if max is not None:
        out = np.minimum(out, np.asarray(max).astype(x.dtype))
    return out if out is not x else x.copy()


def sigmoid(x: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-x)) in a few in-place passes; below -80, where exp(-x) overflows, exp(x).

    The exp(-|x|) form costs more passes and makes subnormal numbers that slow the next ops
    (and the BLAS calls of the next conv) tenfold on some CPUs. float16 is computed in float32.
    """
    x = np.asarray(x)
    work = x.astype(np.float32) if x.dtype == np.float16 else x
    with np.errstate(over="ignore"):
        e = np.asarray(np.exp(np.negative(work)))
    e += 1
    out = np.reciprocal(e, out=e)
    tail = work < -80  # where exp(-x) overflows: sigmoid(x) = exp(x) to full precision
    if tail.any():
        out[tail] = np.exp(work[tail])
    return out.astype(x.dtype, copy=False)


def hard_sigmoid(x: np.ndarray, *, alpha: float = 0.2, beta: float = 0.5) -> np.ndarray:
    """max(0, min(1, alpha * x + beta))."""
    x = np.asarray(x)
    t = x.dtype.type
    return np.clip(x * t(alpha) + t(beta), t(0), t(1))


def hard_swish(x: np.ndarray) -> np.ndarray:
    """x * hard_sigmoid(x, alpha=1/6, beta=0.5)."""
    x = np.asarray(x)
    return x * hard_sigmoid(x, alpha=1.0 / 6.0, beta=0.5)


def silu(x: np.ndarray) -> np.ndarray:
    """x * sigmoid(x) (a.k.a. swish)."""
    x = np.asarray(x)
    return x * sigmoid(x)


def _erfc_nonneg(z: np.ndarray) -> np.ndarray:
    """erfc(z) in float64 for z >= 0 (NaN passes through)."""
    out = np.empty_like(z)
    small = z < _ERF_SWITCH
    large = ~small  # also holds NaN, which the continued fraction propagates
    if small.any():
        out[small] = 1.0 - _erf_series(z[small])
    if large.any():
        zl = np.minimum(z[large], _ERFC_CLAMP)
        tail = np.zeros_like(zl)
        for k in range(_CF_DEPTH, 0, -1):
            tail = (0.5 * k) / (zl + tail)
        out[large] = np.exp(-zl * zl) * _ONE_OVER_SQRT_PI / (zl + tail)
    return out


def _erf_series(z: np.ndarray) -> np.ndarray:
    """erf(z) = 2/sqrt(pi) exp(-z^2) sum_n (2 z^2)^n z / (2n+1)!!: all terms positive."""
    z2 = z * z
    term = z.copy()
    total = z.copy()
    for n in range(_SERIES_TERMS):
        term = term * (2.0 * z2) / (2 * n + 3)
        total += term
    return _TWO_OVER_SQRT_PI * np.exp(-z2) * total


def _erf64(x: np.ndarray) -> np.ndarray:
    """erf in float64 with ~1e-12 relative error over the whole line."""
    a = np.abs(x)
    out = np.empty_like(a)
    small = a < _ERF_SWITCH
    out[small] = _erf_series(a[small])
    out[~small] = 1.0 - _erfc_nonneg(a[~small])
    return np.copysign(out, x)


def _erfc64(x: np.ndarray) -> np.ndarray:
    """erfc in float64, accurate in relative terms also in the far right tail."""
    pos = _erfc_nonneg(np.abs(x))
    return np.where(x < 0, 2.0 - pos, pos)


def erf(x: np.ndarray) -> np.ndarray:
    """The error function, accurate to float64 ~1e-12 relative before rounding to x's dtype."""
    x = np.asarray(x)
    return _erf64(x.astype(np.float64)).astype(_float_dtype(x), copy=False)


def erfc(x: np.ndarray) -> np.ndarray:
    """1 - erf(x), computed without cancellation for large positive x."""
    x = np.asarray(x)
    return _erfc64(x.astype(np.float64)).astype(_float_dtype(x), copy=False)


def gelu(x: np.ndarray, *, approximate: str = "none") -> np.ndarray:
    """0.5 x (1 + erf(x / sqrt 2)); approximate="tanh" uses the tanh formula (ONNX Gelu-20)."""
    x = np.asarray(x)
    x64 = x.astype(np.float64)
    if approximate == "none":
        out = 0.5 * x64 * _erfc64(-x64 / math.sqrt(2.0))
    elif approximate == "tanh":
        inner = math.sqrt(2.0 / math.pi) * (x64 + 0.044715 * x64**3)
        out = 0.5 * x64 * (1.0 + np.tanh(inner))
    else:
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return out.astype(_float_dtype(x), copy=False)


def tanh(x: np.ndarray) -> np.ndarray:
    """Hyperbolic tangent."""
    return np.tanh(np.asarray(x))


def softplus(x: np.ndarray) -> np.ndarray:
    """log(1 + exp(x)), stable for large |x|."""
    x = np.asarray(x)
    return np.logaddexp(x.dtype.type(0), x)


def mish(x: np.ndarray) -> np.ndarray:
    """x * tanh(softplus(x))."""
    x = np.asarray(x)
    return x * np.tanh(softplus(x))


def elu(x: np.ndarray, *, alpha: float = 1.0) -> np.ndarray:
    """x if x > 0 else alpha * (exp(x) - 1)."""
    x = np.asarray(x)
    neg = x.dtype.type(alpha) * np.expm1(np.minimum(x, x.dtype.type(0)))
    return np.where(x > 0, x, neg).astype(x.dtype, copy=False)


def selu(x: np.ndarray, *, alpha: float = SELU_ALPHA, gamma: float = SELU_GAMMA) -> np.ndarray:
    """gamma * (x if x > 0 else alpha * (exp(x) - 1))."""
    x = np.asarray(x)
    return (x.dtype.type(gamma) * elu(x, alpha=alpha)).astype(x.dtype, copy=False)


def shrink(x: np.ndarray, *, bias: float = 0.0, lambd: float = 0.5) -> np.ndarray:
    """x + bias if x < -lambd, x - bias if x > lambd, else 0 (ONNX Shrink).

    Any numeric dtype: the value is computed in float64 and converted back to x's dtype the
    way a C++ cast does (integers truncate toward zero), as onnxruntime does.
    """
    x = np.asarray(x)
    x64 = x.astype(np.float64)
    out = np.where(x64 < -lambd, x64 + bias, np.where(x64 > lambd, x64 - bias, 0.0))
    if x.dtype.kind in "iu":
        out = np.trunc(out)
    return out.astype(x.dtype)


def softsign(x: np.ndarray) -> np.ndarray:
    """x / (1 + |x|)."""
    x = np.asarray(x)
    return x / (x.dtype.type(1) + np.abs(x))


def softmax(x: np.ndarray, *, axis: int = -1) -> np.ndarray:
    """exp(x) / sum(exp(x)) along one axis (opset >= 13), shifted by the max for stability."""
    x = np.asarray(x)
    axis = normalize_axis(axis, x.ndim, "softmax")
    if x.size == 0:
        return x.copy()
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def log_softmax(x: np.ndarray, *, axis: int = -1) -> np.ndarray:
    """x - log(sum(exp(x))) along one axis (opset >= 13), stable for large values."""
    x = np.asarray(x)
    axis = normalize_axis(axis, x.ndim, "log_softmax")
    if x.size == 0:
        return x.copy()
    shifted = x - np.max(x, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))
