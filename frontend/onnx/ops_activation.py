"""Builders for activations (top ops in activation.py); Relu and Sigmoid are in ops_core.py."""

from __future__ import annotations

import math

import numpy as np
import onnx

from ...dialects import top
from ...kernels import activation as act
from ...kernels.shape import normalize_axis
from .importer import ImportContext, TensorRef
from .ops_math import f32_attr, same_tensor
from .registry import onnx_op

_SIMPLE = {"HardSwish": top.HardSwishOp, "Tanh": top.TanhOp, "Softplus": top.SoftplusOp,
           "Mish": top.MishOp, "Softsign": top.SoftsignOp}


@onnx_op(*_SIMPLE)
def simple(ctx: ImportContext, node: onnx.NodeProto, x: TensorRef) -> TensorRef:
    return ctx.emit(_SIMPLE[node.op_type], [x])


@onnx_op("LeakyRelu")
def leaky_relu(ctx: ImportContext, node: onnx.NodeProto, x: TensorRef, *,
               alpha: float = 0.01) -> TensorRef:
    return ctx.emit(top.LeakyReluOp, [x], alpha=f32_attr(alpha))


@onnx_op("PRelu")
def prelu(ctx: ImportContext, node: onnx.NodeProto, x: TensorRef,
          slope: TensorRef) -> TensorRef:
    """Before opset 7 a 1-D slope of C values is per channel (dimension 1), as PyTorch means
    it; from opset 7 the slope broadcasts numpy-style (trailing dimensions aligned). The old
    form becomes a [C, 1, ...] slope."""
    rank = len(x.shape)
    if (ctx.opset < 7 and len(slope.shape) == 1 and rank >= 3 and slope.shape[0] > 1
            and slope.shape[0] == x.shape[1]):
        per_channel = (slope.shape[0],) + (1,) * (rank - 2)
        slope = ctx.emit(top.ReshapeOp, [slope], loc=ctx.sub_loc("slope"), shape=per_channel)
    return ctx.emit(top.PReluOp, [x, slope])


@onnx_op("Shrink")
def shrink(ctx: ImportContext, node: onnx.NodeProto, x: TensorRef, *, bias: float = 0.0,
           lambd: float = 0.5) -> TensorRef:
    return ctx.emit(top.ShrinkOp, [x], bias=f32_attr(bias), lambd=f32_attr(lambd))


def _bound(ctx: ImportContext, ref: TensorRef | None, what: str,
           dtype: np.dtype) -> float | int | None:
    """A Clip bound given as an input (opset >= 11): static, one element, as an attribute
    value that converts back to the input's dtype exactly."""
    if ref is None:
        return None
    value = np.asarray(ctx.static(ref, what))
    if value.size != 1:
        raise ValueError(f"{what} must be a scalar, got shape {value.shape}")
    scalar = value.reshape(())[()].astype(dtype)
    if dtype.kind == "f":
        return float(str(scalar))  # shortest text of the value in its own dtype
    if dtype.kind == "b":
        raise ValueError("Clip of bool tensors is not supported")
    return int(scalar)


@onnx_op("Clip")
def clip(ctx: ImportContext, node: onnx.NodeProto, x: TensorRef, min_input=None,
         max_input=None, *, min: float | None = None, max: float | None = None) -> TensorRef:
    """Opset < 11 has the bounds as attributes, later opsets as (static) inputs."""
    dtype = np.dtype(x.dtype)
    lo = _bound(ctx, min_input, "Clip's min", dtype)
    hi = _bound(ctx, max_input, "Clip's max", dtype)
    if min is not None:
        lo = f32_attr(min)
    if max is not None:
        hi = f32_attr(max)
    if lo is None and hi is None:
        return same_tensor(ctx, x)  # no bound: the identity
    return ctx.emit(top.ClipOp, [x], min=lo, max=hi)


@onnx_op("HardSigmoid")
def hard_sigmoid(ctx: ImportContext, node: onnx.NodeProto, x: TensorRef, *,
                 alpha: float = 0.2, beta: float = 0.5) -> TensorRef:
    return ctx.emit(top.HardSigmoidOp, [x], alpha=f32_attr(alpha), beta=f32_attr(beta))


@onnx_op("Gelu")
def gelu(ctx: ImportContext, node: onnx.NodeProto, x: TensorRef, *,
         approximate: str = "none") -> TensorRef:
    if approximate not in ("none", "tanh"):
        raise ValueError(f"Gelu approximate must be 'none' or 'tanh', got {approximate!r}")
    return ctx.emit(top.GeluOp, [x], approximate=approximate)


@onnx_op("Elu")
def elu(ctx: ImportContext, node: onnx.NodeProto, x: TensorRef, *,
        alpha: float = 1.0) -> TensorRef:
    return ctx.emit(top.EluOp, [x], alpha=f32_attr(alpha))


@onnx_op("Selu")
def selu(ctx: ImportContext, node: onnx.NodeProto, x: TensorRef, *,
         alpha: float = act.SELU_ALPHA, gamma: float = act.SELU_GAMMA) -> TensorRef:
    return ctx.emit(top.SeluOp, [x], alpha=f32_attr(alpha), gamma=f32_attr(gamma))


_SOFTMAX = {"Softmax": top.SoftmaxOp, "LogSoftmax": top.LogSoftmaxOp}


@onnx_op(*_SOFTMAX)
def softmax(ctx: ImportContext, node: onnx.NodeProto, x: TensorRef, *,
            axis: int | None = None) -> TensorRef:
    """From opset 13 the op normalizes along `axis` (default -1). Before, it coerced the input
    to 2-D [prod(shape[:axis]), prod(shape[axis:])] (default axis 1) and normalized each row:
    that is a reshape, top.softmax along axis 1, and a reshape back, unless the dimensions
    after `axis` are all 1, when the two readings agree."""
    op_class = _SOFTMAX[node.op_type]
    rank = len(x.shape)
    if rank == 0:
        raise ValueError(f"{node.op_type} of a rank-0 tensor is not supported")
    if ctx.opset >= 13:
        axis = normalize_axis(-1 if axis is None else int(axis), rank, node.op_type)
        return ctx.emit(op_class, [x], axis=axis)
    axis = normalize_axis(1 if axis is None else int(axis), rank, node.op_type)
    if all(d == 1 for d in x.shape[axis + 1:]):
        return ctx.emit(op_class, [x], axis=axis)
    rows = (math.prod(x.shape[:axis]), math.prod(x.shape[axis:]))
    flat = ctx.emit(top.ReshapeOp, [x], loc=ctx.sub_loc("2d"), shape=rows)
    y = ctx.emit(op_class, [flat], loc=ctx.sub_loc(node.op_type.lower()), axis=1)
    return ctx.emit(top.ReshapeOp, [y], shape=tuple(int(d) for d in x.shape))
