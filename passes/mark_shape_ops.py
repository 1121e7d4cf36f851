"""`mark-shape-ops`: mark the ops that must never be quantized with `kiln.exact = true`.

Shape and index computations, masks holding -inf / -3.4e38 sentinels, and values computed
only from integer inputs and constants are not activations: quantizing them changes indices
or blows up a calibration range. The analysis (`kiln.calibration.exclusion`, shared with
`run_calibration`) finds them; this pass writes the result into the IR, with the reason in
`kiln.exact_reason` (`shape`, `mask` or `integer`), so that later passes and the qtable keep
them exact. The numbers computed do not change. Marks already present are kept.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..calibration.exclusion import SENTINEL, find_exact_ops, mark_exact
from ..compiler.ir import Module
from ..compiler.pass_manager import Pass


@dataclass(frozen=True)
class MarkShapeOps(Pass):
    name = "mark-shape-ops"
    description = "mark shape/index ops, masks and integer data kiln.exact (never quantized)"
    sentinel: float = SENTINEL  # |value| from which a constant counts as a mask sentinel

    def run(self, module: Module) -> None:
        for func in module.functions:
            mark_exact(find_exact_ops(func, sentinel=self.sentinel, weights=module.weights))
