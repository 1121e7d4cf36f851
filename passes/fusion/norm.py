"""LayerNormalization from its decomposed form, as exporters of older opsets write it:

    mean = reduce_mean(x, axes = trailing)        d = x - mean
    var  = reduce_mean(d ^ 2 | d * d, same axes)  y = d / sqrt(var + eps)
    [y * gamma] [+ beta]

The division becomes `top.layer_normalization` with unit scale and zero bias; a following
multiply or add by a constant over the normalized shape folds into its scale and bias."""

from __future__ import annotations

import numpy as np

from ...compiler.ir import Operation, Value
from ...compiler.rewrite import Rewriter, pattern
from ...dialects import top
from .match import const_array, const_scalar, new_constant, single_use


def _trailing_axes(op: Operation, rank: int) -> int | None:
    """The first normalized axis if `op` reduces the trailing axes with keepdims, else None."""
    if not isinstance(op, top.ReduceMeanOp) or not op.keepdims:
        return None
    axes = sorted(a % rank for a in op.axes)
    if not axes or axes != list(range(axes[0], rank)):
        return None
    return axes[0]


def _squared(value: Value, d: Value, rw: Rewriter) -> bool:
    op = value.owner
    if isinstance(op, top.PowOp):
        return op.lhs is d and const_scalar(op.rhs, rw.module) == 2.0
    return isinstance(op, top.MulOp) and op.lhs is d and op.rhs is d


@pattern(top.DivOp)
def fuse_layer_norm(div: top.DivOp, rw: Rewriter) -> bool:
    sub, sqrt = div.lhs.owner, div.rhs.owner
    if not isinstance(sub, top.SubOp) or not isinstance(sqrt, top.SqrtOp):
        return False
    x, mean = sub.lhs, sub.rhs
    rank = x.type.rank
    axis = _trailing_axes(mean.owner, rank)
    if axis is None or mean.owner.input is not x:
        return False
    add = sqrt.input.owner
    if not isinstance(add, top.AddOp):
        return False
    for var, eps_value in ((add.lhs, add.rhs), (add.rhs, add.lhs)):
        eps = const_scalar(eps_value, rw.module)
        var_op = var.owner
        if eps is None or _trailing_axes(var_op, rank) != axis:
            continue
        if not _squared(var_op.input, div.lhs, rw):
            continue
        norm_shape = x.type.shape[axis:]
        dtype = x.type.expressed.numpy_dtype
        scale = new_constant(rw, div, np.ones(norm_shape, dtype), f"{div.loc}_scale")
        bias = new_constant(rw, div, np.zeros(norm_shape, dtype), f"{div.loc}_bias")
        new = Operation.create("top.layer_normalization", [x, scale, bias],
                               [div.output.type], {"axis": axis, "epsilon": _f32(eps)}, div.loc)
        rw.replace_op(div, new)
        return True
    return False


def _affine_constant(op: Operation, rw: Rewriter):
    """(layer_norm op, constant) for ln * c / ln + c with c over the normalized shape."""
    for v, c in ((op.lhs, op.rhs), (op.rhs, op.lhs)):
        ln = v.owner
        if isinstance(ln, top.LayerNormalizationOp) and single_use(v) and \
                op.output.type.shape == v.type.shape:
            array = const_array(c, rw.module)
            norm_shape = v.type.shape[ln.axis:]
            if array is not None and np.broadcast_shapes(array.shape, norm_shape) == norm_shape \
                    and array.ndim <= len(norm_shape):
                return ln, np.broadcast_to(array, norm_shape).astype(np.float64)
    return None


def _rebuild_ln(rw: Rewriter, ln: Operation, old: Operation, scale, bias) -> None:
    dtype = ln.input.type.expressed.numpy_dtype
    s = new_constant(rw, ln, scale.astype(dtype), f"{old.loc}_scale")
    b = new_constant(rw, ln, bias.astype(dtype), f"{old.loc}_bias")
    rw.replace_op(old, Operation.create("top.layer_normalization", [ln.input, s, b],
                                        [old.results[0].type], ln.attributes, old.loc))


def _ln_params(ln: Operation, rw: Rewriter):
    scale = const_array(ln.scale, rw.module)
    bias = const_array(ln.bias, rw.module) if ln.bias is not None else 0.0
    if scale is None or bias is None:
        return None
    return scale.astype(np.float64), np.asarray(bias, np.float64)


@pattern(top.MulOp)
def fold_mul_into_layer_norm(mul: top.MulOp, rw: Rewriter) -> bool:
    found = _affine_constant(mul, rw)
    params = _ln_params(found[0], rw) if found else None
    if params is None:
        return False
    (ln, c), (scale, bias) = found, params
    _rebuild_ln(rw, ln, mul, scale * c, bias * c)
    return True


@pattern(top.AddOp)
def fold_add_into_layer_norm(add: top.AddOp, rw: Rewriter) -> bool:
    found = _affine_constant(add, rw)
    params = _ln_params(found[0], rw) if found else None
    if params is None:
        return False
    (ln, c), (scale, bias) = found, params
    _rebuild_ln(rw, ln, add, scale, bias + c)
    return True


PATTERNS = [fuse_layer_norm, fold_mul_into_layer_norm, fold_add_into_layer_norm]


def _f32(x: float) -> float:
    """The float32 value as the shortest decimal that reads back to it (1e-05, not
    9.999999747378752e-06): what an f32 constant in the model meant."""
    return float(str(np.float32(x)))
