"""Passes, pipelines and the instrumentation around them.

A pass is a frozen dataclass with a kebab-case `name`; its fields are its options, written
`pass-name{field=value,other=[1,2]}` in a pipeline string. The registry in
`kiln.passes.registry` maps names to classes and imports them only when asked.

Instrumentation (printing, dumping, timing, verification, numeric checks between passes)
is kept out of the passes: an `Instrument` gets a callback before and after each pass and
when one fails.
"""

from __future__ import annotations

import dataclasses
import time
import typing
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from .errors import UserError
from .ir import Module


class PassError(UserError):
    """Raised by a pass that cannot do its job on this input (a user-facing message)."""


class NumericMismatch(PassError):
    """`--check-each` found that a pass changed what the module computes."""


class PipelineError(UserError):
    """A pipeline failed: the message names the pass and the passes that ran before it."""


@dataclass(frozen=True)
class Pass:
    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    # How `--check-each` compares outputs before and after this pass: "exact" (float rewrites,
    # 1e-5 relative) or "cosine" (quantizing passes).
    numeric_check: ClassVar[str] = "exact"

    def run(self, module: Module) -> None:
        raise NotImplementedError

    def pipeline_text(self) -> str:
        """This pass as it would be written in a pipeline string."""
        opts = [f"{f.name}={_format_option(getattr(self, f.name))}"
                for f in dataclasses.fields(self) if getattr(self, f.name) != _default(f)]
        return self.name + ("{" + ",".join(opts) + "}" if opts else "")


def _default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return dataclasses.MISSING


def _format_option(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_format_option(v) for v in value) + "]"
    return str(value)


# -- pipeline strings --------------------------------------------------------------------------
def split_pipeline(text: str) -> list[tuple[str, dict[str, str]]]:
    """`a,b{x=1,y=[1,2]},c` -> [("a", {}), ("b", {"x": "1", "y": "[1,2]"}), ("c", {})]."""
    out: list[tuple[str, dict[str, str]]] = []
    if not text.strip():
        return out
    for item in _split_top(text.strip(), ","):
        item = item.strip()
        if not item:
            raise PipelineError(f"empty pass name in pipeline '{text}'")
        if "{" in item:
            if not item.endswith("}"):
                raise PipelineError(f"pass options must end with '}}': '{item}'")
            name, _, body = item[:-1].partition("{")
            options: dict[str, str] = {}
            for entry in _split_top(body, ","):
                if not entry.strip():
                    continue
                key, eq, value = entry.partition("=")
                if not eq:
                    raise PipelineError(f"pass option '{entry}' of '{name}' needs key=value")
                options[key.strip()] = value.strip()
            out.append((name.strip(), options))
        else:
            out.append((item, {}))
    return out


def _split_top(text: str, sep: str) -> list[str]:
    parts, depth, start, quote = [], 0, 0, False
    for i, ch in enumerate(text):
        if ch == '"':
            quote = not quote
        elif quote:
            continue
        elif ch in "{[":
            depth += 1
        elif ch in "}]":
            depth -= 1
            if depth < 0:
                raise PipelineError(f"unbalanced '{ch}' in pipeline '{text}'")
        elif ch == sep and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    if depth != 0 or quote:
        raise PipelineError(f"unbalanced brackets or quotes in pipeline '{text}'")
    parts.append(text[start:])
    return parts


def build_pass(cls: type[Pass], options: dict[str, str]) -> Pass:
    """Instantiate a pass class from string options, converting each to its field's type."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for key, raw in options.items():
        if key not in fields:
            known = ", ".join(fields) or "none"
            raise PipelineError(f"pass '{cls.name}' has no option '{key}' (options: {known})")
        kwargs[key] = _convert_option(cls.name, key, raw, hints[key])
    return cls(**kwargs)


def _convert_option(pass_name: str, key: str, raw: str, hint: Any) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is typing.Union and type(None) in args:  # Optional[X]
        if raw in ("", "none"):
            return None
        hint = next(a for a in args if a is not type(None))
        origin, args = typing.get_origin(hint), typing.get_args(hint)
    try:
        if hint is bool:
            if raw.lower() in ("true", "1", "yes"):
                return True
            if raw.lower() in ("false", "0", "no"):
                return False
            raise ValueError("expected true or false")
        if hint in (int, float):
            return hint(raw)
        if hint is str:
            return raw[1:-1] if len(raw) >= 2 and raw[0] == raw[-1] == '"' else raw
        if origin in (tuple, list):
            if not (raw.startswith("[") and raw.endswith("]")):
                raise ValueError("expected a list [a,b,...]")
            items = [s.strip() for s in _split_top(raw[1:-1], ",") if s.strip()]
            conv = [_convert_option(pass_name, key, s, args[0]) for s in items]
            return tuple(conv) if origin is tuple else conv
    except ValueError as e:
        raise PipelineError(f"option {key}={raw} of pass '{pass_name}': {e}") from None
    raise PipelineError(f"option {key} of pass '{pass_name}' has an unsupported type {hint}")


# -- instrumentation ---------------------------------------------------------------------------
class Instrument:
    """Callbacks around each pass. `index` counts passes from 1."""

    def before_pipeline(self, module: Module) -> None: ...

    def before_pass(self, p: Pass, index: int, module: Module) -> None: ...

    def after_pass(self, p: Pass, index: int, module: Module) -> None: ...

    def after_failure(self, p: Pass, index: int, module: Module, error: Exception) -> None: ...

    def after_pipeline(self, module: Module) -> None: ...


class PassManager:
    def __init__(self, passes: Sequence[Pass], instruments: Sequence[Instrument] = (),
                 verify_each: bool = True) -> None:
        self.passes = list(passes)
        self.instruments = list(instruments)
        self.verify_each = verify_each

    @property
    def pipeline_text(self) -> str:
        return ",".join(p.pipeline_text() for p in self.passes)

    def run(self, module: Module) -> Module:
        from .verifier import VerifyError, verify_module

        for ins in self.instruments:
            ins.before_pipeline(module)
        for index, p in enumerate(self.passes, start=1):
            for ins in self.instruments:
                ins.before_pass(p, index, module)
            before = ", ".join(q.name for q in self.passes[:index - 1]) or "none"
            try:
                p.run(module)
                if self.verify_each:
                    verify_module(module)
                for ins in self.instruments:
                    ins.after_pass(p, index, module)
            except (PassError, VerifyError) as e:
                for ins in self.instruments:
                    ins.after_failure(p, index, module, e)
                if isinstance(e, VerifyError):
                    what = f"verifier failed after pass '{p.name}'"
                elif isinstance(e, NumericMismatch):
                    what = f"pass '{p.name}' changed the numbers"
                else:
                    what = f"pass '{p.name}' failed"
                raise PipelineError(f"{what} (passes run before it: {before}):\n{e}") from None
        for ins in self.instruments:
            ins.after_pipeline(module)
        return module


class Timing(Instrument):
    """`--time-passes`: wall time per pass, reported as a table."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, float]] = []
        self._start = 0.0

    def before_pass(self, p: Pass, index: int, module: Module) -> None:
        self._start = time.perf_counter()

    def after_pass(self, p: Pass, index: int, module: Module) -> None:
        self.rows.append((p.name, time.perf_counter() - self._start))

    def report(self) -> str:
        total = sum(t for _, t in self.rows) or 1e-12
        lines = ["===-------------------------------------------------------------===",
                 "                      Pass execution timing report",
                 "===-------------------------------------------------------------===",
                 f"  Total: {total:.4f} s", "   Wall time (s)   (%)  Name"]
        for name, t in self.rows:
            lines.append(f"   {t:12.4f}  {100 * t / total:5.1f}%  {name}")
        return "\n".join(lines)
