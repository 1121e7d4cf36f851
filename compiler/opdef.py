"""Declaring ops: one class per op, its operands, results and attributes written on the class.

    class ConvOp(OpDef):
        NAME = "top.conv"
        OPERANDS = ("input", "filter", "bias?")       # '?' optional, '*' variadic
        RESULTS = ("output",)
        ATTRS = {"strides": attr("ints"), "group": attr("int", default=1)}
        PURE = True

        def verify_(self): ...                           # the op's own checks

Declaring a class registers its name, so the parser builds instances of it, and gives it
accessors: `op.input`, `op.bias` (None when omitted), `op.strides`. A variadic operand is a
list. Optional operands are omitted from the end (an optional operand in the middle is passed
as the result of a `top.none` op). The generic checks (counts, attribute kinds, unknown
attributes) come from the declaration; `verify_` adds what is particular to the op.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from .attributes import DenseAttr, EnumAttr, SymbolRef, attr_kind
from .errors import UserError
from .ir import Operation, Value
from .types import TensorType


class VerifyError(UserError):
    """A verifier failure; the message names the op, its loc and its line when known."""


_NO_DEFAULT = object()


@dataclass(frozen=True)
class AttrSpec:
    """What an attribute must be: kind in KINDS, an optional default, enum choices."""

    kind: str
    default: Any = _NO_DEFAULT
    choices: tuple[str, ...] = ()

    @property
    def required(self) -> bool:
        return self.default is _NO_DEFAULT


KINDS = ("int", "float", "bool", "string", "ints", "floats", "strings", "array", "dense",
         "symbol", "type", "enum", "any")


def attr(kind: str, default: Any = _NO_DEFAULT, choices: tuple[str, ...] = ()) -> AttrSpec:
    if kind not in KINDS:
        raise ValueError(f"unknown attribute kind {kind!r}; known: {', '.join(KINDS)}")
    return AttrSpec(kind, default, tuple(choices))


def _matches(kind: str, value: Any) -> bool:
    actual = attr_kind(value)
    if kind == "any":
        return True
    if kind == "float":
        return actual in ("float", "int")
    if kind in ("ints", "floats", "strings"):
        if actual != "array":
            return False
        item = {"ints": "int", "floats": "float", "strings": "string"}[kind]
        return all(_matches(item, v) for v in value)
    return actual == kind


def op_error(op: Operation, message: str) -> VerifyError:
    where = f" (line {op.line})" if op.line else ""
    return VerifyError(f"{op.describe()}{where}: {message}")


class OpDef(Operation):
    """Base of declared ops. See the module docstring."""

    OPERANDS: ClassVar[tuple[str, ...]] = ()
    RESULTS: ClassVar[tuple[str, ...]] = ()
    ATTRS: ClassVar[dict[str, AttrSpec]] = {}
    ASSEMBLY: ClassVar[str] = "generic"  # or "symbol" (`op @"name" {attrs} : T`), "return"

    __slots__ = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not cls.NAME:
            return
        if cls.NAME in Operation.registry:
            raise ValueError(f"op {cls.NAME} is declared twice")
        Operation.registry[cls.NAME] = cls
        taken: set[str] = set()
        for i, spec in enumerate(cls.OPERANDS):
            name, mark = _split_mark(spec)
            _add_accessor(cls, taken, name, _operand_getter(cls, i, mark))
        for i, spec in enumerate(cls.RESULTS):
            name, mark = _split_mark(spec)
            _add_accessor(cls, taken, name, _result_getter(i, mark, len(cls.RESULTS)))
        for name, spec in cls.ATTRS.items():
            _add_accessor(cls, taken, name, _attr_getter(name, spec))

    def __init__(self, *operands: Value, result_types=(), loc: str | None = None,
                 **attributes: Any) -> None:
        """Build a declared op: `ReluOp(x, result_types=[t], loc="...")`, attrs by keyword."""
        Operation.__init__(self, self.NAME, operands, result_types, attributes, loc)

    def evaluate(self, ctx: Any, args: list) -> list:
        """Run the op on numpy arrays for the reference interpreter. Ops with one result
        define `compute(*arrays) -> array`; others override `evaluate`."""
        compute = getattr(self, "compute", None)
        if compute is None:
            raise NotImplementedError(f"{self.NAME} has no interpreter kernel")
        return [compute(*args)]

    def attr(self, name: str) -> Any:
        """An attribute's value, or its declared default when absent."""
        if name in self.attributes:
            return self.attributes[name]
        spec = self.ATTRS.get(name)
        if spec is None or spec.required:
            raise KeyError(f"{self.describe()} has no attribute '{name}'")
        return spec.default

    # -- generic verification from the declaration --------------------------------------------
    def verify_declaration(self) -> None:
        self._verify_counts()
        for name, spec in self.ATTRS.items():
            if name not in self.attributes:
                if spec.required:
                    raise op_error(self, f"requires attribute '{name}'")
                continue
            value = self.attributes[name]
            if not _matches(spec.kind, value):
                raise op_error(self, f"attribute '{name}' must be {spec.kind}, "
                                     f"got {attr_kind(value)}")
            if spec.choices:
                got = value.value if isinstance(value, EnumAttr) else value
                if got not in spec.choices:
                    raise op_error(self, f"attribute '{name}' must be one of "
                                         f"{', '.join(spec.choices)}; got {got}")
        for name in self.attributes:
            if name not in self.ATTRS and "." not in name:
                raise op_error(self, f"unknown attribute '{name}'"
                               + (f"; known: {', '.join(self.ATTRS)}" if self.ATTRS else ""))

    def _verify_counts(self) -> None:
        for what, specs, got in (("operand", self.OPERANDS, len(self._operands)),
                                 ("result", self.RESULTS, len(self.results))):
            lo, hi = _count_range(specs)
            if got < lo or (hi is not None and got > hi):
                expected = str(lo) if lo == hi else (
                    f"at least {lo}" if hi is None else f"{lo} to {hi}")
                raise op_error(self, f"expected {expected} {what}s, got {got}")


def _split_mark(spec: str) -> tuple[str, str]:
    if spec[-1:] in ("?", "*"):
        return spec[:-1], spec[-1]
    return spec, ""


def _count_range(specs: tuple[str, ...]) -> tuple[int, int | None]:
    marks = [_split_mark(s)[1] for s in specs]
    lo = marks.count("")
    hi = None if "*" in marks else len(marks)
    return lo, hi


def _add_accessor(cls: type, taken: set[str], name: str, getter) -> None:
    if name in taken:
        raise ValueError(f"{cls.NAME}: '{name}' names two operands/results/attributes")
    taken.add(name)
    if hasattr(OpDef, name):
        raise ValueError(f"{cls.NAME}: '{name}' clashes with an Operation attribute")
    if name not in cls.__dict__:  # an op may define its own accessor
        setattr(cls, name, property(getter))


def _operand_getter(cls: type, index: int, mark: str):
    specs = cls.OPERANDS
    n_after = len(specs) - index - 1
    if mark == "*":
        def get(self):
            return list(self._operands[index:len(self._operands) - n_after])
    elif mark == "?":
        def get(self):
            if index >= len(self._operands):
                return None
            v = self._operands[index]
            return None if v.owner is not None and v.owner.name == "top.none" else v
    else:
        def get(self):
            return self._operands[index]
    return get


def _result_getter(index: int, mark: str, count: int):
    if mark == "*":
        def get(self):
            return list(self.results[index:])
    else:
        def get(self):
            return self.results[index] if index < len(self.results) else None
    return get


def _attr_getter(name: str, spec: AttrSpec):
    def get(self):
        if name in self.attributes:
            value = self.attributes[name]
            return value.value if isinstance(value, EnumAttr) else value
        if spec.required:
            raise KeyError(f"{self.describe()} has no attribute '{name}'")
        return spec.default
    return get


# -- helpers that op verifiers share ---------------------------------------------------------
def tensor_type(op: Operation, value: Value, what: str) -> TensorType:
    if not isinstance(value.type, TensorType):
        raise op_error(op, f"{what} must be a tensor, got {value.type}")
    return value.type


def dense_value(value: Value) -> np.ndarray | None:
    """The constant array behind a value defined by a constant op with a `value` dense attr."""
    op = value.owner
    if op is not None and isinstance(op.attributes.get("value"), DenseAttr):
        return op.attributes["value"].array
    return None


__all__ = [
    "AttrSpec",
    "OpDef",
    "SymbolRef",
    "VerifyError",
    "attr",
    "dense_value",
    "op_error",
    "tensor_type",
]
