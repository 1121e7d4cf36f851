"""Pattern rewrites and the greedy driver that applies them to a fixed point.

A pattern is a function typed by the op class it matches:

    @pattern(top.TransposeOp)
    def drop_identity_transpose(op, rewriter):
        if list(op.perm) != sorted(op.perm):
            return False                      # no match
        rewriter.replace_op(op, [op.input])
        return True

The driver keeps a worklist: every op at the start, then whatever a rewrite touched (the new
ops, the users of replaced values, the producers of erased operands). Ops that are pure and
unused are erased as they are met, as MLIR's greedy driver does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from .ir import Function, Module, Operation, Value

PatternFn = Callable[[Operation, "Rewriter"], bool]


@dataclass(frozen=True)
class Pattern:
    op_class: type[Operation] | None  # None matches every op
    fn: PatternFn

    @property
    def name(self) -> str:
        return self.fn.__name__

    def __call__(self, op: Operation, rewriter: Rewriter) -> bool:
        return bool(self.fn(op, rewriter))


def pattern(op_class: type[Operation] | None = None) -> Callable[[PatternFn], Pattern]:
    def wrap(fn: PatternFn) -> Pattern:
        return Pattern(op_class, fn)
    return wrap


class Rewriter:
    """Changes the IR and tells the driver what to look at again."""

    def __init__(self, module: Module | None = None) -> None:
        self.worklist: list[Operation] = []
        self.changed = False
        self.module = module  # patterns that read or make weights need it

    def _touch(self, op: Operation | None) -> None:
        if op is not None and op.parent is not None:
            self.worklist.append(op)

    def insert_before(self, anchor: Operation, op: Operation) -> Operation:
        anchor.parent.insert_before(anchor, op)
        self._touch(op)
        self.changed = True
        return op

    def replace_all_uses(self, old: Value, new: Value) -> None:
        for user in old.users:
            self._touch(user)
        old.replace_all_uses_with(new)
        self.changed = True

    def replace_op(self, op: Operation, new: Sequence[Value] | Operation) -> None:
        """Replace `op`'s results with `new` (values, or a new op inserted before `op`)."""
        if isinstance(new, Operation):
            if new.parent is None:
                self.insert_before(op, new)
            new = new.results
        if len(new) != len(op.results):
            raise ValueError(f"replacing {op.describe()}: {len(op.results)} results, "
                             f"{len(new)} replacements")
        for old, value in zip(op.results, new):
            self.replace_all_uses(old, value)
        self.erase_op(op)

    def erase_op(self, op: Operation) -> None:
        producers = [v.owner for v in op._operands]
        op.erase()
        for p in producers:
            self._touch(p)
        self.changed = True


def is_trivially_dead(op: Operation) -> bool:
    return op.PURE and not op.TERMINATOR and op.is_unused


def apply_patterns_greedily(target: Module | Function, patterns: Iterable[Pattern],
                            max_rewrites: int = 1_000_000) -> bool:
    """Apply `patterns` until none matches; return whether anything changed."""
    by_class: dict[type, list[Pattern]] = {}
    generic: list[Pattern] = []
    for p in patterns:
        (generic if p.op_class is None else by_class.setdefault(p.op_class, [])).append(p)
    functions = target.functions if isinstance(target, Module) else [target]
    module = target if isinstance(target, Module) else target.parent
    rewriter = Rewriter(module)
    for func in functions:
        rewriter.worklist.extend(reversed(list(func.body)))  # pop() visits them in order
    count = 0
    while rewriter.worklist:
        op = rewriter.worklist.pop()
        if op.parent is None:
            continue  # erased since it was queued
        if is_trivially_dead(op):
            rewriter.erase_op(op)
            continue
        for p in _patterns_for(type(op), by_class) + generic:
            if p(op, rewriter):
                rewriter.changed = True
                count += 1
                if count > max_rewrites:
                    raise RuntimeError(f"pattern rewriting did not converge after {max_rewrites}"
                                       f" rewrites (last: {p.name})")
                break
    return rewriter.changed


def _patterns_for(cls: type, by_class: dict[type, list[Pattern]]) -> list[Pattern]:
    out: list[Pattern] = []
    for base in cls.__mro__:
        out.extend(by_class.get(base, ()))
    return out
