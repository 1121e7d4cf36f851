"""The `func` dialect: what functions need besides their header (only `return` so far)."""

from __future__ import annotations

from ..compiler.opdef import OpDef, op_error


class ReturnOp(OpDef):
    """`return %a, %b : T1, T2`: ends a function; operand types match the function's results."""

    NAME = "func.return"
    OPERANDS = ("values*",)
    TERMINATOR = True

    def verify_(self) -> None:
        func = self.parent.parent if self.parent is not None else None
        if func is None:
            return
        got = [v.type for v in self._operands]
        if got != list(func.result_types):
            from ..compiler.text.printer import format_type
            raise op_error(self, f"returns ({', '.join(map(format_type, got))}) but function "
                                 f"@{func.name} is declared to return "
                                 f"({', '.join(map(format_type, func.result_types))})")
