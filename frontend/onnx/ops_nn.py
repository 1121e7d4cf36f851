"""Builders for the neural-network ops other than Conv (which is in ops_core.py):
ConvTranspose, MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool, MatMul, Gemm.

`auto_pad` and ConvTranspose's `output_shape` are resolved here into explicit pads.
"""

from __future__ import annotations

from collections.abc import Sequence

from ...dialects import top
from ...dialects.top.nn import matmul_shape
from ...kernels import conv as conv_kernels
from .registry import onnx_op


def _ints(values: Sequence[int] | None, default: list[int]) -> tuple[int, ...]:
    return tuple(int(v) for v in (default if values is None else values))


def _check_kernel_shape(kernel_shape: Sequence[int] | None, w_shape: tuple[int, ...]) -> None:
    """ONNX lets kernel_shape be stated; it must then agree with the filter."""
    if kernel_shape is not None and tuple(int(k) for k in kernel_shape) != tuple(w_shape[2:]):
        raise ValueError(f"kernel_shape {list(kernel_shape)} does not match the filter's "
                         f"spatial shape {list(w_shape[2:])}")


def _rank_check(op_type: str, x, minimum: int = 3) -> int:
    if len(x.shape) < minimum:
        raise ValueError(f"{op_type} needs an (N, C, *spatial) input, got shape {x.shape}")
    return len(x.shape) - 2


@onnx_op("ConvTranspose")
def conv_transpose(ctx, node, x, w, b=None, *, auto_pad="NOTSET", dilations=None, group=1,
                   kernel_shape=None, output_padding=None, output_shape=None, pads=None,
                   strides=None):
    spatial = _rank_check("ConvTranspose", x)
    if len(w.shape) != len(x.shape):
        raise ValueError(f"filter shape {w.shape} does not match input rank {len(x.shape)}")
    _check_kernel_shape(kernel_shape, w.shape)
    strides = _ints(strides, [1] * spatial)
    dilations = _ints(dilations, [1] * spatial)
    output_padding = _ints(output_padding, [0] * spatial)
    pads = conv_kernels.resolve_conv_transpose_pads(
        auto_pad, x.shape[2:], w.shape[2:], strides, dilations, output_padding,
        None if output_shape is None else [int(d) for d in output_shape], pads)
    return ctx.emit(top.ConvTransposeOp, [x, w, b], strides=strides, pads=tuple(pads),
                    dilations=dilations, output_padding=output_padding, group=int(group))


def _pool_attrs(op_type: str, x, auto_pad: str, kernel_shape, strides, pads, dilations
                ) -> dict:
    """Normalized kernel_shape/strides/pads/dilations of a windowed pool.

    SAME_* pads use the dilated kernel extent, as the ONNX spec says (output
    `ceil(in / stride)`); onnxruntime 1.x ignores the dilation there and so produces a smaller
    output for SAME pools with dilations > 1."""
    spatial = _rank_check(op_type, x)
    if kernel_shape is None:
        raise ValueError(f"{op_type} requires the kernel_shape attribute")
    kernel = _ints(kernel_shape, [])
    if len(kernel) != spatial:
        raise ValueError(f"kernel_shape {list(kernel)} does not match {spatial} spatial dims")
    strides = _ints(strides, [1] * spatial)
    dilations = _ints(dilations, [1] * spatial)
    pads = conv_kernels.resolve_auto_pad(auto_pad, x.shape[2:], kernel, strides, dilations,
                                         pads)
    return {"kernel_shape": kernel, "strides": strides, "pads": tuple(int(p) for p in pads),
            "dilations": dilations}


@onnx_op("MaxPool")
def max_pool(ctx, node, x, *, auto_pad="NOTSET", ceil_mode=0, dilations=None,
             kernel_shape=None, pads=None, storage_order=0, strides=None):
    if len(node.output) > 1 and node.output[1]:
        raise ValueError(f"MaxPool's Indices output ('{node.output[1]}') is not supported")
    attrs = _pool_attrs("MaxPool", x, auto_pad, kernel_shape, strides, pads, dilations)
    return ctx.emit(top.MaxPoolOp, [x], ceil_mode=bool(ceil_mode), **attrs)


@onnx_op("AveragePool")
def average_pool(ctx, node, x, *, auto_pad="NOTSET", ceil_mode=0, count_include_pad=0,
                 dilations=None, kernel_shape=None, pads=None, strides=None):
    attrs = _pool_attrs("AveragePool", x, auto_pad, kernel_shape, strides, pads, dilations)
    return ctx.emit(top.AveragePoolOp, [x], ceil_mode=bool(ceil_mode),
                    count_include_pad=bool(count_include_pad), **attrs)


@onnx_op("GlobalAveragePool")
def global_average_pool(ctx, node, x):
    _rank_check("GlobalAveragePool", x)
    return ctx.emit(top.GlobalAveragePoolOp, [x])


@onnx_op("GlobalMaxPool")
def global_max_pool(ctx, node, x):
    _rank_check("GlobalMaxPool", x)
    return ctx.emit(top.GlobalMaxPoolOp, [x])


@onnx_op("MatMul")
def matmul(ctx, node, a, b):
    shape = matmul_shape(a.shape, b.shape)
    if isinstance(shape, str):
        raise ValueError(f"MatMul: {shape}")
    return ctx.emit(top.MatMulOp, [a, b])


@onnx_op("Gemm")
def gemm(ctx, node, a, b, c=None, *, alpha=1.0, beta=1.0, transA=0, transB=0, broadcast=0):
    """`broadcast` (opsets 1-6) says whether C may broadcast; C's shape is checked by the op
    either way (with broadcast=0 it must already be M x N, which broadcasts trivially)."""
    if len(a.shape) != 2 or len(b.shape) != 2:
        raise ValueError(f"Gemm needs 2-D A and B, got {a.shape} and {b.shape}")
    return ctx.emit(top.GemmOp, [a, b, c], alpha=float(alpha), beta=float(beta),
                    trans_a=bool(transA), trans_b=bool(transB))
