"""Canonicalization patterns of the top dialect (run by the `canonicalize` pass)."""

from __future__ import annotations

from ...compiler.rewrite import Rewriter, pattern
from . import base as top


@pattern(top.TransposeOp)
def drop_identity_transpose(op: top.TransposeOp, rewriter: Rewriter) -> bool:
    if list(op.perm) != list(range(len(op.perm))):
        return False
    rewriter.replace_op(op, [op.input])
    return True


@pattern(top.TransposeOp)
def fold_transpose_of_transpose(op: top.TransposeOp, rewriter: Rewriter) -> bool:
    inner = op.input.owner
    if not isinstance(inner, top.TransposeOp):
        return False
    perm = tuple(inner.perm[p] for p in op.perm)
    rewriter.replace_op(op, top.TransposeOp(inner.input, result_types=[op.output.type],
                                            loc=op.loc, perm=perm))
    return True


@pattern(top.ReshapeOp)
def drop_identity_reshape(op: top.ReshapeOp, rewriter: Rewriter) -> bool:
    if op.input.type != op.output.type:
        return False
    rewriter.replace_op(op, [op.input])
    return True


@pattern(top.ReshapeOp)
def fold_reshape_of_reshape(op: top.ReshapeOp, rewriter: Rewriter) -> bool:
    inner = op.input.owner
    if not isinstance(inner, top.ReshapeOp):
        return False
    rewriter.replace_op(op, top.ReshapeOp(inner.input, result_types=[op.output.type],
                                          loc=op.loc, shape=op.shape))
    return True


CANONICALIZATION_PATTERNS = [drop_identity_transpose, fold_transpose_of_transpose,
                             drop_identity_reshape, fold_reshape_of_reshape]
