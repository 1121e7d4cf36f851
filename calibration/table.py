"""The calibration table: one `name threshold min max` row per calibrated tensor.

The format is TPU-MLIR's (what its run_calibration writes and its model_deploy reads), so a
table written by either tool is read by the other:

    # kiln calibration table v1
    # generated time: 2026-01-02 03:04:05
    # quantization threshold calculation method: kl
    # histogram number: 2048
    # sample number: 100
    # kiln.mlir yolo_we.mlir
    # kiln.weights yolo_we_weights.npz
    ###
    # op_name    threshold    min    max
    images 1.0 0.0 1.0
    /model.0/conv/Conv_output_0_Conv 12.5 -30.25 28.0

Lines starting with `#` are comments for TPU-MLIR, except those containing one of its
section markers: after `#int4_th` (or `#tpu-mlir-fp8`, `mqbench-fp8`) rows are int4 (fp8)
thresholds, after `#weight_scale` rows are `name N s1 ... sN` per-channel weight scales,
after `#asym_op` / `#int4_op` rows are bare op names; there is no way back to the int8 rows.
kiln reads all of these (`int4_entries`, `fp8_entries`, `weight_scales`, `asym_ops`,
`int4_ops`) and writes them back after the int8 rows, in that order, each after its marker line (no
blank line: TPU-MLIR's Python table parser rejects those); run_calibration itself writes
only the int8 rows.

kiln's own header lines, comments for TPU-MLIR: the version line, and `# kiln.mlir PATH` /
`# kiln.weights PATH` naming the replacement IR and weights that weight equalization or bias
correction produced (to be compiled instead of the original; relative paths are relative to
the table's folder, see `CalibrationTable.replacement_files`). The generated time is written
only when the table has one (`generated`), so the same table gives the same bytes. Numbers are
written with Python's repr, so they read back exactly, with `e+` written `e` (`1e16`) to
match TPU-MLIR's row pattern `\\S+\\s+[-0-9.e]+\\s+[-0-9.e]+\\s+[-0-9.e]+`.

`read_table` checks every line and raises `CalibrationTableError` ("file:line: problem") for
a malformed row, a field that is not a number, a threshold that is not a positive number
(negative, zero, NaN, infinite), a non-finite min or max, min > max, a name given twice in a
section, and, when the caller passes the network's tensor names, an unknown name (with the
closest known name as a suggestion).
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ..compiler.errors import UserError
from ..compiler.fileio import atomic_write_text

TABLE_VERSION = 1
VERSION_PREFIX = "# kiln calibration table v"
COLUMNS_LINE = "# op_name    threshold    min    max"

# TPU-MLIR switches section on a comment line containing one of these (first match wins).
_MARKERS = (
    ("#weight_scale", "weight_scale"),
    ("#int4_th", "int4"),
    ("#tpu-mlir-fp8", "fp8"),
    ("mqbench-fp8", "fp8"),
    ("asym_op", "asym_op"),
    ("int4_op", "int4_op"),
)
_SECTION_MARKER = {"int4": "#int4_th", "fp8": "#tpu-mlir-fp8", "weight_scale": "#weight_scale",
                   "asym_op": "#asym_op", "int4_op": "#int4_op"}
_HEADER_INFO = {  # TPU-MLIR's informative header lines, and the table field each fills
    "# genetated time:": "generated",  # sic: TPU-MLIR's spelling
    "# generated time:": "generated",
    "# quantization threshold calculation method:": "method",
    "# histogram number:": "histogram_bins",
    "# sample number:": "samples",
}
_NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")
_NON_FINITE = re.compile(r"[-+]?(nan|inf|infinity)", re.IGNORECASE)
_INT = re.compile(r"\d+")


class CalibrationTableError(UserError):
    """A calibration table that cannot be used; the message names the file and line."""


@dataclass(frozen=True)
class CalibrationEntry:
    threshold: float
    min: float
    max: float


def _entry_problem(threshold: float, lo: float, hi: float) -> str | None:
    if math.isnan(threshold):
        return "threshold is NaN"
    if not (threshold > 0 and math.isfinite(threshold)):
        return f"threshold {threshold!r} is not a positive number"
    for what, v in (("min", lo), ("max", hi)):
        if not math.isfinite(v):
            return f"{what} {v!r} is not a finite number"
    if lo > hi:
        return f"min {lo!r} > max {hi!r}"
    return None


def _name_problem(name: str) -> str | None:
    if not name or any(c.isspace() for c in name) or name.startswith("#"):
        return f"name {name!r} cannot be written in a table (empty, spaces or leading '#')"
    return None


@dataclass
class CalibrationTable:
    """A calibration table. `entries` are the int8 rows in file order; the other sections
    are read from TPU-MLIR tables and written back as they are."""

    entries: dict[str, CalibrationEntry] = field(default_factory=dict)
    method: str | None = None
    histogram_bins: int | None = None
    samples: int | None = None
    generated: str | None = None  # free text (a timestamp); None keeps output reproducible
    mlir: str | None = None  # replacement IR file (weight equalization / bias correction)
    weights: str | None = None  # replacement weights file
    int4_entries: dict[str, CalibrationEntry] = field(default_factory=dict)
    fp8_entries: dict[str, CalibrationEntry] = field(default_factory=dict)
    weight_scales: dict[str, tuple[float, ...]] = field(default_factory=dict)
    asym_ops: list[str] = field(default_factory=list)
    int4_ops: list[str] = field(default_factory=list)

    def add(self, name: str, threshold: float, min: float, max: float) -> None:
        """Add (or replace) the int8 row of `name`; ValueError for values no table holds."""
        problem = _name_problem(name) or _entry_problem(float(threshold), float(min),
                                                        float(max))
        if problem:
            raise ValueError(f"calibration entry {name!r}: {problem}")
        self.entries[name] = CalibrationEntry(float(threshold), float(min), float(max))

    def __getitem__(self, name: str) -> CalibrationEntry:
        return self.entries[name]

    def __contains__(self, name: object) -> bool:
        return name in self.entries

    def __len__(self) -> int:
        return len(self.entries)

    def names(self) -> list[str]:
        return list(self.entries)

    def replacement_files(self, table_path: str | Path) -> tuple[Path | None, Path | None]:
        """(IR, weights) named by the header, relative paths taken from the table's folder."""
        folder = Path(table_path).parent

        def resolve(value: str | None) -> Path | None:
            return None if value is None else folder / value

        return resolve(self.mlir), resolve(self.weights)


# --- writing -------------------------------------------------------------------------------


def _num(v: float) -> str:
    return repr(float(v)).replace("e+", "e")


def _header_value(path: Path, what: str, value: str) -> str:
    if "\n" in value or "\r" in value or not value.strip():
        raise CalibrationTableError(f"cannot write {path}: the {what} {value!r} is empty or "
                                    "spans several lines")
    for marker, _ in _MARKERS:
        if marker in value:
            raise CalibrationTableError(
                f"cannot write {path}: the {what} {value!r} contains {marker!r}, which "
                "TPU-MLIR reads as the start of a table section; rename it")
    return value


def format_table(table: CalibrationTable, path: str | Path = "<table>") -> str:
    """The text `write_table` writes (`path` only names the file in error messages)."""
    path = Path(path)
    lines = [f"{VERSION_PREFIX}{TABLE_VERSION}"]
    if table.generated is not None:
        lines.append(f"# generated time: {_header_value(path, 'time', table.generated)}")
    if table.method is not None:
        method = _header_value(path, "method", table.method)
        lines.append(f"# quantization threshold calculation method: {method}")
    if table.histogram_bins is not None:
        lines.append(f"# histogram number: {int(table.histogram_bins)}")
    if table.samples is not None:
        lines.append(f"# sample number: {int(table.samples)}")
    if table.mlir is not None:
        lines.append(f"# kiln.mlir {_header_value(path, 'IR path', table.mlir)}")
    if table.weights is not None:
        lines.append(f"# kiln.weights {_header_value(path, 'weights path', table.weights)}")
    lines += ["###", COLUMNS_LINE]

    def rows(entries: dict[str, CalibrationEntry]) -> list[str]:
        out = []
        for name, e in entries.items():
            problem = _name_problem(name) or _entry_problem(e.threshold, e.min, e.max)
            if problem:
                raise ValueError(f"calibration entry {name!r}: {problem}")
            out.append(f"{name} {_num(e.threshold)} {_num(e.min)} {_num(e.max)}")
        return out

    def names(items: list[str]) -> list[str]:
        for name in items:
            problem = _name_problem(name)
            if problem:
                raise ValueError(problem)
        return list(items)

    lines += rows(table.entries)
    sections = [("int4", rows(table.int4_entries)), ("fp8", rows(table.fp8_entries))]
    scale_rows = []
    for name, scales in table.weight_scales.items():
        problem = _name_problem(name)
        if problem or not all(math.isfinite(s) for s in scales):
            raise ValueError(problem or f"weight scales of {name!r} are not all finite")
        scale_rows.append(" ".join([name, str(len(scales)), *(_num(s) for s in scales)]))
    sections += [("weight_scale", scale_rows), ("asym_op", names(table.asym_ops)),
                 ("int4_op", names(table.int4_ops))]
    for section, body in sections:
        if body:
            lines += [_SECTION_MARKER[section], *body]
    return "\n".join(lines) + "\n"


def write_table(path: str | Path, table: CalibrationTable) -> None:
    """Write `table` to `path` atomically; the same table always gives the same bytes."""
    atomic_write_text(path, format_table(table, path))


# --- reading -------------------------------------------------------------------------------


class _Reader:
    def __init__(self, path: Path, known_names: Iterable[str] | None) -> None:
        self.path = path
        self.known = None if known_names is None else list(known_names)
        self.known_set = None if self.known is None else set(self.known)
        self.table = CalibrationTable()
        self.section = "int8"
        self.seen: dict[tuple[str, str], int] = {}  # (section, name) -> line
        self.kiln_keys: dict[str, int] = {}
        self.lineno = 0

    def fail(self, problem: str) -> CalibrationTableError:
        return CalibrationTableError(f"{self.path}:{self.lineno}: {problem}")

    def number(self, token: str, what: str) -> float:
        if _NON_FINITE.fullmatch(token):
            return float(token)  # a real float, judged by the entry checks
        if not _NUMBER.fullmatch(token):
            raise self.fail(f"{what} {token!r} is not a number")
        return float(token)

    def check_name(self, name: str) -> None:
        key = (self.section, name)
        if key in self.seen:
            where = "" if self.section == "int8" else f" in the {self.section} section"
            raise self.fail(f"duplicate name {name!r}{where} (first at line {self.seen[key]})")
        self.seen[key] = self.lineno
        if self.known_set is not None and name not in self.known_set:
            close = difflib.get_close_matches(name, self.known, n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise self.fail(f"unknown layer {name!r} (no tensor of that name){hint}")

    def comment(self, line: str) -> None:
        for marker, section in _MARKERS:
            if marker in line:
                self.section = section
                return
        if line.startswith(VERSION_PREFIX.rstrip("v").rstrip()):
            version = line[len(VERSION_PREFIX):] if line.startswith(VERSION_PREFIX) else ""
            if not _INT.fullmatch(version):
                raise self.fail(f"malformed version line {line!r} "
                                f"(expected '{VERSION_PREFIX}{TABLE_VERSION}')")
            if int(version) > TABLE_VERSION:
                raise self.fail(f"table version {int(version)} is newer than this kiln "
                                f"reads (version {TABLE_VERSION}); update kiln")
            return
        if line.startswith("# kiln."):
            key, _, value = line[2:].partition(" ")
            if key not in ("kiln.mlir", "kiln.weights"):
                raise self.fail(f"unknown kiln header {key!r} "
                                "(known: kiln.mlir, kiln.weights)")
            if not value.strip():
                raise self.fail(f"{key} names no file")
            if key in self.kiln_keys:
                raise self.fail(f"{key} given twice (first at line {self.kiln_keys[key]})")
            self.kiln_keys[key] = self.lineno
            setattr(self.table, key.partition(".")[2], value.strip())
            return
        for prefix, attribute in _HEADER_INFO.items():
            if line.startswith(prefix) and getattr(self.table, attribute) is None:
                value = line[len(prefix):].strip()
                if attribute in ("histogram_bins", "samples"):
                    if _INT.fullmatch(value):
                        setattr(self.table, attribute, int(value))
                elif value:
                    setattr(self.table, attribute, value)
                return

    def row(self, fields: list[str]) -> None:
        if self.section in ("asym_op", "int4_op"):
            if len(fields) != 1:
                raise self.fail(f"expected one op name in the #{self.section} section, "
                                f"got {len(fields)} fields")
            self.check_name(fields[0])
            (self.table.asym_ops if self.section == "asym_op"
             else self.table.int4_ops).append(fields[0])
            return
        if self.section == "weight_scale":
            if len(fields) < 2 or not _INT.fullmatch(fields[1]):
                raise self.fail("expected 'name N scale1 ... scaleN' in the #weight_scale "
                                "section")
            n = int(fields[1])
            if len(fields) != n + 2:
                raise self.fail(f"{fields[0]!r} announces {n} weight scales but has "
                                f"{len(fields) - 2}")
            scales = tuple(self.number(t, "weight scale") for t in fields[2:])
            if not all(math.isfinite(s) for s in scales):
                raise self.fail(f"weight scales of {fields[0]!r} are not all finite")
            key = ("weight_scale", fields[0])
            if key in self.seen:
                raise self.fail(f"duplicate name {fields[0]!r} in the weight_scale section "
                                f"(first at line {self.seen[key]})")
            self.seen[key] = self.lineno
            self.table.weight_scales[fields[0]] = scales
            return
        if len(fields) != 4:
            raise self.fail(f"expected 'name threshold min max', got {len(fields)} field"
                            f"{'s' if len(fields) != 1 else ''}: {' '.join(fields)!r}")
        name = fields[0]
        threshold = self.number(fields[1], "threshold")
        lo = self.number(fields[2], "min")
        hi = self.number(fields[3], "max")
        problem = _entry_problem(threshold, lo, hi)
        if problem:
            raise self.fail(f"{name!r}: {problem}")
        self.check_name(name)
        target = {"int8": self.table.entries, "int4": self.table.int4_entries,
                  "fp8": self.table.fp8_entries}[self.section]
        target[name] = CalibrationEntry(threshold, lo, hi)

    def read(self, text: str) -> CalibrationTable:
        for self.lineno, raw in enumerate(text.split("\n"), start=1):
            line = raw.rstrip("\r").strip()
            if not line:
                continue
            if line.startswith("#"):
                self.comment(line)
            else:
                self.row(line.split())
        return self.table


def read_table(path: str | Path, known_names: Iterable[str] | None = None) -> CalibrationTable:
    """Read and check a calibration table written by kiln or TPU-MLIR. With `known_names`
    (the network's tensor names), every name in the table must be one of them."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise CalibrationTableError(f"{path}: no such file") from None
    except OSError as e:
        raise CalibrationTableError(f"{path}: cannot be read ({e.strerror})") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise CalibrationTableError(f"{path}:{line}: not UTF-8 text") from None
    return _Reader(path, known_names).read(text)
