"""`fuse-ops`: merge ops a device runs as one, and recognize decomposed activations.

BatchNorm into Conv / ConvTranspose / Gemm, zero Pad into Conv, per-channel Mul/Div/Add/Sub
by constants into Conv, Relu into Conv (`do_relu`), SiLU from x*sigmoid(x), HardSwish and GELU
from their decompositions, LayerNorm from ReduceMean/Sub/Pow/Sqrt/Div. Float rewrites: with
`--check-each` the outputs must agree with the unfused module to 1e-5 relative. New weights
go to the module's weights (written beside the output); the unused old ones are dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..compiler.ir import Module
from ..compiler.pass_manager import Pass
from ..compiler.rewrite import apply_patterns_greedily
from .fusion import activation, conv, norm


def fusion_patterns() -> list:
    return [*conv.PATTERNS, *activation.PATTERNS, *norm.PATTERNS]


@dataclass(frozen=True)
class FuseOps(Pass):
    name = "fuse-ops"
    description = "fuse BN/pad/scale/relu into conv, recognize SiLU, HardSwish, GELU, LayerNorm"

    def run(self, module: Module) -> None:
        apply_patterns_greedily(module, fusion_patterns())
