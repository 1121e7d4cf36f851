"""Fusions into convolutions (and Gemm): BatchNorm, Pad, scalar/per-channel Mul and Add, and
the activation that follows. Each fused op takes the loc of the last op it replaces, so its
output still compares with that ONNX tensor."""

from __future__ import annotations

import numpy as np

from ...compiler.ir import Operation
from ...compiler.rewrite import Rewriter, pattern
from ...dialects import top
from .match import const_array, new_constant, per_channel, single_use

_CONVS = (top.ConvOp, top.ConvTransposeOp)


def _rebuild_conv(rw: Rewriter, conv: Operation, replaced: Operation, weight: np.ndarray,
                  bias: np.ndarray, **changes) -> None:
    """Replace `replaced` (whose input is `conv`) by a copy of `conv` with new weights."""
    loc = replaced.loc
    w = new_constant(rw, conv, weight.astype(np.float32), f"{loc}_filter")
    b = new_constant(rw, conv, bias.astype(np.float32), f"{loc}_bias")
    attrs = {**conv.attributes, **changes}
    new = Operation.create(conv.name, [conv.input, w, b], [replaced.results[0].type], attrs, loc)
    rw.replace_op(replaced, new)


def _conv_params(rw: Rewriter, conv: Operation) -> tuple[np.ndarray, np.ndarray] | None:
    w = const_array(conv.filter, rw.module)
    if w is None:
        return None
    b = const_array(conv.bias, rw.module) if conv.bias is not None else None
    if conv.bias is not None and b is None:
        return None
    out_channels = w.shape[0] if conv.name == "top.conv" else w.shape[1] * conv.group
    return w.astype(np.float64), (np.zeros(out_channels) if b is None else b.astype(np.float64))


def _scale_out_channels(conv: Operation, w: np.ndarray, s: np.ndarray) -> np.ndarray:
    """Multiply each output channel's filter by s (conv: axis 0; conv_transpose: the filter
    is (Cin, Cout/group, k...), output channel g*Cout/group + j)."""
    if conv.name == "top.conv":
        return w * s.reshape((-1,) + (1,) * (w.ndim - 1))
    g = conv.group
    per_group = w.shape[1]
    cin_g = w.shape[0] // g
    grouped = w.reshape((g, cin_g, per_group) + w.shape[2:])
    grouped = grouped * s.reshape((g, 1, per_group) + (1,) * (w.ndim - 2))
    return grouped.reshape(w.shape)


def _bn_scale_shift(rw: Rewriter, bn: top.BatchNormalizationOp):
    arrays = [const_array(v, rw.module) for v in (bn.scale, bn.bias, bn.mean, bn.var)]
    if any(a is None for a in arrays):
        return None
    scale, bias, mean, var = (a.astype(np.float64) for a in arrays)
    s = scale / np.sqrt(var + bn.epsilon)
    return s, bias - mean * s


@pattern(top.BatchNormalizationOp)
def fold_batchnorm_into_conv(bn: top.BatchNormalizationOp, rw: Rewriter) -> bool:
    conv = bn.input.owner
    if not isinstance(conv, _CONVS) or not single_use(conv.output) or \
            conv.attributes.get("do_relu"):
        return False
    params, ss = _conv_params(rw, conv), _bn_scale_shift(rw, bn)
    if params is None or ss is None:
        return False
    (w, b), (s, shift) = params, ss
    _rebuild_conv(rw, conv, bn, _scale_out_channels(conv, w, s), b * s + shift)
    return True


@pattern(top.BatchNormalizationOp)
def fold_batchnorm_into_gemm(bn: top.BatchNormalizationOp, rw: Rewriter) -> bool:
    gemm = bn.input.owner
    if not isinstance(gemm, top.GemmOp) or not single_use(gemm.output) or \
            gemm.output.type.rank != 2:
        return False
    b = const_array(gemm.b, rw.module)
    c = const_array(gemm.c, rw.module) if gemm.c is not None else np.zeros(())
    ss = _bn_scale_shift(rw, bn)
    if b is None or c is None or ss is None:
        return False
    s, shift = ss
    n = gemm.output.type.shape[1]
    b64 = b.astype(np.float64)
    b64 = b64 * (s[:, None] if gemm.trans_b else s[None, :])
    c64 = np.broadcast_to(c.astype(np.float64) * gemm.beta, (n,)) if c.ndim <= 1 else None
    if c64 is None:  # a full (M, N) C: keep it 2-D
        c64 = c.astype(np.float64) * gemm.beta
        new_c = c64 * s[None, :] + shift[None, :]
    else:
        new_c = c64 * s + shift
    loc = bn.loc
    bv = new_constant(rw, gemm, b64.astype(np.float32), f"{loc}_b")
    cv = new_constant(rw, gemm, new_c.astype(np.float32), f"{loc}_c")
    attrs = {**gemm.attributes, "beta": 1.0}
    rw.replace_op(bn, Operation.create("top.gemm", [gemm.a, bv, cv], [bn.output.type], attrs,
                                       loc))
    return True


@pattern(top.ConvOp)
def fold_pad_into_conv(conv: top.ConvOp, rw: Rewriter) -> bool:
    pad = conv.input.owner
    if not isinstance(pad, top.PadOp) or pad.mode != "constant" or pad.value != 0:
        return False
    pads = list(pad.pads)
    rank = len(pads) // 2
    begin, end = pads[:rank], pads[rank:]
    if begin[:2] != [0, 0] or end[:2] != [0, 0] or min(pads) < 0:
        return False
    spatial = rank - 2
    old = list(conv.pads)
    new_pads = [old[i] + begin[2 + i] for i in range(spatial)] + \
               [old[spatial + i] + end[2 + i] for i in range(spatial)]
    operands = [pad.input, *conv.operands[1:]]
    attrs = {**conv.attributes, "pads": tuple(new_pads)}
    rw.replace_op(conv, Operation.create("top.conv", operands, [conv.output.type], attrs,
                                         conv.loc))
    return True


@pattern(top.ReluOp)
def fuse_relu_into_conv(relu: top.ReluOp, rw: Rewriter) -> bool:
    conv = relu.input.owner
    if not isinstance(conv, top.ConvOp) or not single_use(conv.output) or conv.do_relu:
        return False
    attrs = {**conv.attributes, "do_relu": True}
    rw.replace_op(relu, Operation.create("top.conv", conv.operands, [relu.output.type], attrs,
                                         relu.loc))
    return True


def _conv_and_constant(op: Operation, rw: Rewriter, commutative: bool):
    """(conv, per-channel constant as (C,) float64) for `conv <op> c` (or `c <op> conv`)."""
    pairs = [(op.lhs, op.rhs)] + ([(op.rhs, op.lhs)] if commutative else [])
    for x, c in pairs:
        conv = x.owner
        same_shape = op.output.type.shape == x.type.shape
        if isinstance(conv, _CONVS) and single_use(conv.output) and same_shape and \
                not conv.attributes.get("do_relu"):
            array = const_array(c, rw.module)
            if array is None:
                continue
            out_channels = conv.output.type.shape[1]
            vec = per_channel(array, out_channels, conv.output.type.rank)
            if vec is not None:
                return conv, vec.astype(np.float64)
    return None


def _fold_channel_op(op: Operation, rw: Rewriter, commutative: bool, new_params) -> bool:
    """conv <op> c, c per output channel: `new_params(w, b, conv, c)` gives the new filter
    and bias (or None when the fold is not exact)."""
    found = _conv_and_constant(op, rw, commutative)
    if found is None:
        return False
    conv, c = found
    params = _conv_params(rw, conv)
    new = None if params is None else new_params(*params, conv, c)
    if new is None:
        return False
    _rebuild_conv(rw, conv, op, *new)
    return True


@pattern(top.MulOp)
def fold_mul_into_conv(mul: top.MulOp, rw: Rewriter) -> bool:
    return _fold_channel_op(mul, rw, True,
                            lambda w, b, conv, c: (_scale_out_channels(conv, w, c), b * c))


@pattern(top.DivOp)
def fold_div_into_conv(div: top.DivOp, rw: Rewriter) -> bool:
    return _fold_channel_op(div, rw, False, lambda w, b, conv, c: None if np.any(c == 0) else
                            (_scale_out_channels(conv, w, 1.0 / c), b / c))


@pattern(top.AddOp)
def fold_add_into_conv(add: top.AddOp, rw: Rewriter) -> bool:
    return _fold_channel_op(add, rw, True, lambda w, b, conv, c: (w, b + c))


@pattern(top.SubOp)
def fold_sub_into_conv(sub: top.SubOp, rw: Rewriter) -> bool:
    return _fold_channel_op(sub, rw, False, lambda w, b, conv, c: (w, b - c))


PATTERNS = [fold_batchnorm_into_conv, fold_batchnorm_into_gemm, fold_pad_into_conv,
            fold_mul_into_conv, fold_div_into_conv, fold_add_into_conv, fold_sub_into_conv,
            fuse_relu_into_conv]
