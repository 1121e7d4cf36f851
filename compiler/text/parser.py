"""Text -> IR. Lark's LALR parser calls the builder below while it parses, in source order,
so SSA names resolve as they appear (a use before its definition is an error at that use) and
no parse tree is ever built.

Every error is a `ParseError` carrying the file, line and column and what was expected.
"""

from __future__ import annotations

import functools
import gc
from pathlib import Path
from typing import Any

import lark
import numpy as np
from lark import Token, Transformer

from ..attributes import DenseAttr, EnumAttr, SymbolRef
from ..errors import UserError
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
from .fast_tokens import BuildError, Names, fast_op_types, simple_attr_dict

_GRAMMAR = Path(__file__).with_name("grammar.lark")


class ParseError(UserError):
    """`file:line:col: error: message`, with the offending line and a caret when known."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None,
                 source: str | None = None, text: str | None = None) -> None:
        self.message, self.line, self.column, self.source = message, line, column, source
        self.text = text
        super().__init__(self.format())

    def format(self) -> str:
        where = self.source or "<input>"
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        out = f"{where}: error: {self.message}"
        if self.text is not None and self.line is not None:
            lines = self.text.splitlines()
            if 0 < self.line <= len(lines):
                out += "\n" + lines[self.line - 1]
                if self.column is not None:
                    out += "\n" + " " * (self.column - 1) + "^"
        return out


_UNESCAPES = {'"': '"', "\\": "\\", "n": "\n", "t": "\t", "r": "\r"}


def unquote(token: str) -> str:
    """The text of a `"..."` literal: escapes `\\"`, `\\\\`, `\\n`, `\\t`, `\\r`, `\\XX` (hex)."""
    body = token[1:-1]
    if "\\" not in body:
        return body
    out, i = [], 0
    while i < len(body):
        c = body[i]
        if c != "\\":
            out.append(c)
            i += 1
            continue
        nxt = body[i + 1]
        if nxt in _UNESCAPES:
            out.append(_UNESCAPES[nxt])
            i += 2
        else:
            out.append(chr(int(body[i + 1:i + 3], 16)))
            i += 3
    return "".join(out)


def _number(tok: Token) -> int | float:
    return float(tok) if tok.type == "FLOAT" else int(tok)


def _tensor_dims(text: str, tok: Token) -> tuple[int, ...]:
    """`1x3x?x` (the part of `tensor<...>` before the element type) -> (1, 3, -1)."""
    parts = text.split("x")[:-1]
    try:
        return tuple(-1 if p == "?" else int(p) for p in parts)
    except ValueError:
        raise BuildError(f"bad tensor shape '{text}'", tok) from None


class _Builder(Transformer):
    """The callbacks Lark runs on each reduced rule. One instance parses one text."""

    def __init__(self) -> None:
        super().__init__()
        self.aliases: dict[str, Any] = {}
        self.values: dict[str, Value] = {}
        self.current_func: Function | None = None

    # -- types --------------------------------------------------------------------------------
    def scalar_type(self, c):
        return _scalar(c[0])

    def plain_tensor_type(self, c):
        tok = c[0]
        body = tok[7:-1]
        cut = body.rfind("x") + 1
        return TensorType(_tensor_dims(body[:cut], tok), _scalar_named(body[cut:]))

    def tensor_type(self, c):
        tok, element = c
        try:
            return TensorType(_tensor_dims(tok[7:], tok), element)
        except ValueError as e:
            raise BuildError(str(e), tok) from None

    def none_type(self, c):
        return NoneType()

    def alias_type(self, c):
        tok = c[0]
        if tok not in self.aliases:
            raise BuildError(f"undefined type alias {tok}", tok)
        return self.aliases[tok]

    def calibrated_type(self, c):
        expressed, lo, hi = c
        return self._make(CalibratedType, expressed, _scalar(expressed), lo, hi)

    def uniform_type(self, c):
        storage, expressed, scale, zp = c
        return self._make(UniformType, storage, _scalar(storage), _scalar(expressed), scale,
                          None if zp is None else int(zp))

    def per_axis_type(self, c):
        storage, expressed, axis, *params = c
        scales = tuple(p[0] for p in params)
        zps = [p[1] for p in params]
        if all(z is None for z in zps):
            zero_points = None
        elif any(z is None for z in zps):
            raise BuildError("per-axis type: give a zero point for every scale or none", axis)
        else:
            zero_points = tuple(zps)
        return self._make(UniformPerAxisType, storage, _scalar(storage), _scalar(expressed),
                          int(axis), scales, zero_points)

    def axis_param(self, c):
        return (c[0], None if c[1] is None else int(c[1]))

    @staticmethod
    def _make(cls, tok, *args):
        try:
            return cls(*args)
        except ValueError as e:
            raise BuildError(str(e), tok) from None

    def number(self, c):
        return _number(c[0])

    def type_list(self, c):
        return list(c)

    def paren_types(self, c):
        return [] if c[0] is None else c[0]

    def fast_op_types(self, c):
        return _fast_op_types(str(c[0]).lstrip())

    def type_only(self, c):
        return c[0]

    def function_type(self, c):
        return FunctionType(tuple(c[0] or ()), tuple(c[1]))

    def op_types(self, c):
        return c[0]

    def alias_def(self, c):
        name, type_ = c
        if name in self.aliases:
            raise BuildError(f"type alias {name} is defined twice", name)
        self.aliases[name] = type_

    # -- attributes ---------------------------------------------------------------------------
    def attr_dict(self, c):
        out: dict[str, Any] = {}
        for entry in c:
            if entry is None:
                continue
            key_tok, value = entry
            key = unquote(key_tok) if key_tok.type == "STRING" else str(key_tok)
            if key in out:
                raise BuildError(f"attribute '{key}' is given twice", key_tok)
            out[key] = value
        return out

    def simple_attr_dict(self, c):
        return dict(simple_attr_dict(str(c[0]).lstrip()))

    def attr_entry(self, c):
        return (c[0], c[1])

    def int_attr(self, c):
        return int(c[0])

    def float_attr(self, c):
        return float(c[0])

    def string_attr(self, c):
        return unquote(c[0])

    def true_attr(self, c):
        return True

    def false_attr(self, c):
        return False

    def int_array_attr(self, c):
        return tuple(int(x) for x in c[0][1:-1].split(","))

    def array_attr(self, c):
        return tuple(x for x in c if x is not None)

    def symbol(self, c):
        tok = c[0]
        return SymbolRef(unquote(tok) if tok.type == "STRING" else tok[1:])

    def symbol_attr(self, c):
        return c[0]

    def enum_attr(self, c):
        return EnumAttr(str(c[0]), str(c[1]))

    def type_attr(self, c):
        return c[0]

    def dense_attr(self, c):
        tok, literal, type_ = c
        if not isinstance(type_, TensorType) or not isinstance(type_.element, ScalarType):
            raise BuildError(f"dense constant needs a tensor type with a plain element type, "
                              f"got {_show(type_)}", tok)
        try:
            data = np.array(literal, dtype=np.float64 if type_.scalar.is_float else None)
            if type_.scalar.name == "bool" and data.size and data.dtype != np.bool_:
                raise ValueError("a bool dense constant holds true/false")
            return DenseAttr(data, type_)
        except (ValueError, TypeError, OverflowError) as e:
            raise BuildError(f"bad dense constant for {type_.shape}: {e}", tok) from None

    def dense_scalar(self, c):
        return c[0]

    def dense_true(self, c):
        return True

    def dense_false(self, c):
        return False

    def dense_int_array(self, c):
        return [int(x) for x in c[0][1:-1].split(",")]

    def dense_list(self, c):
        return [x for x in c if x is not None]

    # -- structure ----------------------------------------------------------------------------
    def module_head(self, c):
        tok, sym, attrs = c
        module = Module(sym.name if sym is not None else None, attrs or {})
        module.head_token = tok
        return module

    def module(self, c):
        module = c[0]
        for f in c[1:]:
            module.add_function(f)
        return module

    def arg_list(self, c):
        return c

    def arg(self, c):
        return c  # [VALUE_ID, type, attr_dict | None]

    def func_head(self, c):
        sym, args, results, attrs = c
        args = args or []
        names = [a[0] for a in args]
        for i, tok in enumerate(names):
            if tok in names[:i]:
                raise BuildError(f"argument {tok} is defined twice", tok)
        func = Function(sym.name, [a[1] for a in args], results or [],
                        [_hint(a[0]) for a in args], attrs or {},
                        [a[2] or {} for a in args])
        self.current_func = func
        self.values = {str(tok): v for tok, v in zip(names, func.arguments)}
        return func

    def func(self, c):
        self.current_func = None
        return c[0]

    def start(self, c):
        items = [x for x in c if x is not None]  # alias definitions return None
        modules = [x for x in items if isinstance(x, Module)]
        if modules:
            if len(items) > 1:
                raise BuildError("a file holds one module, or functions without a module, "
                                  "not both", modules[0].head_token)
            return modules[0]
        module = Module()
        for f in items:
            module.add_function(f)
        return module

    def _operands(self, names: Names | None) -> list[Value]:
        if not names:
            return []
        values = self.values
        try:
            return [values[name] for name in names]
        except KeyError as e:
            name = e.args[0]
            raise BuildError(f"use of undefined value {name}", names.token_of(name)) from None

    def _finish_op(self, name: str, name_tok: Token, result_toks, operand_toks, attrs, types,
                   loc_tok, symbol: SymbolRef | None = None,
                   types_are_operands: bool = False) -> Operation:
        operands = self._operands(operand_toks)
        result_toks = result_toks or []
        cls = Operation.registry.get(name)
        if isinstance(types, FunctionType):
            in_types, out_types = list(types.inputs), list(types.results)
        elif types_are_operands:  # `return %a : T`
            in_types, out_types = types, []
        elif not operands:  # `: T` after an op without operands gives its result types
            in_types, out_types = [], types
        elif not result_toks and cls is not None and cls.TERMINATOR:
            in_types, out_types = types, []
        else:
            raise BuildError(f"'{name}' needs a function type `(operand types) -> results` "
                              f"after ':'", name_tok)
        if len(in_types) != len(operands):
            raise BuildError(f"'{name}' has {len(operands)} operands but its type lists "
                              f"{len(in_types)}", name_tok)
        for i, (value, declared) in enumerate(zip(operands, in_types)):
            if value.type != declared:
                operand = operand_toks[i]
                raise BuildError(f"operand {operand} of '{name}' has type {_show(value.type)} "
                                  f"but the op's type says {_show(declared)}",
                                  operand_toks.token_of(operand))
        if len(out_types) != len(result_toks):
            raise BuildError(f"'{name}' defines {len(result_toks)} results but its type lists "
                              f"{len(out_types)}", name_tok)
        attrs = attrs or {}
        if symbol is not None:
            sym_attr = getattr(cls, "SYMBOL_ATTR", None)
            if cls is None or sym_attr is None:
                raise BuildError(f"'{name}' does not take a symbol after its name", name_tok)
            attrs = {sym_attr: symbol, **attrs}
        loc = unquote(loc_tok.lstrip()[4:-1]) if loc_tok is not None else None
        op = Operation.create(name, operands, out_types, attrs, loc)
        op.line = name_tok.line
        for res_name, result in zip(result_toks, op.results):
            if res_name in self.values:
                raise BuildError(f"value {res_name} is defined twice",
                                  result_toks.token_of(res_name))
            self.values[res_name] = result
            if not res_name[1:].isdigit():
                result.name_hint = res_name[1:]
        self.current_func.body.append(op)
        return op

    def results(self, c):
        tok = c[0]
        if tok.type == "RESULTS_EQ":  # the token starts with the whitespace before it
            lead = tok[:len(tok) - len(tok.lstrip())]
            line = tok.line + lead.count("\n")
            column = len(lead) - lead.rfind("\n") if "\n" in lead else tok.column + len(lead)
            tok = Token("RESULTS_EQ", tok.strip().rstrip(" ="), line=line, column=column)
        return Names(tok, tok)

    def operands(self, c):
        return Names(c[0], c[0])

    def op_tail(self, c):
        return c[0], c[1]  # (types, LOC token or None)

    def fast_tail(self, c):
        tok = c[0]
        cut = tok.rindex(" loc(")
        return _fast_op_types(tok[:cut].lstrip()), Token("LOC", tok[cut:], line=tok.line,
                                                          column=tok.column)

    def op(self, c):
        results, name, sym, operands, attrs, (types, loc) = c
        return self._finish_op(str(name), name, results, operands, attrs, types, loc, sym)

    def fast_op(self, c):
        results, head, attrs, (types, loc) = c
        space = head.index(" ")
        name = Token("OP_NAME", head[:space], line=head.line, column=head.column)
        operands = Names(head, head[space + 1:])
        return self._finish_op(str(name), name, results, operands, attrs, types, loc)

    def generic_op(self, c):
        results, name, operands, attrs, (types, loc) = c
        return self._finish_op(unquote(name), name, results, operands, attrs, types, loc)

    def return_op(self, c):
        tok, operands, types, loc = c
        if isinstance(types, FunctionType):
            raise BuildError("'return' lists its operand types after ':', not a function type",
                              tok)
        return self._finish_op("func.return", tok, None, operands, None,
                               types if types is not None else [], loc,
                               types_are_operands=True)


@functools.lru_cache(maxsize=4096)
def _type_text(text: str):
    """One type's text, read with the grammar's `type` rule (each distinct text once)."""
    return _PARSER.parse(text, start="type_only")




@functools.lru_cache(maxsize=4096)
def _fast_op_types(text: str):
    return fast_op_types(text, _type_text)


def _show(t) -> str:
    from .printer import format_type
    return format_type(t)


def _hint(tok: Token) -> str | None:
    name = str(tok)[1:]
    return None if name.isdigit() else name


def _scalar(tok: Token) -> ScalarType:
    return _scalar_named(str(tok))


@functools.cache
def _scalar_named(name: str) -> ScalarType:
    return ScalarType(name)


@functools.lru_cache(maxsize=1)
def _grammar_text() -> str:
    return _GRAMMAR.read_text()


_PARSER: lark.Lark | None = None
_BUILDER: _Builder | None = None


def _parser() -> tuple[lark.Lark, _Builder]:
    """One Lark parser per process (building it costs ~0.1 s); its builder is reset per text."""
    global _PARSER, _BUILDER
    if _PARSER is None:
        _BUILDER = _Builder()
        _PARSER = lark.Lark(_grammar_text(), parser="lalr", lexer="contextual",
                            transformer=_BUILDER, maybe_placeholders=True,
                            propagate_positions=False, start=["start", "type_only"])
    _BUILDER.__init__()
    return _PARSER, _BUILDER


_EXPECT_NAMES = {
    "VALUE_ID": "a value name (%x)", "OP_NAME": "an op name (dialect.op)", "LOC": 'loc("...")',
    "LBRACE": "'{'", "RBRACE": "'}'", "LPAR": "'('", "RPAR": "')'", "COLON": "':'",
    "COMMA": "','", "EQUAL": "'='", "LSQB": "'['", "RSQB": "']'", "MORETHAN": "'>'",
    "LESSTHAN": "'<'", "TENSOR_PLAIN": "a tensor type", "TENSOR_OPEN": "a tensor type",
    "SCALAR_TYPE": "an element type", "STRING": "a string", "INT": "an integer",
    "FLOAT": "a float", "SYMBOL_NAME": "a symbol (@name)", "BARE_ID": "a name",
    "RETURN": "'return'", "MINUS": "'-'", "FAST_OP_TYPES": "':'", "FAST_TYPES_LOC": "':'",
    "OP_HEAD": "an op name (dialect.op)",
    "SIMPLE_ATTR_DICT": "'{'", "RESULTS_EQ": "a value name (%x)", "VALUE_LIST": "a value name (%x)",
    "TYPE_ALIAS": "a type alias (!name)", "AT": "'@'", "HASH": "'#'", "DENSE": "'dense'",
}


def _expected(names) -> str:
    shown = sorted({_EXPECT_NAMES.get(n, "'->'" if n.startswith("__ANON") else
                                      n.strip('"').lower()) for n in names})
    if len(shown) > 8:
        shown = shown[:8] + ["..."]
    return ", ".join(shown)


def parse_module(text: str, source: str | None = None) -> Module:
    """Parse IR text into a Module; `source` names the file in messages."""
    parser, _ = _parser()
    gc_was_enabled = gc.isenabled()
    gc.disable()  # parsing makes many small objects and no cycles worth collecting
    try:
        module = parser.parse(text, start="start")
    except BuildError as e:
        raise _error(e.message, e.line, e.column, source, text) from None
    except lark.exceptions.UnexpectedToken as e:
        got = "end of input" if e.token.type == "$END" else f"'{e.token}'"
        raise _error(f"unexpected {got}; expected {_expected(e.expected)}", e.line, e.column,
                     source, text) from None
    except lark.exceptions.UnexpectedCharacters as e:
        raise _error(f"unexpected character {text[e.pos_in_stream]!r}"
                     + (f"; expected {_expected(e.allowed)}" if e.allowed else ""),
                     e.line, e.column, source, text) from None
    except lark.exceptions.UnexpectedEOF as e:
        raise _error(f"unexpected end of input; expected {_expected(e.expected)}",
                     None, None, source, text) from None
    except lark.exceptions.VisitError as e:  # a builder callback failed
        inner = e.orig_exc
        if isinstance(inner, BuildError):
            raise _error(inner.message, inner.line, inner.column, source, text) from None
        raise
    finally:
        if gc_was_enabled:
            gc.enable()
    module.source = source
    return module


def _error(message, line, column, source, text) -> ParseError:
    return ParseError(message, line, column, source, text)


def parse_file(path: str | Path) -> Module:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ParseError(f"cannot read file: {e}", source=str(path)) from None
    return parse_module(text, source=str(path))
