"""`dce`: erase ops without side effects whose results nobody uses."""

from __future__ import annotations

from dataclasses import dataclass

from ..compiler.ir import Function, Module
from ..compiler.pass_manager import Pass
from ..compiler.rewrite import is_trivially_dead


def eliminate_dead_code(func: Function) -> int:
    """Erase dead ops, last to first so that whole dead chains go in one sweep."""
    erased = 0
    for op in func.body.reversed():
        if is_trivially_dead(op):
            op.erase()
            erased += 1
    return erased


@dataclass(frozen=True)
class DeadCodeElimination(Pass):
    name = "dce"
    description = "erase pure ops whose results are unused"

    def run(self, module: Module) -> None:
        for func in module.functions:
            eliminate_dead_code(func)
