"""The quantize table (qtable): which layers run in which mode, and which are never quantized.

The file is the one TPU-MLIR's model_deploy reads (`--quantize_table`): plain text, one
`op_name MODE` row per line (exactly two fields separated by whitespace), lines starting with
`#` are comments. kiln writes:

    # op_name quantize_mode
    # kiln qtable 1
    /encoder/layer.0/attention/Softmax_output_0 F16
    conv_out INT16
    # shape layers (computed exactly, never quantized)
    /Cast_output_0 F32
    /Mul_output_0 F32

- `op_name` is the loc of the op (the ONNX tensor name it produces); it cannot contain
  whitespace or start with `#`.
- `MODE` is one of INT8, INT16, F16, BF16, F32 (the modes TPU-MLIR's table takes, minus its
  chip-specific ones) or, for targets with sub-byte or odd-width integer features, `INT<n>`
  with n from 4 to 16 (INT4, INT12, ...); the target decides which it accepts. Modes are read
  case-insensitively and written in upper case.
- `# kiln qtable <version>` (optional on read; a file from TPU-MLIR has none) says which
  format a kiln wrote; a newer version than this reader knows is an error.
- The rows after the exact comment line `# shape layers (computed exactly, never quantized)`
  are the shape layers `run_calibration` found (shape/index computations, masks, integer
  data, see `exclusion`): they must be F32, which means "computed exactly" (in f32, or in
  the op's own integer type). To quantize one anyway, move its row above that line. A tool
  that ignores comments (TPU-MLIR) reads them as ordinary F32 rows, which is what they are.

Every line is checked on read; a problem is a `QTableError` naming `file:line`: a row
without exactly two fields, an unknown mode, a layer listed twice, a layer the model does not
have (with the closest name), a shape layer that is not F32.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ..compiler.errors import UserError
from ..compiler.fileio import atomic_write_text

HEADER = "# op_name quantize_mode"
VERSION = 1
VERSION_LINE = f"# kiln qtable {VERSION}"
SHAPE_SECTION = "# shape layers (computed exactly, never quantized)"
BASE_MODES = ("INT8", "INT16", "F16", "BF16", "F32")
INT_BITS = range(4, 17)
_VERSION = re.compile(r"#\s*kiln qtable\s+(\S+)\s*$")
_INT_MODE = re.compile(r"INT(\d+)\Z")


class QTableError(UserError):
    """A qtable line that cannot be used; the message is `file:line: problem`."""


def normalize_mode(mode: str) -> str | None:
    """The mode in upper case if it is one kiln knows (see the module docstring), else None."""
    upper = mode.upper()
    if upper in BASE_MODES:
        return upper
    m = _INT_MODE.match(upper)
    if m and int(m.group(1)) in INT_BITS and not m.group(1).startswith("0"):
        return upper
    return None


@dataclass
class QTable:
    """A read qtable: `modes` (layer -> MODE, file order), `shape_layers` (file order) and
    the line each layer was found on, for messages of later steps."""

    modes: dict[str, str] = field(default_factory=dict)
    shape_layers: list[str] = field(default_factory=list)
    lines: dict[str, int] = field(default_factory=dict)
    path: str | None = None
    version: int | None = None

    def mode_of(self, name: str) -> str | None:
        """The layer's mode: its row's, F32 for a shape layer, None if not listed."""
        if name in self.modes:
            return self.modes[name]
        return "F32" if name in self.lines else None

    def where(self, name: str) -> str:
        """`file:line` of a layer's row, for messages."""
        return f"{self.path or 'qtable'}:{self.lines[name]}"


def _check_name(name: str) -> None:
    if not name or any(ch.isspace() for ch in name) or name.startswith("#"):
        raise ValueError(f"layer name {name!r} cannot be written in a qtable (it must be "
                         f"non-empty, without whitespace, and not start with '#')")


def format_qtable(rows: Mapping[str, str] | Iterable[tuple[str, str]],
                  shape_layers: Iterable[str] = ()) -> str:
    """The qtable text: `rows` (layer -> mode) in the order given, then the shape layers in
    the order given (pass both in network order). ValueError for a bad name or mode, or a
    layer given twice."""
    items = list(rows.items() if isinstance(rows, Mapping) else rows)
    lines = [HEADER, VERSION_LINE]
    seen: set[str] = set()
    for name, mode in items:
        _check_name(name)
        normal = normalize_mode(mode)
        if normal is None:
            raise ValueError(f"layer '{name}': unknown quantize mode '{mode}' ({_modes_text()})")
        if name in seen:
            raise ValueError(f"layer '{name}' is given twice")
        seen.add(name)
        lines.append(f"{name} {normal}")
    shape = list(shape_layers)
    if shape:
        lines.append(SHAPE_SECTION)
    for name in shape:
        _check_name(name)
        if name in seen:
            raise ValueError(f"layer '{name}' is given twice (a shape layer is always F32)")
        seen.add(name)
        lines.append(f"{name} F32")
    return "\n".join(lines) + "\n"


def write_qtable(path: str | Path, rows: Mapping[str, str] | Iterable[tuple[str, str]],
                 shape_layers: Iterable[str] = ()) -> None:
    """Write a qtable atomically; the same rows give the same bytes (see `format_qtable`)."""
    atomic_write_text(path, format_qtable(rows, shape_layers))


def _modes_text() -> str:
    low, high = INT_BITS.start, INT_BITS.stop - 1
    return f"known: {', '.join(BASE_MODES)}, or INT<n> for n in {low}..{high}"


def read_qtable(path: str | Path, known_names: Iterable[str] | None = None) -> QTable:
    """Read and check a qtable. With `known_names` (the model's layer names), a layer the
    model does not have is an error suggesting the closest name."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise QTableError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise QTableError(f"{path}: cannot read the qtable ({e})") from None
    return parse_qtable(text, str(path), known_names)


def parse_qtable(text: str, source: str = "qtable",
                 known_names: Iterable[str] | None = None) -> QTable:
    """`read_qtable` on text already read; `source` names it in messages."""
    known = None if known_names is None else list(known_names)
    known_set = None if known is None else set(known)
    table = QTable(path=source)
    in_shape = False
    for number, raw in enumerate(text.splitlines(), 1):
        where = f"{source}:{number}"
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            if line == SHAPE_SECTION:
                if in_shape:
                    raise QTableError(f"{where}: the shape layers line appears twice")
                in_shape = True
                continue
            m = _VERSION.match(line)
            if m:
                table.version = _parse_version(m.group(1), where)
            continue
        fields = line.split()
        if len(fields) != 2:
            raise QTableError(f"{where}: expected 'op_name MODE', got {len(fields)} field(s): "
                              f"'{line}'")
        name, mode = fields
        normal = normalize_mode(mode)
        if normal is None:
            raise QTableError(f"{where}: unknown quantize mode '{mode}' for layer '{name}' "
                              f"({_modes_text()})")
        if name in table.lines:
            raise QTableError(f"{where}: layer '{name}' is listed twice (first at line "
                              f"{table.lines[name]})")
        if known_set is not None and name not in known_set:
            close = difflib.get_close_matches(name, known, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise QTableError(f"{where}: the model has no layer '{name}'{hint}")
        if in_shape and normal != "F32":
            raise QTableError(f"{where}: shape layer '{name}' must be F32 (it is computed "
                              f"exactly); to quantize it, move its row above the shape "
                              f"layers line")
        table.lines[name] = number
        if in_shape:
            table.shape_layers.append(name)
        else:
            table.modes[name] = normal
    return table


def _parse_version(text: str, where: str) -> int:
    if not text.isdigit():
        raise QTableError(f"{where}: bad kiln qtable version '{text}' (expected a number)")
    version = int(text)
    if version > VERSION:
        raise QTableError(f"{where}: qtable version {version} was written by a newer kiln; "
                          f"this one reads version {VERSION}")
    return version


__all__ = ["BASE_MODES", "HEADER", "SHAPE_SECTION", "VERSION", "QTable", "QTableError",
           "format_qtable", "normalize_mode", "parse_qtable", "read_qtable", "write_qtable"]
