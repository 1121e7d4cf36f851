"""`canonicalize`: every op's simplification patterns to a fixed point, then CSE and DCE.

The patterns live beside their dialects (`CANONICALIZATION_PATTERNS` in each dialect's
`*_canonicalize.py`); this pass only gathers and drives them.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..compiler.ir import Module
from ..compiler.pass_manager import Pass
from ..compiler.rewrite import apply_patterns_greedily
from .cse import eliminate_common_subexpressions
from .dce import eliminate_dead_code


def canonicalization_patterns() -> list:
    from ..dialects.top import canonicalize as top_canonicalize

    return list(top_canonicalize.CANONICALIZATION_PATTERNS)


@dataclass(frozen=True)
class Canonicalize(Pass):
    name = "canonicalize"
    description = "simplify ops with their canonicalization patterns, CSE and DCE"
    max_rounds: int = 4

    def run(self, module: Module) -> None:
        patterns = canonicalization_patterns()
        for _ in range(self.max_rounds):
            changed = apply_patterns_greedily(module, patterns)
            for func in module.functions:
                changed |= eliminate_common_subexpressions(func) > 0
                changed |= eliminate_dead_code(func) > 0
            if not changed:
                break
