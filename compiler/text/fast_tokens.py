"""The lexer's fast-path tokens, taken apart without going back to the grammar's general
rules: a list of value names, a function type of types read one by one (each distinct text
once), and an attribute dictionary of numbers, int arrays and plain strings. See the
"Fast paths" comment in grammar.lark."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable

from lark import Token

from ..types import FunctionType


class BuildError(Exception):
    """Raised inside builder callbacks; turned into a ParseError with the source attached."""

    def __init__(self, message: str, token: Token | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = getattr(token, "line", None)
        self.column = getattr(token, "column", None)


class Names(list):
    """The value names of one RESULTS_EQ / VALUE_LIST token, with the token for messages."""

    def __init__(self, tok: Token, text: str) -> None:
        super().__init__(part.strip() for part in text.split(","))
        self.tok = tok

    def token_of(self, name: str) -> Token:
        """A token pointing at `name` inside the list, for an error message."""
        offset = max(str(self.tok).find(name), 0)
        return Token("VALUE_ID", name, line=self.tok.line, column=self.tok.column + offset)


def fast_op_types(text: str, read_type: Callable) -> FunctionType | list:
    """`: (T, T) -> T`, `: (T) -> (T, T)` or `: T, T` (the FAST_OP_TYPES token)."""
    text = text[2:]
    if not text.startswith("("):
        return [read_type(t) for t in split_top_level(text)]
    close = matching_paren(text)
    outs = text[close + 5:]
    if outs.startswith("("):
        outs = outs[1:-1]
    return FunctionType(tuple(read_type(t) for t in split_top_level(text[1:close])),
                        tuple(read_type(t) for t in split_top_level(outs)))


def matching_paren(text: str) -> int:
    depth = 0
    for i, ch in enumerate(text):
        if ch in "(<{":
            depth += 1
        elif ch in ")>}":
            depth -= 1
            if depth == 0:
                return i
    raise BuildError(f"unbalanced function type {text}")


def split_top_level(text: str) -> list[str]:
    """Split `T1, T2` at the commas outside any <...> or {...}."""
    if not text:
        return []
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch in "<{":
            depth += 1
        elif ch in ">}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i].strip())
            start = i + 1
    parts.append(text[start:].strip())
    return parts


_SIMPLE_ENTRY = re.compile(r'([A-Za-z_][A-Za-z0-9_$.]*) = ("[^"]*"|\[[^\]]*\]|[^,}]+)')


@functools.lru_cache(maxsize=4096)
def simple_attr_dict(text: str) -> tuple:
    """`{k = 1, s = [1, 2], f = 0.5, t = "x"}` (the fast path) as a tuple of (key, value)."""
    out = []
    for key, raw in _SIMPLE_ENTRY.findall(text):
        if raw.startswith("["):
            value = tuple(int(x) for x in raw[1:-1].split(","))
        elif raw.startswith('"'):
            value = raw[1:-1]
        elif raw in ("true", "false"):
            value = raw == "true"
        elif any(ch in raw for ch in ".eEn"):  # a float, inf or nan
            value = float(raw)
        else:
            value = int(raw)
        out.append((key, value))
    if len({k for k, _ in out}) != len(out):
        raise BuildError(f"an attribute is given twice in {text}")
    return tuple(out)


