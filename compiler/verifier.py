"""Structural and per-op verification, run after parsing and after every pass.

Checks: function names are unique; every block ends with its one terminator; every operand
is defined before its use in the same function (SSA dominance in a single-block body); use
lists agree with operands; each declared op's counts and attributes match its declaration,
and its own `verify_` passes. Every message names the op, its loc and its line when known.
"""

from __future__ import annotations

from .ir import Function, Module, Operation
from .opdef import OpDef, VerifyError, op_error


def verify_module(module: Module, max_errors: int = 20) -> None:
    """Raise VerifyError listing every problem found (up to `max_errors`)."""
    errors: list[str] = []
    seen: set[str] = set()
    for func in module.functions:
        if func.name in seen:
            errors.append(f"function @{func.name} is defined twice")
        seen.add(func.name)
        _verify_function(func, errors, max_errors)
        if len(errors) >= max_errors:
            break
    if errors:
        raise VerifyError("\n".join(errors[:max_errors]))


def _verify_function(func: Function, errors: list[str], max_errors: int) -> None:
    defined: set[int] = {id(a) for a in func.arguments}
    block = func.body
    last = block.last
    if last is None or not last.TERMINATOR:
        errors.append(f"function @{func.name} must end with a 'return'")
    for op in block:
        try:
            _verify_op(op, func, defined, is_last=op is last)
        except VerifyError as e:
            errors.append(str(e))
            if len(errors) >= max_errors:
                return
        for r in op.results:
            defined.add(id(r))


def _verify_op(op: Operation, func: Function, defined: set[int], is_last: bool) -> None:
    if op.parent is not func.body:
        raise op_error(op, "is linked into the wrong block")
    if op.TERMINATOR and not is_last:
        raise op_error(op, "is a terminator but is not the last op of its block")
    for index, value in enumerate(op._operands):
        if id(value) not in defined:
            owner = value.owner
            where = "later in the function" if owner is not None and owner.parent is func.body \
                else "outside this function"
            raise op_error(op, f"operand {index} is not defined before its use "
                               f"(it is defined {where})")
        if (op, index) not in value.uses:
            raise op_error(op, f"operand {index} is missing from its value's use list")
    for result in op.results:
        for user, index in result.uses:
            if user.parent is None or index >= len(user._operands) or \
                    user._operands[index] is not result:
                raise op_error(op, "a result's use list names an op that does not use it")
    if isinstance(op, OpDef):
        op.verify_declaration()
        try:
            op.verify_()
        except (ValueError, KeyError, TypeError, IndexError) as e:
            raise op_error(op, f"malformed op: {e}") from None


__all__ = ["VerifyError", "verify_module"]
