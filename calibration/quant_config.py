"""The quantization config: one JSON file with per-layer bit widths, float layers, range
overrides and the simulator's fake-quantization switch (Ingenic Magik's PTQ json, in kiln's
terms). `docs/quant-config.md` is the user's description; in short:

    {"version": 1,
     "layers": {"conv1": {"bits": 16}, "head": {"mode": "F32"},
                "relu0": {"min": 0.0, "max": 1.7}},
     "skip_layers": ["softmax_out"],
     "skip_op_types": ["top.softmax"],
     "fake_quant": "both"}

Every key is optional except that the file is one JSON object; unknown keys, wrong types,
and (once checked against a model and a target, `resolve`) unknown layers, unknown op types
and modes the target does not allow are a `QuantConfigError` naming the file and the JSON
path of the value (`cfg.json: layers."conv1".bits: 7 is not allowed by target int8-sym
(8, 16)`). Layer names are locs of the float IR (the names of calibration tables and
qtables); a model input may be given a min/max, nothing else.

Precedence: a layer's own `bits`/`mode` > `skip_layers` > `skip_op_types`; a layer both
skipped and given `bits`/`mode` is an error. Skipped layers run in the target's best float
mode (`best_float_mode`: F16, else BF16, else F32). `min`/`max` replace the layer's range in
the calibration table model_deploy uses: [min, max], threshold max(|min|, |max|).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ..compiler.errors import UserError
from ..compiler.fileio import atomic_write_text
from ..compiler.interpreter import input_names
from ..compiler.ir import Module
from ..compiler.pass_manager import Instrument, Pass
from ..compiler.target import Target
from .qtable import normalize_mode

VERSION = 1
FAKE_QUANT = ("both", "weights", "activations")
FLOAT_MODES = ("F16", "BF16", "F32")  # best first
NON_LAYERS = frozenset({"top.weight", "top.constant", "top.none", "func.return"})
_TOP_KEYS = ("version", "layers", "skip_layers", "skip_op_types", "fake_quant")
_LAYER_KEYS = ("bits", "mode", "min", "max")


class QuantConfigError(UserError):
    """A config that cannot be used: `file: json.path: problem`."""


@dataclass
class LayerConfig:
    """One `layers` entry; None means not given."""

    bits: int | None = None
    mode: str | None = None
    min: float | None = None
    max: float | None = None

    @property
    def sets_mode(self) -> bool:
        return self.bits is not None or self.mode is not None


@dataclass
class QuantConfig:
    layers: dict[str, LayerConfig] = field(default_factory=dict)
    skip_layers: list[str] = field(default_factory=list)
    skip_op_types: list[str] = field(default_factory=list)
    fake_quant: str | None = None  # None: not given ("both")
    source: str = "quant config"

    def error(self, path: str, problem: str) -> QuantConfigError:
        return QuantConfigError(f"{self.source}: {path}: {problem}")


def layer_path(name: str) -> str:
    """`layers."conv1"`: the JSON path of a layer's entry (the name JSON-quoted)."""
    return f"layers.{json.dumps(name, ensure_ascii=False)}"


# -- reading ---------------------------------------------------------------------------------
def read_quant_config(path: str | Path) -> QuantConfig:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise QuantConfigError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise QuantConfigError(f"{path}: cannot read the quant config ({e})") from None
    return parse_quant_config(text, str(path))


def _no_duplicates(pairs: list[tuple[str, object]]) -> dict:
    out: dict = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"key {json.dumps(key)} is given twice")
        out[key] = value
    return out


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number")


def parse_quant_config(text: str, source: str = "quant config") -> QuantConfig:
    """The config in `text` with every key and type checked (`source` names it in errors)."""
    config = QuantConfig(source=source)
    try:
        data = json.loads(text, object_pairs_hook=_no_duplicates,
                          parse_constant=_reject_constant)
    except json.JSONDecodeError as e:
        raise QuantConfigError(f"{source}:{e.lineno}:{e.colno}: not valid JSON ({e.msg})") \
            from None
    except ValueError as e:
        raise QuantConfigError(f"{source}: not valid JSON ({e})") from None
    if not isinstance(data, dict):
        raise QuantConfigError(f"{source}: expected a JSON object, got {_kind(data)}")
    for key in data:
        if key not in _TOP_KEYS:
            raise config.error(key, f"unknown key (known: {', '.join(_TOP_KEYS)})")
    if "version" in data:
        version = data["version"]
        if not _is_int(version):
            raise config.error("version", f"expected an integer, got {_show(version)}")
        if version > VERSION or version < 1:
            raise config.error("version", f"{version} is not a version this kiln reads "
                                          f"({VERSION})")
    layers = data.get("layers", {})
    if not isinstance(layers, dict):
        raise config.error("layers", f"expected an object, got {_kind(layers)}")
    for name, entry in layers.items():
        config.layers[name] = _layer(config, name, entry)
    for key in ("skip_layers", "skip_op_types"):
        values = data.get(key, [])
        if not isinstance(values, list):
            raise config.error(key, f"expected a list of names, got {_kind(values)}")
        for i, value in enumerate(values):
            if not isinstance(value, str) or not value:
                raise config.error(f"{key}[{i}]", f"expected a name, got {_show(value)}")
            if value in values[:i]:
                raise config.error(f"{key}[{i}]", f"{_show(value)} is listed twice")
        setattr(config, key, list(values))
    if "fake_quant" in data:
        mode = data["fake_quant"]
        if mode not in FAKE_QUANT:
            raise config.error("fake_quant", f"{_show(mode)} is not one of "
                                             f"{', '.join(FAKE_QUANT)}")
        config.fake_quant = mode
    return config


def _layer(config: QuantConfig, name: str, entry: object) -> LayerConfig:
    path = layer_path(name)
    if not isinstance(entry, dict):
        raise config.error(path, f"expected an object with {', '.join(_LAYER_KEYS)}, got "
                                 f"{_kind(entry)}")
    for key in entry:
        if key not in _LAYER_KEYS:
            raise config.error(f"{path}.{key}", f"unknown key (known: {', '.join(_LAYER_KEYS)})")
    out = LayerConfig()
    if "bits" in entry:
        bits = entry["bits"]
        if not _is_int(bits):
            raise config.error(f"{path}.bits", f"expected an integer, got {_show(bits)}")
        out.bits = bits
    if "mode" in entry:
        mode = entry["mode"]
        normal = normalize_mode(mode) if isinstance(mode, str) else None
        if normal is None:
            raise config.error(f"{path}.mode", f"{_show(mode)} is not a mode (INT8, INT16, "
                                               "INT<n>, F16, BF16 or F32)")
        out.mode = normal
    if out.bits is not None and out.mode is not None:
        raise config.error(path, "give bits or mode, not both")
    for key in ("min", "max"):
        if key in entry:
            value = entry[key]
            if isinstance(value, bool) or not isinstance(value, (int, float)) or \
                    not math.isfinite(value):
                raise config.error(f"{path}.{key}", f"expected a finite number, got "
                                                    f"{_show(value)}")
            setattr(out, key, float(value))
    if out.min is not None and out.max is not None and out.min > out.max:
        raise config.error(path, f"min {out.min!r} > max {out.max!r}")
    return out


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _kind(value: object) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean",
             int: "a number", float: "a number", type(None): "null"}
    return f"{names.get(type(value), type(value).__name__)} ({_show(value)})"


def _show(value: object) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 40 else text[:37] + "..."


# -- writing ---------------------------------------------------------------------------------
def format_quant_config(config: QuantConfig) -> str:
    """The JSON text, one layer per line in the config's order (network order when saved);
    the same config gives the same bytes."""
    def dump(value: object) -> str:
        return json.dumps(value, ensure_ascii=False)

    lines = ["{", f'  "version": {VERSION},']
    rows = []
    for name, entry in config.layers.items():
        fields = {k: getattr(entry, k) for k in _LAYER_KEYS if getattr(entry, k) is not None}
        rows.append(f"    {dump(name)}: {dump(fields)}")
    lines.append('  "layers": {' + ("\n" + ",\n".join(rows) + "\n  }," if rows else "},"))
    lines.append(f'  "skip_layers": {dump(config.skip_layers)},')
    lines.append(f'  "skip_op_types": {dump(config.skip_op_types)},')
    lines.append(f'  "fake_quant": {dump(config.fake_quant or "both")}')
    return "\n".join(lines) + "\n}\n"


def write_quant_config(path: str | Path, config: QuantConfig) -> None:
    atomic_write_text(path, format_quant_config(config))


# -- against a model and a target -------------------------------------------------------------
def computing_layers(module: Module) -> dict[str, str]:
    """loc -> op name of every op that computes a tensor (not weights, constants, none or
    the return), in program order: the layers a qtable or a config can name."""
    out: dict[str, str] = {}
    for op in module.walk():
        if op.name not in NON_LAYERS and op.loc and op.results:
            out.setdefault(op.loc, op.name)
    return out


def best_float_mode(target: Target) -> str | None:
    """F16 if the target allows it, else BF16, else F32 (None: it has no float mode)."""
    return next((m for m in FLOAT_MODES if m in target.modes), None)


def allowed_bits(target: Target) -> list[int]:
    from ..passes.lowering.scheme import mode_bits

    return sorted(b for b in (mode_bits(m) for m in target.modes) if b is not None)


@dataclass
class ResolvedConfig:
    """A config checked against a model and a target: each layer's mode (program order) and
    the range overrides (name -> (min or None, max or None))."""

    config: QuantConfig
    modes: dict[str, str]
    ranges: dict[str, tuple[float | None, float | None]]
    layer_types: dict[str, str]


def _unknown(config: QuantConfig, path: str, name: str, known: Iterable[str]) -> QuantConfigError:
    import difflib

    close = difflib.get_close_matches(name, list(known), n=3)
    hint = f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""
    return config.error(path, f"the model has no layer {name!r}{hint}")


def resolve(config: QuantConfig, module: Module, target: Target) -> ResolvedConfig:
    """Check every name, op type and mode of `config` against `module` and `target`, and
    give each layer the mode the config chooses for it."""
    from ..compiler.ir import Operation

    layers = computing_layers(module)
    inputs = set(input_names(module.main))
    chosen: dict[str, str] = {}
    ranges: dict[str, tuple[float | None, float | None]] = {}

    def float_mode(path: str) -> str:
        mode = best_float_mode(target)
        if mode is None:
            raise config.error(path, f"target {target.name} has no float mode "
                                     f"(modes: {', '.join(target.modes)})")
        return mode

    for name, entry in config.layers.items():
        path = layer_path(name)
        if name in inputs and name not in layers:
            if entry.sets_mode:
                raise config.error(path, f"{name!r} is a model input: only min and max can "
                                         "be given for it")
        elif name not in layers:
            raise _unknown(config, path, name, [*layers, *inputs])
        if entry.bits is not None:
            allowed = allowed_bits(target)
            if entry.bits not in allowed:
                raise config.error(f"{path}.bits", f"{entry.bits} is not allowed by target "
                                   f"{target.name} ({', '.join(map(str, allowed))})")
            chosen[name] = f"INT{entry.bits}"
        elif entry.mode is not None:
            if entry.mode not in target.modes:
                raise config.error(f"{path}.mode", f"{entry.mode} is not allowed by target "
                                   f"{target.name} ({', '.join(target.modes)})")
            chosen[name] = entry.mode
        if entry.min is not None or entry.max is not None:
            ranges[name] = (entry.min, entry.max)
    skipped: dict[str, str] = {}
    for i, name in enumerate(config.skip_layers):
        path = f"skip_layers[{i}]"
        if name not in layers:
            raise _unknown(config, path, name, layers)
        if name in chosen:
            raise config.error(path, f"layer {name!r} also has bits or a mode in "
                                     f"{layer_path(name)}")
        skipped[name] = float_mode(path)
    for i, op_type in enumerate(config.skip_op_types):
        path = f"skip_op_types[{i}]"
        if op_type not in Operation.registry:
            import difflib

            close = difflib.get_close_matches(op_type, sorted(Operation.registry), n=3)
            hint = f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""
            raise config.error(path, f"unknown op type {op_type!r}{hint}")
        for name, kind in layers.items():
            if kind == op_type and name not in chosen:
                skipped.setdefault(name, float_mode(path))
    modes = {name: chosen.get(name) or skipped[name] for name in layers
             if name in chosen or name in skipped}
    return ResolvedConfig(config, modes, ranges, layers)


def adjust_table(table, resolved: ResolvedConfig):
    """A copy of the calibration table with the config's min/max overrides; a named layer
    without a range is an error (it is computed exactly, or float)."""
    from copy import deepcopy

    out = deepcopy(table)
    config = resolved.config
    for name, (lo, hi) in resolved.ranges.items():
        path = layer_path(name)
        if name not in out:
            raise config.error(path, f"layer {name!r} has no range in the calibration table "
                                     "(it is computed exactly or never calibrated)")
        entry = out[name]
        if (lo is None and entry.min > hi) or (hi is None and lo > entry.max):
            raise config.error(path, f"the range is empty with the table's other end "
                                     f"[{entry.min!r}, {entry.max!r}]")
        lo = entry.min if lo is None else lo
        hi = entry.max if hi is None else hi
        threshold = max(abs(lo), abs(hi))
        if threshold <= 0:
            raise config.error(path, "min and max are both 0: no range to quantize to")
        out.add(name, threshold, lo, hi)
    return out


def merge_modes(qtable_modes: Mapping[str, str], resolved: ResolvedConfig) -> \
        tuple[dict[str, str], list[str]]:
    """The qtable's rows with the config's modes over them (the config wins), in program
    order, and `name (OLD -> NEW)` for each row the config changed."""
    merged = dict(qtable_modes)
    changed = []
    for name, mode in resolved.modes.items():
        old = merged.get(name)
        if old is not None and old != mode:
            changed.append(f"{name} ({old} -> {mode})")
        merged[name] = mode
    order = {name: i for i, name in enumerate(resolved.layer_types)}
    return dict(sorted(merged.items(), key=lambda kv: order.get(kv[0], len(order)))), changed


# -- saving the current choice ---------------------------------------------------------------
class ModeRecorder(Instrument):
    """Records each layer's `kiln.mode` right after apply-qtable (the lowering drops it)."""

    def __init__(self) -> None:
        self.modes: dict[str, str] = {}

    def after_pass(self, p: Pass, index: int, module: Module) -> None:
        if p.name != "apply-qtable":
            return
        for op in module.walk():
            mode = op.attributes.get("kiln.mode")
            if op.loc and isinstance(mode, str):
                self.modes.setdefault(op.loc, mode)


def config_of_modes(modes: Mapping[str, str], loaded: QuantConfig | None = None) -> QuantConfig:
    """The config that gives every layer its mode (`bits` for integer modes, `mode` for float
    ones), keeping the min/max overrides and fake_quant of the config it was loaded from."""
    from ..passes.lowering.scheme import mode_bits

    out = QuantConfig(fake_quant=loaded.fake_quant if loaded else None)
    for name, entry in (loaded.layers.items() if loaded else ()):
        if name not in modes and (entry.min is not None or entry.max is not None):
            out.layers[name] = LayerConfig()  # a model input: first, as in the network
    for name, mode in modes.items():
        bits = mode_bits(mode)
        out.layers[name] = LayerConfig(bits=bits) if bits is not None else LayerConfig(mode=mode)
    for name, entry in (loaded.layers.items() if loaded else ()):
        if entry.min is not None or entry.max is not None:
            kept = out.layers.setdefault(name, LayerConfig())
            kept.min, kept.max = entry.min, entry.max
    return out


__all__ = ["FAKE_QUANT", "VERSION", "LayerConfig", "ModeRecorder", "QuantConfig",
           "QuantConfigError", "ResolvedConfig", "adjust_table", "allowed_bits",
           "best_float_mode", "computing_layers", "config_of_modes", "format_quant_config",
           "layer_path", "merge_modes", "parse_quant_config", "read_quant_config", "resolve",
           "write_quant_config"]
