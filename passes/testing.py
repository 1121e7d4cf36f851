"""Passes that exist to test the pass manager and its instruments (names start `test-`):
a pass that fails with a message, one that leaves IR the verifier must reject, and one that
changes what the module computes."""

from __future__ import annotations

from dataclasses import dataclass

from ..compiler.ir import Module, Operation
from ..compiler.pass_manager import Pass, PassError


@dataclass(frozen=True)
class TestFail(Pass):
    name = "test-fail"
    description = "fail with `message` (tests failure reporting)"
    message: str = "asked to fail"

    def run(self, module: Module) -> None:
        raise PassError(self.message)


@dataclass(frozen=True)
class TestBreakIR(Pass):
    name = "test-break-ir"
    description = "move each function's return to the front (tests verify-after-pass)"

    def run(self, module: Module) -> None:
        for func in module.functions:
            ret = func.body.last
            if ret is not None and func.body.first is not ret:
                func.body.remove(ret)
                func.body.insert_before(func.body.first, ret)


@dataclass(frozen=True)
class TestPerturb(Pass):
    name = "test-perturb"
    description = "replace every top.relu by top.sigmoid (tests --check-each)"

    def run(self, module: Module) -> None:
        for op in list(module.walk()):
            if op.name == "top.relu":
                new = Operation.create("top.sigmoid", op.operands,
                                       [r.type for r in op.results], {}, op.loc)
                op.parent.insert_before(op, new)
                op.results[0].replace_all_uses_with(new.results[0])
                op.erase()
