"""Reduction kernels of the top dialect (ONNX semantics, numpy).

`axes=None` reduces every axis; `axes=()` reduces none (the importer resolves ONNX's
noop_with_empty_axes before this point). The result keeps the input's dtype; integer means
truncate toward zero like onnxruntime. Max/min over an empty set give the dtype's lowest /
highest value (-inf / inf for floats), as ONNX 18 specifies. NaN propagates through every
reduction (onnxruntime's ReduceMax/Min may skip a NaN depending on its position).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .elementwise import trunc_div
from .shape import normalize_axes, normalize_axis

__all__ = [
    "argmax",
    "argmin",
    "reduce_l1",
    "reduce_l2",
    "reduce_log_sum_exp",
    "reduce_max",
    "reduce_mean",
    "reduce_min",
    "reduce_prod",
    "reduce_sum",
    "reduce_sum_square",
]

Axes = Sequence[int] | None


def _axes(x: np.ndarray, axes: Axes, op: str) -> tuple[int, ...]:
    if axes is None:
        return tuple(range(x.ndim))
    return normalize_axes(axes, x.ndim, op)


def _lowest(dtype: np.dtype) -> np.generic:
    if dtype.kind == "f":
        return dtype.type(-np.inf)
    if dtype.kind == "b":
        return dtype.type(False)
    return np.iinfo(dtype).min


def _highest(dtype: np.dtype) -> np.generic:
    if dtype.kind == "f":
        return dtype.type(np.inf)
    if dtype.kind == "b":
        return dtype.type(True)
    return np.iinfo(dtype).max


def reduce_sum(x: np.ndarray, *, axes: Axes = None, keepdims: bool = True) -> np.ndarray:
    """Sum over axes in x's dtype (integers wrap)."""
    x = np.asarray(x)
    return np.sum(x, axis=_axes(x, axes, "reduce_sum"), keepdims=keepdims, dtype=x.dtype)


def reduce_mean(x: np.ndarray, *, axes: Axes = None, keepdims: bool = True) -> np.ndarray:
    """Mean over axes; for integers sum / count truncated toward zero."""
    x = np.asarray(x)
    ax = _axes(x, axes, "reduce_mean")
    count = int(np.prod([x.shape[a] for a in ax], dtype=np.int64))
    if np.issubdtype(x.dtype, np.integer):
        total = np.sum(x, axis=ax, keepdims=keepdims, dtype=x.dtype)
        return trunc_div(total, np.asarray(count, dtype=x.dtype))
    with np.errstate(invalid="ignore", divide="ignore"):
        total = np.sum(x, axis=ax, keepdims=keepdims, dtype=np.float64)
        return (total / count).astype(x.dtype, copy=False)


def reduce_max(x: np.ndarray, *, axes: Axes = None, keepdims: bool = True) -> np.ndarray:
    """Max over axes; an empty reduction gives the dtype's lowest value."""
    x = np.asarray(x)
    ax = _axes(x, axes, "reduce_max")
    return np.max(x, axis=ax, keepdims=keepdims, initial=_lowest(x.dtype))


def reduce_min(x: np.ndarray, *, axes: Axes = None, keepdims: bool = True) -> np.ndarray:
    """Min over axes; an empty reduction gives the dtype's highest value."""
    x = np.asarray(x)
    ax = _axes(x, axes, "reduce_min")
    return np.min(x, axis=ax, keepdims=keepdims, initial=_highest(x.dtype))


def reduce_prod(x: np.ndarray, *, axes: Axes = None, keepdims: bool = True) -> np.ndarray:
    """Product over axes in x's dtype (integers wrap)."""
    x = np.asarray(x)
    return np.prod(x, axis=_axes(x, axes, "reduce_prod"), keepdims=keepdims, dtype=x.dtype)


def reduce_l1(x: np.ndarray, *, axes: Axes = None, keepdims: bool = True) -> np.ndarray:
    """Sum of |x| over axes."""
    x = np.asarray(x)
    return np.sum(np.abs(x), axis=_axes(x, axes, "reduce_l1"), keepdims=keepdims, dtype=x.dtype)


def reduce_sum_square(x: np.ndarray, *, axes: Axes = None, keepdims: bool = True) -> np.ndarray:
    """Sum of x * x over axes."""
    x = np.asarray(x)
    ax = _axes(x, axes, "reduce_sum_square")
    return np.sum(x * x, axis=ax, keepdims=keepdims, dtype=x.dtype)


def reduce_l2(x: np.ndarray, *, axes: Axes = None, keepdims: bool = True) -> np.ndarray:
    """sqrt(sum(x * x)) over axes, accumulated in float64 (integers truncate the root)."""
    x = np.asarray(x)
    x64 = x.astype(np.float64)
    ax = _axes(x, axes, "reduce_l2")
    return np.sqrt(np.sum(x64 * x64, axis=ax, keepdims=keepdims)).astype(x.dtype, copy=False)


def reduce_log_sum_exp(x: np.ndarray, *, axes: Axes = None, keepdims: bool = True) -> np.ndarray:
    """log(sum(exp(x))) over axes, shifted by the max so large values do not overflow."""
    x = np.asarray(x)
    ax = _axes(x, axes, "reduce_log_sum_exp")
    x64 = x.astype(np.float64)
    m = np.max(x64, axis=ax, keepdims=True, initial=-np.inf)
    m = np.where(np.isfinite(m), m, 0.0)
    with np.errstate(divide="ignore"):
        s = np.log(np.sum(np.exp(x64 - m), axis=ax, keepdims=True)) + m
    if not keepdims:
        s = np.squeeze(s, axis=ax)
    return s.astype(x.dtype, copy=False)


def _arg_reduce(
    fn: str, x: np.ndarray, axis: int, keepdims: bool, select_last_index: bool
) -> np.ndarray:
    x = np.asarray(x)
    axis = normalize_axis(axis, x.ndim, fn)
    if x.shape[axis] == 0:
        raise ValueError(f"{fn}: cannot reduce an empty axis {axis} of shape {x.shape}")
    pick = np.argmax if fn == "argmax" else np.argmin
    if select_last_index:
        idx = (x.shape[axis] - 1) - pick(np.flip(x, axis=axis), axis=axis)
    else:
        idx = pick(x, axis=axis)
    idx = idx.astype(np.int64)
    return np.expand_dims(idx, axis) if keepdims else idx


def argmax(
    x: np.ndarray, *, axis: int = 0, keepdims: bool = True, select_last_index: bool = False
) -> np.ndarray:
    """int64 index of the max along axis (first one, or last with select_last_index)."""
    return _arg_reduce("argmax", x, axis, keepdims, select_last_index)


def argmin(
    x: np.ndarray, *, axis: int = 0, keepdims: bool = True, select_last_index: bool = False
) -> np.ndarray:
    """int64 index of the min along axis (first one, or last with select_last_index)."""
    return _arg_reduce("argmin", x, axis, keepdims, select_last_index)
