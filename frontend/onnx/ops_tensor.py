"""Builders for tensor movement and shape-computing ONNX ops.

Static inputs that ONNX passes as tensors (Slice bounds, Pad pads, Expand shape, Tile repeats,
TopK k, CumSum axis, Split sizes) become attributes. Shape subgraphs fold: every builder goes
through `ctx.emit`, which computes the result instead of emitting an op when all inputs are
static. Ops whose output shape depends on data (NonZero, Range) are only supported on static
inputs.
"""

from __future__ import annotations

import math
import weakref

import numpy as np

from ...dialects import top
from ...dialects.top.tensor import einsum_shape
from ...kernels import shape as sk
from .importer import ImportFailure, TensorRef
from .registry import onnx_op

# Static refs a builder makes up (not ONNX tensors) are kept alive for the whole import: the
# importer caches materialized values by id(ref), and a freed ref's id could be reused.
_MADE_UP: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _made_up_constant(ctx, array: np.ndarray, name: str) -> TensorRef:
    ref = ctx.constant(array, name=name)
    _MADE_UP.setdefault(ctx, []).append(ref)
    return ref


def _ints(values) -> tuple[int, ...]:
    return tuple(int(v) for v in np.asarray(values).reshape(-1))


def _scalar_int(ctx, ref: TensorRef | None, what: str) -> int:
    array = np.asarray(ctx.static(ref, what))
    if array.size != 1:
        raise ValueError(f"{what} must hold one value, got shape {array.shape}")
    return int(array.reshape(()))


def _axes_arg(ctx, ref: TensorRef | None, attr, what: str) -> tuple[int, ...] | None:
    """Axes given as an input (newer opsets) or as an attribute (older ones); None if neither."""
    if ref is not None:
        return _ints(ctx.static(ref, what))
    return None if attr is None else _ints(attr)


# -- reshapes ------------------------------------------------------------------------------------
def _reshape(ctx, x: TensorRef, shape) -> TensorRef:
    return ctx.emit(top.ReshapeOp, [x], shape=tuple(int(d) for d in shape))


@onnx_op("Flatten")
def flatten(ctx, node, x, *, axis=1):
    rank = len(x.shape)
    if not -rank <= axis <= rank:
        raise ValueError(f"Flatten axis {axis} is out of range for rank {rank}")
    axis = axis + rank if axis < 0 else axis
    return _reshape(ctx, x, (math.prod(x.shape[:axis]), math.prod(x.shape[axis:])))


@onnx_op("Squeeze")
def squeeze(ctx, node, x, axes_in=None, *, axes=None):
    axes = _axes_arg(ctx, axes_in, axes, "Squeeze's axes")
    if not axes:  # absent or empty (as onnxruntime reads an empty axes input): every 1
        return _reshape(ctx, x, [d for d in x.shape if d != 1])
    axes = sk.normalize_axes(axes, len(x.shape), "Squeeze")
    bad = [a for a in axes if x.shape[a] != 1]
    if bad:
        raise ValueError(f"Squeeze: axes {bad} of shape {x.shape} do not have size 1")
    return _reshape(ctx, x, [d for i, d in enumerate(x.shape) if i not in axes])


@onnx_op("Unsqueeze")
def unsqueeze(ctx, node, x, axes_in=None, *, axes=None):
    axes = _axes_arg(ctx, axes_in, axes, "Unsqueeze's axes")
    if axes is None:
        raise ValueError("Unsqueeze needs axes")
    rank = len(x.shape) + len(axes)
    axes = set(sk.normalize_axes(axes, rank, "Unsqueeze"))
    dims = iter(x.shape)
    return _reshape(ctx, x, [1 if i in axes else next(dims) for i in range(rank)])


# -- joining and cutting -------------------------------------------------------------------------
@onnx_op("Concat")
def concat(ctx, node, *inputs, axis):
    inputs = [x for x in inputs if x is not None]
    if not inputs:
        raise ValueError("Concat needs at least one input")
    ranks = {len(x.shape) for x in inputs}
    if len(ranks) != 1:
        raise ValueError(f"Concat inputs differ in rank: {[x.shape for x in inputs]}")
    axis = sk.normalize_axis(int(axis), ranks.pop(), "Concat")
    return ctx.emit(top.ConcatOp, inputs, axis=axis)


def _slice_bounds(dim: int, sl: slice) -> tuple[int, int, int]:
    """A Python slice of one axis as explicit numpy bounds (see top.SliceOp)."""
    start, end, step = sl.indices(dim)
    if len(range(start, end, step)) == 0:
        return 0, 0, step
    if step < 0 and end < 0:
        end = -dim - 1  # numpy's "through index 0" for a negative step
    return start, end, step


def _emit_slice(ctx, x: TensorRef, slices, loc: str | None = None) -> TensorRef:
    bounds = [_slice_bounds(d, s) for d, s in zip(x.shape, slices)]
    return ctx.emit(top.SliceOp, [x], loc=loc, starts=tuple(b[0] for b in bounds),
                    ends=tuple(b[1] for b in bounds), steps=tuple(b[2] for b in bounds))


@onnx_op("Slice")
def slice_(ctx, node, x, starts_in=None, ends_in=None, axes_in=None, steps_in=None, *,
           starts=None, ends=None, axes=None):
    if ctx.opset >= 10:
        starts = _ints(ctx.static(starts_in, "Slice's starts"))
        ends = _ints(ctx.static(ends_in, "Slice's ends"))
        axes = None if axes_in is None else _ints(ctx.static(axes_in, "Slice's axes"))
    elif starts is None or ends is None:
        raise ValueError("Slice needs starts and ends")
    steps = None if steps_in is None else _ints(ctx.static(steps_in, "Slice's steps"))
    slices = sk.normalize_slice(x.shape, _ints(starts), _ints(ends),
                                None if axes is None else _ints(axes), steps)
    return _emit_slice(ctx, x, slices)


@onnx_op("Split")
def split(ctx, node, x, split_in=None, *, axis=0, split=None, num_outputs=None):
    rank = len(x.shape)
    axis = sk.normalize_axis(int(axis), rank, "Split")
    dim = x.shape[axis]
    n = len(node.output)
    if split_in is not None:
        sizes = _ints(ctx.static(split_in, "Split's split"))
    elif split is not None:
        sizes = _ints(split)
    elif num_outputs is not None:
        if int(num_outputs) != n:
            raise ValueError(f"Split: num_outputs {num_outputs} but {n} outputs")
        chunk = -(-dim // n)
        sizes = tuple(min(chunk, max(dim - i * chunk, 0)) for i in range(n))
    else:
        if dim % n:
            raise ValueError(f"Split: dim {dim} of axis {axis} does not split in {n} equal parts")
        sizes = (dim // n,) * n
    if len(sizes) != n or sum(sizes) != dim or min(sizes) < 0:
        raise ValueError(f"Split: sizes {list(sizes)} do not cut dim {dim} into {n} outputs")
    outs, begin = [], 0
    for name, size in zip(node.output, sizes):
        slices = [slice(None)] * rank
        slices[axis] = slice(begin, begin + size)
        begin += size
        outs.append(_emit_slice(ctx, x, slices, loc=name) if name else None)
    return outs


@onnx_op("Tile")
def tile(ctx, node, x, repeats):
    return ctx.emit(top.TileOp, [x], repeats=_ints(ctx.static(repeats, "Tile's repeats")))


@onnx_op("Expand")
def expand(ctx, node, x, shape):
    dims = _ints(ctx.static(shape, "Expand's shape"))
    try:
        out = tuple(int(d) for d in np.broadcast_shapes(x.shape, dims))
    except ValueError:
        raise ValueError(f"Expand: shape {x.shape} does not broadcast with {dims}") from None
    return ctx.emit(top.ExpandOp, [x], shape=out)


@onnx_op("Pad")
def pad(ctx, node, x, pads_in=None, value_in=None, axes_in=None, *, mode="constant",
        pads=None, value=0.0):
    rank = len(x.shape)
    if ctx.opset >= 11:
        pads = _ints(ctx.static(pads_in, "Pad's pads"))
        value = 0 if value_in is None else ctx.static(value_in, "Pad's constant_value")
    elif pads is None:
        raise ValueError("Pad needs pads")
    pads = _ints(pads)
    if axes_in is not None:
        axes = sk.normalize_axes(_ints(ctx.static(axes_in, "Pad's axes")), rank, "Pad")
        if len(pads) != 2 * len(axes):
            raise ValueError(f"Pad: {len(pads)} pads for {len(axes)} axes")
        full = [0] * (2 * rank)
        for k, a in enumerate(axes):
            full[a], full[rank + a] = pads[k], pads[len(axes) + k]
        pads = tuple(full)
    if len(pads) != 2 * rank:
        raise ValueError(f"Pad: {len(pads)} pads for a rank-{rank} input")
    if mode not in ("constant", "reflect", "edge", "wrap"):
        raise ValueError(f"Pad mode {mode!r} is not supported (constant, reflect, edge, wrap)")
    value = np.asarray(value).reshape(-1)
    if value.size > 1:
        raise ValueError(f"Pad's constant_value must be a scalar, got {value.size} values")
    fill = value[0] if value.size else 0
    fill = float(fill) if x.dtype is not None and x.dtype.kind in "fc" else int(fill)
    return ctx.emit(top.PadOp, [x], pads=pads, mode=mode,
                    value=fill if mode == "constant" else None)


# -- indexing ------------------------------------------------------------------------------------
def _wrap_static(ctx, ref: TensorRef, dims: int | tuple[int, ...], what: str) -> TensorRef:
    """Static indices with negative entries -> the same indices made non-negative. `dims` is
    one dim (Gather-style: every index addresses it) or one dim per entry of the indices'
    last axis (GatherND-style, which numpy's trailing broadcast lines up)."""
    if not ref.static:
        return ref
    idx = np.asarray(ref.array)
    if not np.issubdtype(idx.dtype, np.integer):
        raise ValueError(f"{what} must be integers, got {idx.dtype}")
    bound = np.asarray(dims, np.int64)
    if idx.size and ((idx < -bound).any() or (idx >= bound).any()):
        raise ValueError(f"{what} are out of range for dims {bound.tolist()}")
    if not idx.size or idx.min() >= 0:
        return ref
    return _made_up_constant(ctx, np.where(idx < 0, idx + bound, idx).astype(idx.dtype),
                             ctx.sub_loc("indices"))


@onnx_op("Gather")
def gather(ctx, node, x, indices, *, axis=0):
    """A scalar static index on dynamic data (`x[:, 3]`) becomes a slice and a reshape."""
    axis = sk.normalize_axis(int(axis), len(x.shape), "Gather")
    indices = _wrap_static(ctx, indices, x.shape[axis], "Gather's indices")
    if indices.static and indices.array.ndim == 0 and not x.static:
        i = int(indices.array)
        slices = [slice(None)] * len(x.shape)
        slices[axis] = slice(i, i + 1)
        picked = _emit_slice(ctx, x, slices, loc=ctx.sub_loc("slice"))
        return _reshape(ctx, picked, x.shape[:axis] + x.shape[axis + 1:])
    return ctx.emit(top.GatherOp, [x, indices], axis=axis)


@onnx_op("GatherElements")
def gather_elements(ctx, node, x, indices, *, axis=0):
    axis = sk.normalize_axis(int(axis), len(x.shape), "GatherElements")
    indices = _wrap_static(ctx, indices, x.shape[axis], "GatherElements' indices")
    return ctx.emit(top.GatherElementsOp, [x, indices], axis=axis)


def _nd_dims(x: TensorRef, indices: TensorRef, batch_dims: int, op: str) -> tuple[int, ...]:
    k = indices.shape[-1] if indices.shape else 0
    if not 1 <= k <= len(x.shape) - batch_dims:
        raise ValueError(f"{op}: indices of shape {indices.shape} do not fit data {x.shape}")
    return tuple(x.shape[batch_dims:batch_dims + k])


@onnx_op("GatherND")
def gather_nd(ctx, node, x, indices, *, batch_dims=0):
    dims = _nd_dims(x, indices, int(batch_dims), "GatherND")
    indices = _wrap_static(ctx, indices, dims, "GatherND's indices")
    return ctx.emit(top.GatherNDOp, [x, indices], batch_dims=int(batch_dims))


@onnx_op("ScatterND")
def scatter_nd(ctx, node, x, indices, updates, *, reduction="none"):
    if reduction not in ("none", "add", "mul", "max", "min"):
        raise ValueError(f"ScatterND reduction {reduction!r} is not supported")
    indices = _wrap_static(ctx, indices, _nd_dims(x, indices, 0, "ScatterND"),
                           "ScatterND's indices")
    return ctx.emit(top.ScatterNDOp, [x, indices, updates],
                    reduction=None if reduction == "none" else reduction)


# -- depth/space, sorting, scanning, einsum ------------------------------------------------------
@onnx_op("DepthToSpace")
def depth_to_space(ctx, node, x, *, blocksize, mode="DCR"):
    if mode not in ("DCR", "CRD"):
        raise ValueError(f"DepthToSpace mode {mode!r} is not supported (DCR, CRD)")
    return ctx.emit(top.DepthToSpaceOp, [x], blocksize=int(blocksize), mode=mode)


@onnx_op("SpaceToDepth")
def space_to_depth(ctx, node, x, *, blocksize):
    return ctx.emit(top.SpaceToDepthOp, [x], blocksize=int(blocksize))


@onnx_op("TopK")
def topk(ctx, node, x, k_in=None, *, axis=-1, largest=1, sorted=1, k=None):
    """Two outputs -> top.topk_values and top.topk_indices (each emitted only if used)."""
    k = _scalar_int(ctx, k_in, "TopK's K") if k_in is not None else k
    if k is None:
        raise ValueError("TopK needs K")
    attrs = {"k": int(k), "axis": sk.normalize_axis(int(axis), len(x.shape), "TopK"),
             "largest": bool(largest), "sorted": bool(sorted)}
    names = list(node.output) + [""] * (2 - len(node.output))
    return [ctx.emit(op, [x], loc=name, **attrs) if name else None
            for op, name in zip((top.TopKValuesOp, top.TopKIndicesOp), names)]


@onnx_op("CumSum")
def cumsum(ctx, node, x, axis, *, exclusive=0, reverse=0):
    axis = sk.normalize_axis(_scalar_int(ctx, axis, "CumSum's axis"), len(x.shape), "CumSum")
    return ctx.emit(top.CumSumOp, [x], axis=axis, exclusive=bool(exclusive),
                    reverse=bool(reverse))


@onnx_op("Einsum")
def einsum(ctx, node, *inputs, equation):
    inputs = [x for x in inputs if x is not None]
    equation = equation.replace(" ", "")
    einsum_shape(equation, [x.shape for x in inputs])  # a clear error early
    return ctx.emit(top.EinsumOp, inputs, equation=equation)


# -- shape computations --------------------------------------------------------------------------
@onnx_op("Size")
def size(ctx, node, x):
    """Shapes are static once the input shapes are fixed, and so is the size."""
    return ctx.constant(np.array(math.prod(x.shape), np.int64))


@onnx_op("ConstantOfShape")
def constant_of_shape(ctx, node, shape, *, value=None):
    return ctx.constant(sk.constant_of_shape(ctx.static(shape, "ConstantOfShape's shape"),
                                             value))


@onnx_op("Range")
def range_(ctx, node, start, limit, delta):
    return ctx.constant(sk.range(ctx.static(start, "Range's start"),
                                 ctx.static(limit, "Range's limit"),
                                 ctx.static(delta, "Range's delta")))


@onnx_op("NonZero")
def nonzero(ctx, node, x):
    if not x.static:
        raise ImportFailure(f"NonZero on a value that depends on the inputs has a "
                            f"data-dependent shape ('{x.name}')")
    return ctx.constant(sk.nonzero(x.array))
