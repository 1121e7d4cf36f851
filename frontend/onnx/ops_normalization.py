"""Builders for normalizations (top ops in normalization.py), with inference semantics, and
Dropout, which is the identity at inference.

Only the first output (Y) is computed. LayerNormalization may declare Mean and InvStdDev, and
older BatchNormalization training outputs: a declared but unused extra output is fine (PyTorch
exports LayerNormalization with all three); the importer rejects the node if one is used.
"""

from __future__ import annotations

import numpy as np
import onnx

from ...dialects import top
from ...kernels.shape import normalize_axis
from .importer import ImportContext, TensorRef
from .ops_math import f32_attr, same_tensor
from .registry import onnx_op


@onnx_op("BatchNormalization")
def batch_normalization(ctx: ImportContext, node: onnx.NodeProto, x: TensorRef,
                        scale: TensorRef, bias: TensorRef, mean: TensorRef, var: TensorRef, *,
                        epsilon: float = 1e-5, momentum: float = 0.9,
                        training_mode: int = 0, is_test: int = 0,
                        spatial: int = 1, consumed_inputs=None) -> list[TensorRef]:
    """Inference only: `momentum` only affects training and is ignored.

    Older opsets: `is_test` (opsets 1-6; 0, the default, means training mode, which uses the
    batch's statistics), `spatial` (opsets 1-8; 0 means per-activation parameters of shape
    C x D1 x ..., the same as per-channel only for N x C inputs) and `consumed_inputs`
    (opsets 1-5, a memory hint without meaning here)."""
    if training_mode:
        raise ValueError("BatchNormalization with training_mode=1 is not supported "
                         "(inference only)")
    if ctx.opset < 7 and not is_test:
        raise ValueError("BatchNormalization in training mode (is_test=0, the default before "
                         "opset 7) is not supported (inference only)")
    if not spatial and len(x.shape) > 2:
        raise ValueError("BatchNormalization with spatial=0 (per-activation statistics) is "
                         "not supported")
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


@onnx_op("LRN")
def lrn(ctx: ImportContext, node: onnx.NodeProto, x: TensorRef, *, size: int,
        alpha: float = 1e-4, beta: float = 0.75, bias: float = 1.0) -> TensorRef:
    return ctx.emit(top.LRNOp, [x], size=int(size), alpha=f32_attr(alpha),
                    beta=f32_attr(beta), bias=f32_attr(bias))


@onnx_op("Dropout")
def dropout(ctx: ImportContext, node: onnx.NodeProto, x: TensorRef,
            ratio_input: TensorRef | None = None, training_mode: TensorRef | None = None, *,
            ratio: float = 0.5, is_test: int = 0, seed: int | None = None,
            consumed_inputs=None) -> list[TensorRef]:
    """The identity: a model is imported for inference. Only opset 12's explicit
    `training_mode` input set to true with a non-zero ratio (random dropping) is refused; the
    old `is_test` attribute is ignored (an opset-6 graph is read as an inference graph). The
    mask output, when used, is all ones (bool from opset 10, the input's type before): nothing
    was dropped, as ONNX's reference says (onnxruntime's opset 7 and 10 kernels give all zeros
    instead)."""
    if training_mode is not None and bool(np.asarray(
            ctx.static(training_mode, "Dropout's training_mode")).reshape(-1)[0]):
        rate = 0.5 if ratio_input is None else float(
            np.asarray(ctx.static(ratio_input, "Dropout's ratio")).reshape(-1)[0])
        if rate != 0.0:
            raise ValueError(f"Dropout in training mode (training_mode=1, ratio={rate}) drops "
                             f"at random: not supported (inference only)")
    outputs = [same_tensor(ctx, x)]
    if ctx.output_used(1):
        mask_dtype = np.bool_ if ctx.opset >= 10 else x.dtype
        outputs.append(ctx.constant(np.ones(x.shape, mask_dtype), name=node.output[1]))
    return outputs
