"""Shape, indexing and data-movement kernels of the top dialect (ONNX semantics, numpy).

Attributes arrive normalized by the importer (non-negative axes, tuples of ints), but the
kernels also accept negative axes and validate what they are given, raising ValueError with
the op's name on inconsistent arguments. reshape, flatten, squeeze and unsqueeze return views
of their input (as numpy does); every other kernel returns a fresh array.
"""

from __future__ import annotations

import builtins
import math
from collections.abc import Sequence

import numpy as np

__all__ = [
    "concat",
    "constant_of_shape",
    "cumsum",
    "einsum",
    "expand",
    "flatten",
    "gather",
    "gather_elements",
    "gather_nd",
    "nonzero",
    "normalize_axes",
    "normalize_axis",
    "normalize_slice",
    "pad",
    "range",
    "reshape",
    "resolve_reshape_shape",
    "scatter_nd",
    "shape_of",
    "size_of",
    "slice",
    "split",
    "squeeze",
    "tile",
    "topk",
    "transpose",
    "unsqueeze",
]

_PAD_MODES = ("constant", "reflect", "edge", "wrap")
_SCATTER_REDUCTIONS = {
    "add": np.add,
    "mul": np.multiply,
    "max": np.maximum,
    "min": np.minimum,
}


def normalize_axis(axis: int, ndim: int, op: str = "op") -> int:
    """Map an axis in [-ndim, ndim) to [0, ndim), or raise ValueError."""
    if not -ndim <= axis < ndim:
        raise ValueError(f"{op}: axis {axis} is out of range for rank {ndim}")
    return axis + ndim if axis < 0 else axis


def normalize_axes(axes: Sequence[int], ndim: int, op: str = "op") -> tuple[int, ...]:
    """Normalize each axis to [0, ndim); repeated axes raise ValueError."""
    out = tuple(normalize_axis(int(a), ndim, op) for a in axes)
    if len(set(out)) != len(out):
        raise ValueError(f"{op}: repeated axes in {tuple(axes)}")
    return out


def _shape_tuple(shape: Sequence[int] | np.ndarray, op: str) -> tuple[int, ...]:
    dims = tuple(int(d) for d in np.asarray(shape, dtype=np.int64).reshape(-1))
    if any(d < 0 for d in dims):
        raise ValueError(f"{op}: negative dimension in shape {dims}")
    return dims


def resolve_reshape_shape(
    in_shape: Sequence[int], shape_attr: Sequence[int], allowzero: bool = False
) -> tuple[int, ...]:
    """Apply ONNX Reshape's rules: 0 copies the input dim (unless allowzero), -1 is inferred."""
    in_shape = tuple(int(d) for d in in_shape)
    dims = [int(d) for d in shape_attr]
    total = math.prod(in_shape)
    if dims.count(-1) > 1:
        raise ValueError(f"reshape: at most one -1 allowed in shape {tuple(dims)}")
    if any(d < -1 for d in dims):
        raise ValueError(f"reshape: invalid dimension in shape {tuple(dims)}")
    if allowzero and 0 in dims and -1 in dims:
        raise ValueError("reshape: with allowzero, shape may not contain both 0 and -1")
    if not allowzero:
        for i, d in enumerate(dims):
            if d == 0:
                if i >= len(in_shape):
                    raise ValueError(
                        f"reshape: 0 at position {i} has no input dim to copy (input rank "
                        f"{len(in_shape)})"
                    )
                dims[i] = in_shape[i]
    if -1 in dims:
        known = math.prod(d for d in dims if d != -1)
        if known == 0 or total % known:
            raise ValueError(f"reshape: cannot infer -1 reshaping {in_shape} to {tuple(dims)}")
        dims[dims.index(-1)] = total // known
    if math.prod(dims) != total:
        raise ValueError(f"reshape: cannot reshape {in_shape} ({total} elements) to {tuple(dims)}")
    return tuple(dims)


def reshape(x: np.ndarray, shape: Sequence[int]) -> np.ndarray:
    """Reshape to a final shape (no 0 or -1: see resolve_reshape_shape)."""
    x = np.asarray(x)
    dims = _shape_tuple(shape, "reshape")
    if math.prod(dims) != x.size:
        raise ValueError(f"reshape: cannot reshape {x.shape} ({x.size} elements) to {dims}")
    return x.reshape(dims)


def flatten(x: np.ndarray, *, axis: int = 1) -> np.ndarray:
    """2-D view: dims before axis become rows, the rest columns; axis in [-rank, rank]."""
    x = np.asarray(x)
    if not -x.ndim <= axis <= x.ndim:
        raise ValueError(f"flatten: axis {axis} is out of range for rank {x.ndim}")
    axis = axis + x.ndim if axis < 0 else axis
    return x.reshape(math.prod(x.shape[:axis]), math.prod(x.shape[axis:]))


def transpose(x: np.ndarray, *, perm: Sequence[int] | None = None) -> np.ndarray:
    """Permute dims; perm None reverses them."""
    x = np.asarray(x)
    if perm is None:
        return np.ascontiguousarray(x.T)
    perm = normalize_axes(perm, x.ndim, "transpose")
    if len(perm) != x.ndim:
        raise ValueError(f"transpose: perm {perm} is not a permutation of rank {x.ndim}")
    return np.ascontiguousarray(np.transpose(x, perm))


def squeeze(x: np.ndarray, *, axes: Sequence[int] | None = None) -> np.ndarray:
    """Remove the given size-1 dims (all size-1 dims when axes is None)."""
    x = np.asarray(x)
    if axes is None:
        return x.reshape(tuple(d for d in x.shape if d != 1))
    axes = normalize_axes(axes, x.ndim, "squeeze")
    bad = [a for a in axes if x.shape[a] != 1]
    if bad:
        raise ValueError(f"squeeze: axes {bad} of shape {x.shape} do not have size 1")
    return x.reshape(tuple(d for i, d in enumerate(x.shape) if i not in axes))


def unsqueeze(x: np.ndarray, *, axes: Sequence[int]) -> np.ndarray:
    """Insert size-1 dims at the given positions of the output (axes relative to output rank)."""
    x = np.asarray(x)
    axes = normalize_axes(axes, x.ndim + len(axes), "unsqueeze")
    return np.expand_dims(x, axes)


def concat(xs: Sequence[np.ndarray], *, axis: int) -> np.ndarray:
    """Join tensors of one dtype and rank along axis."""
    xs = [np.asarray(x) for x in xs]
    if not xs:
        raise ValueError("concat: needs at least one input")
    if len({x.dtype for x in xs}) > 1 or len({x.ndim for x in xs}) > 1:
        raise ValueError(
            f"concat: inputs must share dtype and rank, got {[(x.dtype.name, x.shape) for x in xs]}"
        )
    axis = normalize_axis(axis, xs[0].ndim, "concat")
    try:
        return np.concatenate(xs, axis=axis)
    except ValueError as err:
        raise ValueError(f"concat: {err}") from None


def split(x: np.ndarray, *, axis: int = 0, sizes: Sequence[int]) -> list[np.ndarray]:
    """Cut x along axis into consecutive pieces of the given sizes (which must sum to the dim)."""
    x = np.asarray(x)
    axis = normalize_axis(axis, x.ndim, "split")
    sizes = [int(s) for s in sizes]
    if any(s < 0 for s in sizes) or sum(sizes) != x.shape[axis]:
        raise ValueError(
            f"split: sizes {sizes} do not add up to dim {x.shape[axis]} of axis {axis}"
        )
    bounds = np.cumsum(sizes)[:-1]
    return [p.copy() for p in np.split(x, bounds, axis=axis)]


def _clamp_slice(dim: int, start: int, end: int, step: int) -> builtins.slice:
    """One ONNX Slice axis as a Python slice: negatives wrap once, then clamp by step sign."""
    if step == 0:
        raise ValueError("slice: steps may not be 0")
    start = start + dim if start < 0 else start
    end = end + dim if end < 0 else end
    if step > 0:
        return builtins.slice(min(max(start, 0), dim), min(max(end, 0), dim), step)
    start = min(max(start, 0), dim - 1)
    end = min(max(end, -1), dim - 1)
    if dim == 0:
        return builtins.slice(0, 0, step)
    # A clamped end of -1 means "through index 0", which a Python slice spells as None.
    return builtins.slice(start, None if end < 0 else end, step)


def normalize_slice(
    shape: Sequence[int],
    starts: Sequence[int],
    ends: Sequence[int],
    axes: Sequence[int] | None = None,
    steps: Sequence[int] | None = None,
) -> tuple[builtins.slice, ...]:
    """ONNX Slice parameters -> one Python slice per dim of shape (untouched dims get `:`)."""
    ndim = len(shape)
    axes = tuple(builtins.range(len(starts))) if axes is None else tuple(axes)
    steps = (1,) * len(starts) if steps is None else tuple(steps)
    if not len(starts) == len(ends) == len(axes) == len(steps):
        raise ValueError(
            f"slice: starts, ends, axes and steps differ in length "
            f"({len(starts)}, {len(ends)}, {len(axes)}, {len(steps)})"
        )
    axes = normalize_axes(axes, ndim, "slice")
    out = [builtins.slice(None)] * ndim
    for a, s, e, st in zip(axes, starts, ends, steps):
        out[a] = _clamp_slice(int(shape[a]), int(s), int(e), int(st))
    return tuple(out)


def slice(
    x: np.ndarray,
    *,
    starts: Sequence[int],
    ends: Sequence[int],
    axes: Sequence[int] | None = None,
    steps: Sequence[int] | None = None,
) -> np.ndarray:
    """ONNX Slice: clamped starts/ends (any int64), negative steps, unlisted axes kept whole."""
    x = np.asarray(x)
    return x[normalize_slice(x.shape, starts, ends, axes, steps)].copy()


def _wrap_indices(indices: np.ndarray, dim: int, op: str) -> np.ndarray:
    """Map indices in [-dim, dim) to [0, dim), or raise ValueError."""
    indices = np.asarray(indices)
    if not np.issubdtype(indices.dtype, np.integer):
        raise ValueError(f"{op}: indices must be integers, got {indices.dtype}")
    indices = indices.astype(np.int64, copy=False)
    if indices.size and (indices.min() < -dim or indices.max() >= dim):
        raise ValueError(f"{op}: indices out of range [-{dim}, {dim})")
    return np.where(indices < 0, indices + dim, indices)


def gather(x: np.ndarray, indices: np.ndarray, *, axis: int = 0) -> np.ndarray:
    """ONNX Gather: out shape = x.shape[:axis] + indices.shape + x.shape[axis+1:]."""
    x = np.asarray(x)
    axis = normalize_axis(axis, x.ndim, "gather")
    return np.take(x, _wrap_indices(indices, x.shape[axis], "gather"), axis=axis)


def gather_elements(x: np.ndarray, indices: np.ndarray, *, axis: int = 0) -> np.ndarray:
    """ONNX GatherElements: out[i][j] = x[indices[i][j]][j] (for axis 0); out has indices' shape."""
    x, indices = np.asarray(x), np.asarray(indices)
    axis = normalize_axis(axis, x.ndim, "gather_elements")
    if indices.ndim != x.ndim or any(
        i != axis and n > d for i, (n, d) in enumerate(zip(indices.shape, x.shape))
    ):
        raise ValueError(
            f"gather_elements: indices shape {indices.shape} does not fit data shape {x.shape}"
        )
    # Other dims of indices may be shorter than the data's: only their leading part is read.
    window = tuple(
        builtins.slice(None) if i == axis else builtins.slice(0, n)
        for i, n in enumerate(indices.shape)
    )
    idx = _wrap_indices(indices, x.shape[axis], "gather_elements")
    return np.take_along_axis(x[window], idx, axis=axis)


def _nd_index(x_shape: tuple[int, ...], indices: np.ndarray, op: str) -> tuple[np.ndarray, ...]:
    """Split [..., k] indices into k wrapped index arrays for the leading dims of x."""
    indices = np.asarray(indices)
    k = indices.shape[-1] if indices.ndim else 0
    if indices.ndim < 1 or k > len(x_shape):
        raise ValueError(f"{op}: indices of shape {indices.shape} do not fit data rank")
    return tuple(_wrap_indices(indices[..., i], x_shape[i], op) for i in builtins.range(k))


def gather_nd(x: np.ndarray, indices: np.ndarray, *, batch_dims: int = 0) -> np.ndarray:
    """ONNX GatherND: index the leading dims (after batch_dims) with the last axis of indices."""
    x, indices = np.asarray(x), np.asarray(indices)
    b = int(batch_dims)
    if b < 0 or b >= min(x.ndim, indices.ndim) or x.shape[:b] != indices.shape[:b]:
        raise ValueError(
            f"gather_nd: batch_dims {b} does not fit data {x.shape} and indices {indices.shape}"
        )
    batch = math.prod(x.shape[:b])
    xb = x.reshape((batch,) + x.shape[b:])
    ib = indices.reshape((batch,) + indices.shape[b:])
    idx = _nd_index(xb.shape[1:], ib, "gather_nd")
    batch_index = np.arange(batch).reshape((batch,) + (1,) * (ib.ndim - 2))
    out = xb[(batch_index,) + idx]
    return out.reshape(x.shape[:b] + out.shape[1:])


def scatter_nd(
    x: np.ndarray, indices: np.ndarray, updates: np.ndarray, *, reduction: str = "none"
) -> np.ndarray:
    """ONNX ScatterND: copy of x with x[indices[...]] = updates (or combined by reduction)."""
    x, updates = np.asarray(x), np.asarray(updates)
    idx = _nd_index(x.shape, indices, "scatter_nd")
    expected = np.asarray(indices).shape[:-1] + x.shape[len(idx) :]
    if updates.shape != expected:
        raise ValueError(f"scatter_nd: updates shape {updates.shape}, expected {expected}")
    out = x.copy()
    if reduction == "none":
        out[idx] = updates
    elif reduction in _SCATTER_REDUCTIONS:
        _SCATTER_REDUCTIONS[reduction].at(out, idx, updates.astype(x.dtype, copy=False))
    else:
        raise ValueError(f"scatter_nd: unknown reduction {reduction!r}")
    return out


def expand(x: np.ndarray, shape: Sequence[int]) -> np.ndarray:
    """ONNX Expand: bidirectional broadcast of x and shape (a dim of 1 in shape keeps x's dim)."""
    x = np.asarray(x)
    dims = _shape_tuple(shape, "expand")
    try:
        out_shape = np.broadcast_shapes(x.shape, dims)
    except ValueError:
        raise ValueError(f"expand: shape {x.shape} does not broadcast with {dims}") from None
    return np.broadcast_to(x, out_shape).copy()


def tile(x: np.ndarray, repeats: Sequence[int]) -> np.ndarray:
    """Repeat x repeats[i] times along dim i (one repeat per dim)."""
    x = np.asarray(x)
    reps = _shape_tuple(repeats, "tile")
    if len(reps) != x.ndim:
        raise ValueError(f"tile: {len(reps)} repeats for a rank-{x.ndim} input")
    return np.tile(x, reps)


def pad(
    x: np.ndarray,
    *,
    pads: Sequence[int],
    mode: str = "constant",
    value: float | np.ndarray | None = None,
) -> np.ndarray:
    """ONNX Pad, pads = [x1_begin, x2_begin, ..., x1_end, ...]; negative pads crop first."""
    x = np.asarray(x)
    pads = [int(p) for p in np.asarray(pads).reshape(-1)]
    if len(pads) != 2 * x.ndim:
        raise ValueError(f"pad: {len(pads)} pads for a rank-{x.ndim} input (need {2 * x.ndim})")
    if mode not in _PAD_MODES:
        raise ValueError(f"pad: mode must be one of {_PAD_MODES}, got {mode!r}")
    begin, end = pads[: x.ndim], pads[x.ndim :]
    crop = tuple(builtins.slice(-min(b, 0), d + min(e, 0)) for b, e, d in zip(begin, end, x.shape))
    if any(s.start > s.stop for s in crop):
        raise ValueError(f"pad: negative pads {pads} crop more than shape {x.shape}")
    x = x[crop]
    widths = [(max(b, 0), max(e, 0)) for b, e in zip(begin, end)]
    for (b, e), d in zip(widths, x.shape):
        if (b or e) and d == 0 and mode != "constant":
            raise ValueError(f"pad: cannot pad an empty dim in {mode!r} mode")
        if mode == "reflect" and max(b, e) > d - 1:
            raise ValueError(f"pad: reflect pads {(b, e)} exceed dim {d} - 1")
    if mode == "constant":
        fill = x.dtype.type(0) if value is None else np.asarray(value).astype(x.dtype).item()
        return np.pad(x, widths, mode="constant", constant_values=fill)
    return np.pad(x, widths, mode=mode)


def range(
    start: np.ndarray | float, limit: np.ndarray | float, delta: np.ndarray | float
) -> np.ndarray:
    """ONNX Range: start + i * delta while below limit (i < ceil((limit - start) / delta))."""
    start_a, limit_a, delta_a = (np.asarray(v) for v in (start, limit, delta))
    dtype = start_a.dtype
    if any(v.size != 1 for v in (start_a, limit_a, delta_a)):
        raise ValueError("range: start, limit and delta must be scalars")
    s, lim, d = (v.reshape(()).astype(dtype) for v in (start_a, limit_a, delta_a))
    if d == 0:
        raise ValueError("range: delta may not be 0")
    n = max(math.ceil(float(lim - s) / float(d)), 0)
    return (s + np.arange(n, dtype=np.float64 if dtype.kind == "f" else dtype) * d).astype(dtype)


def constant_of_shape(
    shape: Sequence[int] | np.ndarray, value: np.generic | np.ndarray | None = None
) -> np.ndarray:
    """A tensor of the given shape filled with value (default float32 0), in value's dtype."""
    dims = _shape_tuple(shape, "constant_of_shape")
    v = np.zeros((), np.float32) if value is None else np.asarray(value)
    if v.size != 1:
        raise ValueError(f"constant_of_shape: value must hold one element, got shape {v.shape}")
    return np.full(dims, v.reshape(()), dtype=v.dtype)


def shape_of(x: np.ndarray, *, start: int = 0, end: int | None = None) -> np.ndarray:
    """ONNX Shape (opset 15): int64 dims[start:end], start/end clamped to [0, rank]."""
    shape = np.asarray(x).shape
    return np.array(shape[start:end], dtype=np.int64)


def size_of(x: np.ndarray) -> np.ndarray:
    """Number of elements, as an int64 scalar."""
    return np.array(np.asarray(x).size, dtype=np.int64)


def nonzero(x: np.ndarray) -> np.ndarray:
    """int64 [rank, n] coordinates of the non-zero elements in row-major order.

    Like onnxruntime, a 0-d input is treated as shape (1,), giving [1, n].
    """
    x = np.asarray(x)
    if x.ndim == 0:
        x = x.reshape(1)
    return np.array(np.nonzero(x), dtype=np.int64).reshape(x.ndim, -1)


def topk(
    x: np.ndarray, *, k: int, axis: int = -1, largest: bool = True, sorted: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """k largest (or smallest) along axis, sorted, ties by lower index; int64 indices.

    The order for sorted=False is unspecified by ONNX: this kernel returns the sorted order.
    """
    x = np.asarray(x)
    axis = normalize_axis(axis, x.ndim, "topk")
    n = x.shape[axis]
    k = int(k)
    if not 0 <= k <= n:
        raise ValueError(f"topk: k={k} is out of range for a dim of {n}")
    if largest:
        # A stable ascending sort of the reversed axis, read backwards, is descending with
        # ties in ascending original index; this avoids negating (which breaks unsigned ints).
        rev = np.flip(x, axis=axis)
        order = np.flip(np.argsort(rev, axis=axis, kind="stable"), axis=axis)
        order = (n - 1) - order
    else:
        order = np.argsort(x, axis=axis, kind="stable")
    idx = np.take(order, np.arange(k), axis=axis).astype(np.int64)
    return np.take_along_axis(x, idx, axis=axis), idx


def cumsum(
    x: np.ndarray, axis: int, *, exclusive: bool = False, reverse: bool = False
) -> np.ndarray:
    """ONNX CumSum along axis, optionally exclusive (shifted by one) and/or from the end."""
    x = np.asarray(x)
    axis = normalize_axis(int(axis), x.ndim, "cumsum")
    y = np.flip(x, axis) if reverse else x
    out = np.cumsum(y, axis=axis, dtype=x.dtype)
    if exclusive and x.shape[axis]:
        # Shift by one along axis (no subtraction, so float sums stay exactly ORT-like).
        head = np.zeros_like(np.take(out, [0], axis=axis))
        out = np.concatenate([head, np.take(out, np.arange(x.shape[axis] - 1), axis=axis)], axis)
    return np.flip(out, axis).copy() if reverse else out


def einsum(equation: str, *xs: np.ndarray) -> np.ndarray:
    """ONNX Einsum via numpy.einsum (explicit and implicit output forms, '...' broadcasting)."""
    xs = tuple(np.asarray(x) for x in xs)
    if len({x.dtype for x in xs}) > 1:
        raise ValueError(f"einsum: inputs must share one dtype, got {[x.dtype.name for x in xs]}")
    try:
        return np.asarray(np.einsum(equation.replace(" ", ""), *xs))
    except ValueError as err:
        raise ValueError(f"einsum {equation!r}: {err}") from None
