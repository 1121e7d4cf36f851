"""How close two tensors are: the numbers every comparison in kiln prints.

For a reference tensor `a` and a tensor under test `b` (both flattened, computed in float64):

- cosine similarity  `sum(a*b) / (|a| |b|)`; 1.0 when both are all zeros, 0.0 when only one
  is. Blind to scale: `b = 2a` has cosine 1.
- Euclidean similarity, as TPU-MLIR defines it: `1 - |a - b| / (|(a + b) / 2| + 1e-7)`. 1.0
  for identical tensors, falling with the L2 error relative to the tensors' size; it sees
  scale errors that cosine does not, and can go below 0.
- max abs error  `max |a - b|`.
- SQNR in dB  `10 log10(sum(a^2) / sum((a - b)^2))`: the reference's power over the power of
  the error (+inf when they are equal). Not symmetric: `a` is the signal.

A tensor passes when cosine >= the cosine tolerance and Euclidean similarity >= the Euclidean
tolerance. Tensors equal bit for bit (NaNs in the same places count as equal) pass whatever the
tolerance; a shape mismatch or a NaN/inf in only one of them fails.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np

DEFAULT_TOLERANCE = (0.99, 0.99)


def _flat64(x: np.ndarray) -> np.ndarray:
    return np.asarray(x).astype(np.float64, copy=False).ravel()


def _norm(x: np.ndarray) -> float:
    return float(np.sqrt(np.dot(x, x)))


def cosine_similarity(a: np.ndarray, b: np.ndarray) -> float:
    a, b = _flat64(a), _flat64(b)
    na, nb = _norm(a), _norm(b)
    if na == 0.0 or nb == 0.0:
        return 1.0 if na == nb else 0.0
    if math.isinf(na) or math.isinf(nb):
        return float("nan")
    return float(np.dot(a, b) / (na * nb))


def euclidean_similarity(a: np.ndarray, b: np.ndarray) -> float:
    a, b = _flat64(a), _flat64(b)
    distance = _norm(a - b)
    size = _norm((a + b) / 2) + 1e-7
    if math.isinf(distance) or math.isinf(size):
        return 0.0
    return 1.0 - distance / size


def max_abs_error(a: np.ndarray, b: np.ndarray) -> float:
    a, b = _flat64(a), _flat64(b)
    return float(np.max(np.abs(a - b))) if a.size else 0.0


def sqnr_db(reference: np.ndarray, test: np.ndarray) -> float:
    a, b = _flat64(reference), _flat64(test)
    with np.errstate(over="ignore", invalid="ignore"):
        noise = float(np.dot(a - b, a - b))
        signal = float(np.dot(a, a))
    if noise == 0.0:
        return math.inf
    ratio = signal / noise if math.isfinite(noise) or math.isfinite(signal) else math.nan
    if math.isnan(ratio):
        return math.nan
    if ratio == 0.0:
        return -math.inf
    return math.inf if math.isinf(ratio) else 10.0 * math.log10(ratio)


@dataclass
class TensorComparison:
    """One row of a comparison. `status` is `equal`, `ok`, `FAIL` or `SHAPE` (shapes differ,
    no metric computed)."""

    name: str
    shape_a: tuple[int, ...]
    shape_b: tuple[int, ...]
    dtype_a: str
    dtype_b: str
    cosine: float = math.nan
    euclid: float = math.nan
    max_abs: float = math.nan
    sqnr: float = math.nan
    status: str = "ok"

    @property
    def passed(self) -> bool:
        return self.status in ("equal", "ok")

    def why(self, tolerance: tuple[float, float]) -> str:
        """Why the row failed, in words."""
        if self.status == "SHAPE":
            return f"shape {self.shape_a} vs {self.shape_b}"
        parts = []
        if not self.cosine >= tolerance[0]:
            parts.append(f"cosine {_below(self.cosine, tolerance[0])} < {tolerance[0]}")
        if not self.euclid >= tolerance[1]:
            parts.append(f"euclidean similarity {_below(self.euclid, tolerance[1])} < "
                         f"{tolerance[1]}")
        return ", ".join(parts) or "NaN or inf values that the reference does not have"


def compare_arrays(name: str, a: np.ndarray, b: np.ndarray,
                   tolerance: tuple[float, float] = DEFAULT_TOLERANCE) -> TensorComparison:
    a, b = np.asarray(a), np.asarray(b)
    row = TensorComparison(name, tuple(a.shape), tuple(b.shape), str(a.dtype), str(b.dtype))
    if a.shape != b.shape:
        row.status = "SHAPE"
        return row
    a64, b64 = _flat64(a), _flat64(b)
    if np.array_equal(a64, b64, equal_nan=True):
        row.cosine, row.euclid, row.max_abs, row.sqnr = 1.0, 1.0, 0.0, math.inf
        row.status = "equal"
        return row
    with np.errstate(over="ignore", invalid="ignore"):
        row.cosine = cosine_similarity(a64, b64)
        row.euclid = euclidean_similarity(a64, b64)
        row.max_abs = max_abs_error(a64, b64)
        row.sqnr = sqnr_db(a64, b64)
    finite = bool(np.isfinite(a64).all() and np.isfinite(b64).all())
    ok = finite and row.cosine >= tolerance[0] and row.euclid >= tolerance[1]
    row.status = "ok" if ok else "FAIL"
    return row


@dataclass
class Comparison:
    """A per-tensor comparison of two sets of named tensors (`a` is the reference)."""

    rows: list[TensorComparison]
    tolerance: tuple[float, float]
    only_a: list[str] = field(default_factory=list)
    only_b: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    @property
    def failures(self) -> list[TensorComparison]:
        return [r for r in self.rows if not r.passed]

    @property
    def passed(self) -> bool:
        return not self.failures

    def summary(self) -> str:
        n_fail = len(self.failures)
        text = (f"{len(self.rows)} tensor(s) compared (tolerance: cosine >= "
                f"{self.tolerance[0]}, euclidean >= {self.tolerance[1]}): "
                f"{len(self.rows) - n_fail} passed, {n_fail} failed")
        extra = [f"{len(v)} {what}" for v, what in ((self.skipped, "skipped"),
                                                    (self.only_a, "only in the reference"),
                                                    (self.only_b, "only in the other"))
                 if v]
        return text + (f"; {', '.join(extra)}" if extra else "")


def compare_tensors(a: Mapping[str, np.ndarray], b: Mapping[str, np.ndarray],
                    tolerance: tuple[float, float] = DEFAULT_TOLERANCE,
                    excepts: Iterable[str] = (), order: Iterable[str] | None = None
                    ) -> Comparison:
    """Compare the tensors present in both `a` (the reference) and `b`, skipping `excepts`.
    Rows follow `order` if given (names not in it come last), else the order of `b`."""
    skip = set(excepts)
    names = list(order) if order is not None else list(b)
    names += [n for n in b if n not in set(names)]
    rows, skipped = [], []
    for name in names:
        if name not in a or name not in b:
            continue
        if name in skip:
            skipped.append(name)
            continue
        rows.append(compare_arrays(name, a[name], b[name], tolerance))
    return Comparison(rows, tuple(tolerance), only_a=[n for n in a if n not in b],
                      only_b=[n for n in b if n not in a], skipped=skipped)


def _num(x: float, fmt: str) -> str:
    if math.isnan(x):
        return "-"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return format(x, fmt)


def _below(x: float, tolerance: float) -> str:
    """`x` with 6 decimals, or as many more as it takes to print it below `tolerance`."""
    if math.isnan(x):
        return "nan"
    for digits in (6, 8, 10, 12):
        text = _num(x, f".{digits}f")
        if not math.isfinite(x) or float(text) < tolerance:
            return text
    return repr(x)


def render_table(comparison: Comparison, verbose: bool = False,
                 only_failures: bool = False) -> str:
    """The comparison as a fixed-width text table, one tensor a line, then a summary.
    `verbose` adds shapes and dtypes and lists the tensors found on one side only."""
    rows = comparison.failures if only_failures else comparison.rows
    head = ["tensor", "cosine", "euclid", "max_abs", "sqnr_db", "result"]
    if verbose:
        head[1:1] = ["shape", "dtype"]
    lines = []
    for r in rows:
        cells = [r.name, _num(r.cosine, ".6f"), _num(r.euclid, ".6f"),
                 _num(r.max_abs, ".4e"), _num(r.sqnr, ".2f"), r.status]
        if verbose:
            shape = (str(list(r.shape_a)) if r.shape_a == r.shape_b
                     else f"{list(r.shape_a)}/{list(r.shape_b)}")
            dtype = r.dtype_a if r.dtype_a == r.dtype_b else f"{r.dtype_a}/{r.dtype_b}"
            cells[1:1] = [shape, dtype]
        lines.append(cells)
    widths = [max(len(c) for c in col) for col in zip(head, *lines)]
    left = {0} | ({1, 2} if verbose else set())

    def fmt(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) if i in left else c.rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    out = [fmt(head)] + [fmt(c) for c in lines]
    if verbose:
        for names, what in ((comparison.skipped, "skipped (--excepts)"),
                            (comparison.only_a, "only in the reference"),
                            (comparison.only_b, "only in the other")):
            if names:
                out.append(f"{what}: {', '.join(names)}")
    out.append(comparison.summary())
    return "\n".join(out)
