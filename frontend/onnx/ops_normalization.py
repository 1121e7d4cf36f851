"""Builders for normalizations (top ops in normalization.py), with inference semantics.

Only the first output (Y) is computed. LayerNormalization may declare Mean and InvStdDev, and
older BatchNormalization training outputs: a declared but unused extra output is fine (PyTorch
exports LayerNormalization with all three); the importer rejects the node if one is used.
"""

from __future__ import annotations

import onnx

from ...dialects import top
from ...kernels.shape import normalize_axis
from .importer import ImportContext, TensorRef
from .ops_math import f32_attr
from .registry import onnx_op


@onnx_op("BatchNormalization")
def batch_normalization(ctx: ImportContext, node: onnx.NodeProto, x: TensorRef,
                        scale: TensorRef, bias: TensorRef, mean: TensorRef, var: TensorRef, *,
                        epsilon: float = 1e-5, momentum: float = 0.9,
                        training_mode: int = 0) -> list[TensorRef]:
    """Inference only: `momentum` only affects training and is ignored."""
    if training_mode:
        raise ValueError("BatchNormalization with training_mode=1 is not supported "
                         "(inference only)")
    y = ctx.emit(top.BatchNormalizationOp, [x, scale, bias, mean, var],
                 epsilon=f32_attr(epsilon))
    return y  # only Y: the importer rejects the node if a training output is used


@onnx_op("LayerNormalization")
def layer_normalization(ctx: ImportContext, node: onnx.NodeProto, x: TensorRef,
                        scale: TensorRef, bias: TensorRef | None = None, *, axis: int = -1,
                        epsilon: float = 1e-5, stash_type: int = 1) -> list[TensorRef]:
    """`stash_type` picks the precision of the statistics; the kernel always uses float64,
    which is at least as precise as any choice."""
    axis = normalize_axis(int(axis), len(x.shape), "LayerNormalization")
    y = ctx.emit(top.LayerNormalizationOp, [x, scale, bias], axis=axis,
                 epsilon=f32_attr(epsilon))
    return y  # only Y: the importer rejects the node if Mean or InvStdDev is used


@onnx_op("InstanceNormalization")
def instance_normalization(ctx: ImportContext, node: onnx.NodeProto, x: TensorRef,
                           scale: TensorRef, bias: TensorRef, *,
                           epsilon: float = 1e-5) -> TensorRef:
    return ctx.emit(top.InstanceNormalizationOp, [x, scale, bias], epsilon=f32_attr(epsilon))


@onnx_op("LpNormalization")
def lp_normalization(ctx: ImportContext, node: onnx.NodeProto, x: TensorRef, *,
                     axis: int = -1, p: int = 2) -> TensorRef:
    if p not in (1, 2):
        raise ValueError(f"LpNormalization p must be 1 or 2, got {p}")
    axis = normalize_axis(int(axis), len(x.shape), "LpNormalization")
    return ctx.emit(top.LpNormalizationOp, [x], axis=axis, p=int(p))
