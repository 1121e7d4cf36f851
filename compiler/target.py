"""Targets: what a chip's quantization allows, read from a TOML file (data, not code).

`load_target("int8-sym")` reads `compiler/targets/int8-sym.toml`; a path to a .toml file
reads that file, so a user can describe a new chip without touching kiln. Every key is
checked; an error names the file, the key and what is wrong.
"""

from __future__ import annotations

import difflib
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from .errors import UserError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

TARGETS_DIR = Path(__file__).with_name("targets")
DEFAULT_TARGET = "int8-sym"
_MODE = re.compile(r"(INT([4-9]|1[0-6])|F16|BF16|F32)\Z")
ROUNDING_MODES = ("half_away_from_zero",)


class TargetError(UserError):
    pass


@dataclass(frozen=True)
class Target:
    name: str
    description: str
    source: str
    activation_bits: tuple[int, ...]
    default_activation_bits: int
    activation_signed: bool
    activation_symmetric: bool
    min_range: float
    weight_bits: tuple[int, ...]
    per_channel_weights: bool
    symmetric_weights: bool
    power_of_two_scales: bool
    modes: tuple[str, ...]
    rounding: str
    unsigned_nonnegative: bool = False  # a tensor that is never negative is stored unsigned


def known_targets() -> list[str]:
    return sorted(p.stem for p in TARGETS_DIR.glob("*.toml"))


def _path_of(name_or_path: str) -> Path:
    if name_or_path.endswith(".toml") or "/" in name_or_path:
        return Path(name_or_path)
    path = TARGETS_DIR / f"{name_or_path}.toml"
    if not path.exists():
        close = difflib.get_close_matches(name_or_path, known_targets(), n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise TargetError(f"unknown target '{name_or_path}'{hint}; known targets: "
                          f"{', '.join(known_targets())}, or a path to a .toml file")
    return path


def load_target(name_or_path: str = DEFAULT_TARGET) -> Target:
    path = _path_of(name_or_path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise TargetError(f"{path}: cannot read ({e})") from None
    except tomllib.TOMLDecodeError as e:
        raise TargetError(f"{path}: not valid TOML ({e})") from None
    reader = _Reader(path, data)
    target = Target(
        name=reader.get("name", str),
        description=reader.get("description", str),
        source=str(path),
        activation_bits=reader.bits("activations.bits"),
        default_activation_bits=reader.get("activations.default_bits", int),
        activation_signed=reader.get("activations.signed", bool),
        activation_symmetric=reader.get("activations.symmetric", bool),
        min_range=float(reader.get("activations.min_range", (int, float))),
        weight_bits=reader.bits("weights.bits"),
        per_channel_weights=reader.get("weights.per_channel", bool),
        symmetric_weights=reader.get("weights.symmetric", bool),
        power_of_two_scales=reader.get("scales.power_of_two", bool),
        modes=tuple(reader.get("mixed.modes", list)),
        rounding=reader.get("ops.rounding", str),
        unsigned_nonnegative=reader.optional("activations.unsigned_nonnegative", bool, False),
    )
    reader.check_unused()
    if target.default_activation_bits not in target.activation_bits:
        raise TargetError(f"{path}: activations.default_bits {target.default_activation_bits} "
                          f"is not one of activations.bits {list(target.activation_bits)}")
    for mode in target.modes:
        if not isinstance(mode, str) or not _MODE.match(mode):
            raise TargetError(f"{path}: mixed.modes: '{mode}' is not INT<4..16>, F16, BF16 "
                              f"or F32")
    if target.rounding not in ROUNDING_MODES:
        raise TargetError(f"{path}: ops.rounding must be one of {', '.join(ROUNDING_MODES)}")
    if target.min_range < 0:
        raise TargetError(f"{path}: activations.min_range must be >= 0")
    return target


class _Reader:
    """Reads dotted keys, checking types, and remembers which keys were read."""

    def __init__(self, path: Path, data: dict) -> None:
        self.path, self.data, self.used = path, data, set()

    def get(self, key: str, kind):
        node = self.data
        for part in key.split("."):
            if not isinstance(node, dict) or part not in node:
                raise TargetError(f"{self.path}: missing key '{key}'")
            node = node[part]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if not isinstance(node, kinds) or (bool not in kinds and isinstance(node, bool)):
            names = " or ".join(k.__name__ for k in kinds)
            raise TargetError(f"{self.path}: '{key}' must be {names}, got {node!r}")
        self.used.add(key)
        return node

    def optional(self, key: str, kind, default):
        node = self.data
        for part in key.split("."):
            if not isinstance(node, dict) or part not in node:
                return default
            node = node[part]
        return self.get(key, kind)

    def bits(self, key: str) -> tuple[int, ...]:
        values = self.get(key, list)
        if not values or not all(isinstance(v, int) and not isinstance(v, bool) and 2 <= v <= 32
                                 for v in values):
            raise TargetError(f"{self.path}: '{key}' must be a list of bit widths 2..32")
        return tuple(values)

    def check_unused(self) -> None:
        def walk(node, prefix):
            for k, v in node.items():
                key = f"{prefix}{k}"
                if isinstance(v, dict):
                    yield from walk(v, key + ".")
                else:
                    yield key
        unknown = sorted(set(walk(self.data, "")) - self.used)
        if unknown:
            raise TargetError(f"{self.path}: unknown key(s) {', '.join(unknown)}")
