"""`fold-constants`: compute at compile time every pure op whose operands are all constants
(`top.constant` / `top.weight`), with the op's own kernel, and replace it by a constant:
inline when small, else a new weight. The importer already folds what the ONNX graph
computes from constants; this pass folds what later passes expose."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..compiler.ir import Module, Operation
from ..compiler.pass_manager import Pass
from ..compiler.rewrite import Rewriter, apply_patterns_greedily, pattern
from .fusion.match import const_array, new_constant

_SOURCES = ("top.constant", "top.weight", "top.none")


@pattern(None)
def fold_constant_op(op: Operation, rw: Rewriter) -> bool:
    if op.name in _SOURCES or not op.PURE or len(op.results) != 1 or not op.name.startswith(
            "top.") or not hasattr(op, "compute"):
        return False
    arrays = []
    for v in op.operands:
        if v.owner is not None and v.owner.name == "top.none":
            arrays.append(None)
            continue
        array = const_array(v, rw.module)
        if array is None:
            return False
        arrays.append(array)
    result = np.asarray(op.compute(*arrays))
    want = op.results[0].type
    if tuple(result.shape) != want.shape or result.dtype != want.scalar.numpy_dtype:
        return False  # the IR disagrees with the kernel: leave it for the verifier to report
    rw.replace_op(op, [new_constant(rw, op, result, op.loc or "folded")])
    return True


@dataclass(frozen=True)
class FoldConstants(Pass):
    name = "fold-constants"
    description = "evaluate ops whose operands are all constants"

    def run(self, module: Module) -> None:
        apply_patterns_greedily(module, [fold_constant_op])
