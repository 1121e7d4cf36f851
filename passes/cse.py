"""`cse`: merge pure ops that compute the same thing from the same operands.

Two ops are the same when their name, operands (in any order for commutative ops),
attributes and result types are equal; the later one is replaced by the earlier one, whose
loc is kept.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..compiler.ir import Function, Module, Operation
from ..compiler.pass_manager import Pass


def _key(op: Operation) -> tuple:
    operands = [id(v) for v in op._operands]
    if op.COMMUTATIVE:
        operands.sort()
    attrs = tuple(sorted(op.attributes.items(), key=lambda kv: kv[0]))
    return (op.name, tuple(operands), attrs, tuple(r.type for r in op.results))


def eliminate_common_subexpressions(func: Function) -> int:
    seen: dict[tuple, Operation] = {}
    merged = 0
    for op in func.body:
        if not op.PURE or op.TERMINATOR:
            continue
        key = _key(op)
        first = seen.get(key)
        if first is None:
            seen[key] = op
            continue
        for old, new in zip(op.results, first.results):
            old.replace_all_uses_with(new)
        op.erase()
        merged += 1
    return merged


@dataclass(frozen=True)
class CommonSubexpressionElimination(Pass):
    name = "cse"
    description = "merge identical pure ops"

    def run(self, module: Module) -> None:
        for func in module.functions:
            eliminate_common_subexpressions(func)
