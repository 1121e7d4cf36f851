"""Streaming per-tensor statistics: one pass over the data, constant memory per tensor.

`TensorStats.update(array)` folds one sample's activation into running statistics that
every threshold method of `kiln.calibration.thresholds` needs, whatever the number of
samples: exact signed min and max, count, sum, sum of squares, sum of |x|, and a histogram
of |x|. `StatsCollector` keeps one `TensorStats` per tensor name.

Non-finite values (nan, +inf, -inf) are skipped and counted apart (`nan_count`,
`posinf_count`, `neginf_count`): attention masks written as -inf do not poison the range.
A tensor that has only ever shown non-finite values has no range (`has_range` is False,
`min`/`max`/`absmax` are None). Sums are accumulated in float64, so masks written as the
most negative float32 (-3.4e38) do not overflow them either.

The histogram of |x|
--------------------
`bins` bins (2048 by default) cover [0, R] where R is a power of two (2**e, e may be
negative); the bin width is w = R / bins. Bin j (0-based) counts the nonzero values with
j*w < |x| <= (j+1)*w, i.e. index ceil(|x| / w) - 1. Exact zeros are counted apart
(`zero_count`): symmetric quantization represents them exactly, and the KL and MSE methods
leave them out.

R starts as the smallest power of two >= the largest |x| of the first sample that has a
nonzero value, so at least half of the bins (and at most all of them) cover the values seen.
When a later sample holds a larger |x|, R is multiplied by the smallest 2**k that covers it
and the bins are merged in groups of 2**k (bin j moves to j >> k). Since
ceil(ceil(y) / m) == ceil(y / m) for integer m, the merged counts are exactly the counts one
pass over all the values at the final R would give: growth loses resolution (halved per
doubling), never counts. With a power-of-two `bins` (the default), |x| / w is a
multiplication by a power of two, so the bin of each value is computed without rounding
(float32 data is binned in float32; anything else, or other bin counts, in float64).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping

import numpy as np
from numpy.typing import ArrayLike

DEFAULT_BINS = 2048

# Elements per chunk of an update (256 KiB of float32).
_CHUNK = 1 << 16

# Bin numbers are computed in float32 for float32 data when the scale bins / R is in this
# range: above it |x| * scale could overflow; below it could round a normal |x| to 0 (from
# 2**-24 on, only float32 subnormals, below 2**-126, can).
_F32_MIN_SCALE = 2.0**-24
_F32_MAX_SCALE = 2.0**100


def _pow2_at_least(v: float) -> float:
    """The smallest power of two >= v (v > 0), capped at 2**1023."""
    mantissa, exponent = math.frexp(v)  # v = mantissa * 2**exponent, 0.5 <= mantissa < 1
    if mantissa == 0.5:
        return v
    return math.ldexp(1.0, min(exponent, 1023))


def _as_float_vector(array: ArrayLike) -> np.ndarray:
    """`array` flattened (a view when possible) as float32 or float64."""
    a = np.asarray(array)
    if a.dtype == np.float32 or a.dtype == np.float64:
        pass
    elif a.dtype.kind == "f" and a.dtype.itemsize < 4:
        a = a.astype(np.float32)
    elif a.dtype.kind in "fiub":
        a = a.astype(np.float64)
    else:
        raise TypeError(f"cannot gather calibration statistics of a {a.dtype} array")
    return a.reshape(-1)


class TensorStats:
    """Running statistics of every value seen for one tensor (see the module docstring)."""

    def __init__(self, bins: int = DEFAULT_BINS) -> None:
        if not isinstance(bins, int) or bins < 2:
            raise ValueError(f"the histogram needs at least 2 bins, got {bins!r}")
        self._bins = bins
        self._pow2_bins = bins & (bins - 1) == 0
        self._hist = np.zeros(bins, dtype=np.int64)
        self._range: float | None = None
        self._updates = 0
        self._count = 0
        self._zeros = 0
        self._nan = 0
        self._posinf = 0
        self._neginf = 0
        self._min = math.inf
        self._max = -math.inf
        self._sum = 0.0
        self._sum_sq = 0.0
        self._sum_abs = 0.0

    @classmethod
    def from_array(cls, array: ArrayLike, bins: int = DEFAULT_BINS) -> TensorStats:
        """Statistics of one array (a single `update`)."""
        stats = cls(bins)
        stats.update(array)
        return stats

    def update(self, array: ArrayLike) -> None:
        """Fold every value of `array` (any shape) into the statistics."""
        x = _as_float_vector(array)
        self._updates += 1
        if x.size == 0:
            return
        lo = float(x.min())
        hi = float(x.max())
        if not (math.isfinite(lo) and math.isfinite(hi)):  # nan propagates through min/max
            finite = np.isfinite(x)
            bad = x[~finite]
            nan = int(np.count_nonzero(np.isnan(bad)))
            pos = int(np.count_nonzero(bad > 0))
            self._nan += nan
            self._posinf += pos
            self._neginf += bad.size - nan - pos
            x = x[finite]
            if x.size == 0:
                return
            lo = float(x.min())
            hi = float(x.max())
        absmax = max(-lo, hi)
        if absmax > 0:
            self._grow_range(absmax)
        total = sum_abs = sum_sq = 0.0
        counts = np.zeros(self._bins + 1, dtype=np.int64)
        # Chunks keep the temporaries in cache: about twice as fast as whole-array passes.
        for start in range(0, x.size, _CHUNK):
            chunk = x[start:start + _CHUNK]
            wide = chunk.astype(np.float64, copy=False)  # exact; squares of 3e38 fit too
            total += float(wide.sum())
            sum_sq += float(np.dot(wide, wide))
            a = np.abs(chunk)
            sum_abs += float(a.sum(dtype=np.float64))
            if absmax > 0:
                counts += np.bincount(self._bin_numbers(a), minlength=self._bins + 1)
        zeros = int(counts[0]) if absmax > 0 else x.size
        self._hist += counts[1:]
        self._count += x.size
        self._zeros += zeros
        self._min = min(self._min, lo)
        self._max = max(self._max, hi)
        self._sum += total
        self._sum_sq += sum_sq
        self._sum_abs += sum_abs

    def _bin_numbers(self, a: np.ndarray) -> np.ndarray:
        """ceil(|x| / w): 0 for exact zeros, j + 1 for a value of bin j."""
        assert self._range is not None
        scale = self._bins / self._range  # exact: the range is a power of two
        if a.dtype == np.float32 and self._pow2_bins and \
                _F32_MIN_SCALE <= scale <= _F32_MAX_SCALE:
            y = a * np.float32(scale)
        else:
            y = a.astype(np.float64, copy=False) * scale
        np.ceil(y, out=y)
        numbers = y.astype(np.intp)
        if self._range == 2.0**1023:  # values beyond the capped range go to the last bin
            np.minimum(numbers, self._bins, out=numbers)
        return numbers

    def _grow_range(self, absmax: float) -> None:
        new_range = _pow2_at_least(absmax)
        if self._range is None:
            self._range = new_range
            return
        if new_range <= self._range:
            return
        k = round(math.log2(new_range / self._range))
        group = self._bins if k >= self._bins.bit_length() else min(1 << k, self._bins)
        merged = np.add.reduceat(self._hist, np.arange(0, self._bins, group))
        self._hist = np.zeros(self._bins, dtype=np.int64)
        self._hist[: merged.size] = merged
        self._range = new_range

    # --- what was seen -------------------------------------------------------------------

    @property
    def bins(self) -> int:
        return self._bins

    @property
    def updates(self) -> int:
        """Number of `update` calls (samples), including empty or all-non-finite ones."""
        return self._updates

    @property
    def count(self) -> int:
        """Number of finite values seen."""
        return self._count

    @property
    def zero_count(self) -> int:
        """Number of values exactly 0 (or -0)."""
        return self._zeros

    @property
    def nonzero_count(self) -> int:
        return self._count - self._zeros

    @property
    def nan_count(self) -> int:
        return self._nan

    @property
    def posinf_count(self) -> int:
        return self._posinf

    @property
    def neginf_count(self) -> int:
        return self._neginf

    @property
    def nonfinite_count(self) -> int:
        """Values skipped because they were nan, +inf or -inf."""
        return self._nan + self._posinf + self._neginf

    @property
    def has_range(self) -> bool:
        """Whether at least one finite value was seen."""
        return self._count > 0

    @property
    def min(self) -> float | None:
        return self._min if self._count else None

    @property
    def max(self) -> float | None:
        return self._max if self._count else None

    @property
    def absmax(self) -> float | None:
        """max |x| over the finite values."""
        return max(-self._min, self._max) if self._count else None

    @property
    def sum(self) -> float:
        return self._sum

    @property
    def sum_sq(self) -> float:
        return self._sum_sq

    @property
    def sum_abs(self) -> float:
        return self._sum_abs

    @property
    def mean(self) -> float | None:
        return self._sum / self._count if self._count else None

    @property
    def var(self) -> float | None:
        """Population variance, E[x^2] - E[x]^2 (never negative)."""
        if not self._count:
            return None
        mean = self._sum / self._count
        return max(self._sum_sq / self._count - mean * mean, 0.0)

    @property
    def std(self) -> float | None:
        var = self.var
        return None if var is None else math.sqrt(var)

    # --- the histogram -------------------------------------------------------------------

    @property
    def range_max(self) -> float | None:
        """R, the upper end of the histogram (a power of two); None until a nonzero value."""
        return self._range

    @property
    def bin_width(self) -> float | None:
        return None if self._range is None else self._range / self._bins

    @property
    def counts(self) -> np.ndarray:
        """Counts of the nonzero |x| per bin (a copy; int64, length `bins`)."""
        return self._hist.copy()

    def histogram(self, include_zeros: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """(counts, edges) of |x| over [0, R]; with include_zeros the exact zeros are added
        to the first bin. Before any nonzero value R is taken as 1."""
        counts = self._hist.copy()
        if include_zeros:
            counts[0] += self._zeros
        r = 1.0 if self._range is None else self._range
        edges = np.arange(self._bins + 1, dtype=np.float64) * (r / self._bins)
        return counts, edges

    def __repr__(self) -> str:
        return (f"TensorStats(count={self._count}, min={self.min}, max={self.max}, "
                f"zeros={self._zeros}, nonfinite={self.nonfinite_count}, "
                f"range_max={self._range}, bins={self._bins})")


class StatsCollector:
    """One `TensorStats` per tensor name, created on the name's first update, kept in the
    order names were first seen."""

    def __init__(self, bins: int = DEFAULT_BINS) -> None:
        TensorStats(bins)  # validates `bins` once, here
        self._bins = bins
        self._stats: dict[str, TensorStats] = {}

    @property
    def bins(self) -> int:
        return self._bins

    def update(self, name: str, array: ArrayLike) -> None:
        stats = self._stats.get(name)
        if stats is None:
            stats = self._stats[name] = TensorStats(self._bins)
        stats.update(array)

    def update_all(self, arrays: Mapping[str, ArrayLike]) -> None:
        """`update(name, array)` for every item, e.g. one sample's dump of all tensors."""
        for name, array in arrays.items():
            self.update(name, array)

    def names(self) -> list[str]:
        return list(self._stats)

    def items(self) -> list[tuple[str, TensorStats]]:
        return list(self._stats.items())

    def __getitem__(self, name: str) -> TensorStats:
        return self._stats[name]

    def __contains__(self, name: object) -> bool:
        return name in self._stats

    def __len__(self) -> int:
        return len(self._stats)

    def __iter__(self) -> Iterator[str]:
        return iter(self._stats)
