"""Builders for reductions and ArgMax/ArgMin (top ops in reduce.py).

`axes` is an attribute up to opset 17 (ReduceSum: 12) and an optional input after, which
must then be static. The top ops always carry explicit, sorted, non-negative axes: no axes
means every axis, unless noop_with_empty_axes is set, when nothing is reduced.
"""

from __future__ import annotations

import numpy as np
import onnx

from ...dialects import top
from ...kernels.shape import normalize_axes, normalize_axis
from .importer import ImportContext, TensorRef
from .ops_math import same_tensor
from .registry import onnx_op

_REDUCE = {
    "ReduceMean": top.ReduceMeanOp, "ReduceSum": top.ReduceSumOp,
    "ReduceMax": top.ReduceMaxOp, "ReduceMin": top.ReduceMinOp,
    "ReduceProd": top.ReduceProdOp, "ReduceL1": top.ReduceL1Op, "ReduceL2": top.ReduceL2Op,
    "ReduceSumSquare": top.ReduceSumSquareOp, "ReduceLogSumExp": top.ReduceLogSumExpOp,
}
# Reducing no axis leaves these unchanged, so noop_with_empty_axes needs no op at all; the
# others still map each element (|x|, x * x, ...) and are emitted with axes = [].
_IDENTITY_WHEN_EMPTY = {"ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd"}


@onnx_op(*_REDUCE)
def reduce(ctx: ImportContext, node: onnx.NodeProto, x: TensorRef,
           axes_input: TensorRef | None = None, *, axes: list[int] | None = None,
           keepdims: int = 1, noop_with_empty_axes: int = 0) -> TensorRef:
    if axes_input is not None:
        if axes is not None:
            raise ValueError("axes given both as an attribute and as an input")
        axes = np.asarray(ctx.static(axes_input, f"{node.op_type}'s axes")).reshape(-1).tolist()
    rank = len(x.shape)
    if not axes:
        if noop_with_empty_axes:
            if node.op_type in _IDENTITY_WHEN_EMPTY:
                return same_tensor(ctx, x)
            normalized: tuple[int, ...] = ()
        else:
            normalized = tuple(range(rank))
    else:
        normalized = tuple(sorted(normalize_axes(axes, rank, node.op_type)))
    return ctx.emit(_REDUCE[node.op_type], [x], axes=normalized, keepdims=bool(keepdims))


_ARG = {"ArgMax": top.ArgMaxOp, "ArgMin": top.ArgMinOp}


@onnx_op(*_ARG)
def arg_reduce(ctx: ImportContext, node: onnx.NodeProto, x: TensorRef, *, axis: int = 0,
               keepdims: int = 1, select_last_index: int = 0) -> TensorRef:
    axis = normalize_axis(int(axis), len(x.shape), node.op_type)
    return ctx.emit(_ARG[node.op_type], [x], axis=axis, keepdims=bool(keepdims),
                    select_last_index=bool(select_last_index))
