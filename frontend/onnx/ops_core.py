"""Builders for the ops every model has: constants, identity, basic arithmetic, Conv,
Reshape, Transpose, Shape. Other families live in their own ops_*.py files."""

from __future__ import annotations

import numpy as np

from ...dialects import top
from ...kernels import conv as conv_kernels
from ...kernels import shape as shape_kernels
from .registry import onnx_op


@onnx_op("Constant")
def constant(ctx, node, *, value=None, value_float=None, value_floats=None, value_int=None,
             value_ints=None, sparse_value=None, value_string=None, value_strings=None):
    if value is not None:
        return ctx.constant(value)
    if value_float is not None:
        return ctx.constant(np.array(value_float, np.float32))
    if value_floats is not None:
        return ctx.constant(np.array(value_floats, np.float32))
    if value_int is not None:
        return ctx.constant(np.array(value_int, np.int64))
    if value_ints is not None:
        return ctx.constant(np.array(value_ints, np.int64))
    raise ValueError("Constant with a sparse or string value is not supported")


@onnx_op("Identity")
def identity(ctx, node, x):
    return x


_BINARY = {"Add": top.AddOp, "Sub": top.SubOp, "Mul": top.MulOp, "Div": top.DivOp}


@onnx_op(*_BINARY)
def binary(ctx, node, a, b, *, broadcast=0, axis=None):
    """Opsets 1-6: broadcast=1 lets B broadcast to A, aligned from `axis` (default trailing)."""
    if ctx.opset < 7 and broadcast and axis is not None:
        axis = axis + len(a.shape) if axis < 0 else axis
        trailing = len(a.shape) - axis - len(b.shape)
        if trailing < 0:
            raise ValueError(f"{node.op_type}: B of shape {b.shape} does not fit A of shape "
                             f"{a.shape} from axis {axis}")
        if trailing:
            b = ctx.emit(top.ReshapeOp, [b], loc=ctx.sub_loc("b"),
                         shape=tuple(b.shape) + (1,) * trailing)
    return ctx.emit(_BINARY[node.op_type], [a, b])


@onnx_op("Relu")
def relu(ctx, node, x):
    return ctx.emit(top.ReluOp, [x])


@onnx_op("Sigmoid")
def sigmoid(ctx, node, x):
    return ctx.emit(top.SigmoidOp, [x])


@onnx_op("Conv")
def conv(ctx, node, x, w, b=None, *, auto_pad="NOTSET", dilations=None, group=1,
         kernel_shape=None, pads=None, strides=None):
    w_shape = w.shape
    spatial = len(w_shape) - 2
    if kernel_shape is not None and tuple(kernel_shape) != tuple(w_shape[2:]):
        raise ValueError(f"kernel_shape {list(kernel_shape)} disagrees with the filter's "
                         f"spatial shape {list(w_shape[2:])}")
    strides = list(strides or [1] * spatial)
    dilations = list(dilations or [1] * spatial)
    pads = conv_kernels.resolve_auto_pad(auto_pad, x.shape[2:], w_shape[2:], strides,
                                         dilations, pads)
    return ctx.emit(top.ConvOp, [x, w, b], strides=tuple(strides), pads=tuple(pads),
                    dilations=tuple(dilations), group=int(group))


@onnx_op("Reshape")
def reshape(ctx, node, x, shape, *, allowzero=0):
    target = shape_kernels.resolve_reshape_shape(x.shape, ctx.static(shape, "Reshape's shape"),
                                                 bool(allowzero))
    return ctx.emit(top.ReshapeOp, [x], shape=tuple(int(d) for d in target))


@onnx_op("Transpose")
def transpose(ctx, node, x, *, perm=None):
    perm = list(perm) if perm is not None else list(reversed(range(len(x.shape))))
    return ctx.emit(top.TransposeOp, [x], perm=tuple(int(p) for p in perm))


@onnx_op("Shape")
def shape(ctx, node, x, *, start=0, end=None):
    """Shapes are static once input shapes are fixed: always a compile-time constant."""
    return ctx.constant(shape_kernels.shape_of(np.empty(x.shape, np.uint8), start=start, end=end))
