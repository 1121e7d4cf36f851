"""IR -> text, the exact inverse of the parser: `print(parse(t)) == t` for any printed `t`.

Floats survive the round trip bit for bit: float attributes are Python floats (f64) printed with
`repr`; quantization parameters and f32/f16 constants are printed as the shortest text that
reads back to the same f32/f16 value.

SSA names: a value the user named (`%images`, `%w0`) keeps its name; others are numbered in
order (`%0`, `%1`, ...), arguments without a name are `%arg0`, `%arg1`.
"""

from __future__ import annotations

import functools
import re
from typing import Any

import numpy as np

from ..attributes import DenseAttr, EnumAttr, SymbolRef
from ..ir import Function, Module, Operation, Value
from ..types import (
    CalibratedType,
    FunctionType,
    NoneType,
    ScalarType,
    TensorType,
    UniformPerAxisType,
    UniformType,
)

_BARE_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_$.]*\Z")
_BARE_SYMBOL = re.compile(r"[A-Za-z_][A-Za-z0-9_$.\-]*\Z")
_VALUE_NAME = re.compile(r"[A-Za-z0-9_$.\-]+\Z")
_KEYWORDS = {"true", "false", "none", "dense", "module", "attributes", "return", "inf", "nan",
             "loc", "tensor", "f64", "f32", "f16", "bf16", "i4", "u4", "i8", "u8", "i9", "i10",
             "i11", "i12", "i16", "u16",
             "i32", "u32", "i64", "bool"}


def quote(text: str) -> str:
    out = ['"']
    for ch in text:
        if ch == '"' or ch == "\\":
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 32 or ord(ch) == 127:
            out.append(f"\\{ord(ch):02X}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def format_f32(x: float) -> str:
    """Shortest text that reads back (through float64) to the same float32."""
    return str(np.float32(x))


def format_float(x: float) -> str:
    return repr(float(x))


def format_symbol(name: str) -> str:
    return "@" + (name if _BARE_SYMBOL.match(name) else quote(name))


@functools.lru_cache(maxsize=4096)
def format_type(t: Any) -> str:
    if isinstance(t, TensorType):
        dims = "".join(("?" if d < 0 else str(d)) + "x" for d in t.shape)
        return f"tensor<{dims}{format_type(t.element)}>"
    if isinstance(t, ScalarType):
        return t.name
    if isinstance(t, CalibratedType):
        return (f"!quant.calibrated<{t.expressed.name}<{format_f32(t.min)}:"
                f"{format_f32(t.max)}>>")
    if isinstance(t, UniformType):
        zp = "" if t.zero_point is None else f":{t.zero_point}"
        return f"!quant.uniform<{t.storage.name}:{t.expressed.name}, {format_f32(t.scale)}{zp}>"
    if isinstance(t, UniformPerAxisType):
        zps = t.zero_points or (None,) * len(t.scales)
        params = ", ".join(format_f32(s) + ("" if z is None else f":{z}")
                           for s, z in zip(t.scales, zps))
        return f"!quant.uniform<{t.storage.name}:{t.expressed.name}:{t.axis}, {{{params}}}>"
    if isinstance(t, NoneType):
        return "none"
    if isinstance(t, FunctionType):
        return f"({', '.join(map(format_type, t.inputs))}) -> {_result_types(t.results)}"
    raise TypeError(f"cannot print type {t!r}")


def _result_types(types) -> str:
    if len(types) == 1 and not isinstance(types[0], FunctionType):
        return format_type(types[0])
    return "(" + ", ".join(format_type(t) for t in types) + ")"


def _dense_element_formatter(scalar: ScalarType):
    if scalar.name == "bool":
        return lambda v: "true" if v else "false"
    if scalar.name == "f64":
        return lambda v: repr(float(v))
    if scalar.name == "f16":
        return lambda v: str(np.float16(v))
    if scalar.is_float:  # f32, and bf16 printed through its exact f32 value
        return lambda v: str(np.float32(v))
    return lambda v: str(int(v))


def format_dense(attr: DenseAttr) -> str:
    array, fmt = attr.array, _dense_element_formatter(attr.type.scalar)
    if array.ndim == 0:
        body = fmt(array[()])
    elif array.size > 1 and _is_splat(array):
        body = fmt(array.flat[0])  # a splat
    else:
        body = _nested(array, fmt)
    return f"dense<{body}> : {format_type(attr.type)}"


def _is_splat(array: np.ndarray) -> bool:
    """All elements have the same bits (so -0.0 and 0.0 differ, and a NaN splat is one)."""
    bits = np.ascontiguousarray(array).reshape(-1).view(f"u{array.dtype.itemsize}")
    return bool((bits == bits[0]).all())


def _nested(array: np.ndarray, fmt) -> str:
    if array.ndim == 1:
        return "[" + ", ".join(fmt(v) for v in array.tolist()) + "]"
    return "[" + ", ".join(_nested(sub, fmt) for sub in array) + "]"


def format_attr(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return format_float(value)
    if isinstance(value, str):
        return quote(value)
    if isinstance(value, tuple):
        return "[" + ", ".join(format_attr(v) for v in value) + "]"
    if isinstance(value, SymbolRef):
        return format_symbol(value.name)
    if isinstance(value, EnumAttr):
        return f"#{value.kind}<{value.value}>"
    if isinstance(value, DenseAttr):
        return format_dense(value)
    return format_type(value)


def format_attr_dict(attrs: dict[str, Any], skip: str | None = None) -> str:
    items = [f"{_key(k)} = {format_attr(v)}" for k, v in attrs.items() if k != skip]
    return "{" + ", ".join(items) + "}" if items else ""


def _key(name: str) -> str:
    return name if _BARE_KEY.match(name) and name not in _KEYWORDS else quote(name)


class _Namer:
    """Gives each value of one function its printed name."""

    def __init__(self) -> None:
        self.names: dict[int, str] = {}
        self.taken: set[str] = set()
        self.counter = 0

    def define(self, value: Value, default: str | None = None) -> str:
        hint = value.name_hint
        if hint and _VALUE_NAME.match(hint) and not hint.isdigit():
            name, k = hint, 1
            while name in self.taken:
                name = f"{hint}_{k}"
                k += 1
        elif default is not None and default not in self.taken:
            name = default
        else:
            while str(self.counter) in self.taken:
                self.counter += 1
            name = str(self.counter)
            self.counter += 1
        self.taken.add(name)
        self.names[id(value)] = "%" + name
        return "%" + name

    def __getitem__(self, value: Value) -> str:
        name = self.names.get(id(value))
        if name is None:
            return "%<<undefined>>"  # only reachable on IR the verifier would reject
        return name


def print_op(op: Operation, namer: _Namer, generic: bool = False) -> str:
    operands = ", ".join(namer[v] for v in op._operands)
    loc = f" loc({quote(op.loc)})" if op.loc is not None else ""
    if op.name == "func.return" and not generic:
        if not op._operands:
            return "return" + loc
        types = ", ".join(format_type(v.type) for v in op._operands)
        return f"return {operands} : {types}{loc}"
    results = ", ".join(namer.define(r) for r in op.results)
    head = f"{results} = " if results else ""
    in_types = [v.type for v in op._operands]
    out_types = [r.type for r in op.results]
    if op._operands or not out_types:
        types = f"({', '.join(format_type(t) for t in in_types)}) -> {_result_types(out_types)}"
    else:
        types = ", ".join(format_type(t) for t in out_types)
    if generic:
        attrs = format_attr_dict(op.attributes)
        return (f'{head}"{op.name}"({operands})' + (f" {attrs}" if attrs else "")
                + f" : {types}{loc}")
    parts = [head + op.name]
    sym_attr = getattr(op, "SYMBOL_ATTR", None)
    if sym_attr is not None and isinstance(op.attributes.get(sym_attr), SymbolRef):
        parts.append(format_symbol(op.attributes[sym_attr].name))
    else:
        sym_attr = None
    if operands:
        parts.append(operands)
    attrs = format_attr_dict(op.attributes, skip=sym_attr)
    if attrs:
        parts.append(attrs)
    return " ".join(parts) + f" : {types}{loc}"


def print_function(func: Function, generic: bool = False, indent: str = "  ") -> str:
    namer = _Namer()
    args = []
    for i, (arg, attrs) in enumerate(zip(func.arguments, func.arg_attributes)):
        text = f"{namer.define(arg, default=f'arg{i}')}: {format_type(arg.type)}"
        if attrs:
            text += " " + format_attr_dict(attrs)
        args.append(text)
    head = f"{indent}func.func {format_symbol(func.name)}({', '.join(args)})"
    if func.result_types:
        head += " -> " + _result_types(func.result_types)
    if func.attributes:
        head += " attributes " + format_attr_dict(func.attributes)
    body_indent = indent + "  "
    lines = [head + " {"]
    lines.extend(body_indent + print_op(op, namer, generic) for op in func.body)
    lines.append(indent + "}")
    return "\n".join(lines)


def print_module(module: Module, generic: bool = False) -> str:
    head = "module"
    if module.name is not None:
        head += " " + format_symbol(module.name)
    if module.attributes:
        head += " attributes " + format_attr_dict(module.attributes)
    body = "\n\n".join(print_function(f, generic) for f in module.functions)
    return f"{head} {{\n{body}\n}}\n" if body else f"{head} {{\n}}\n"
