"""Thresholds: from a tensor's statistics to the symmetric clipping value t of its quantization.

Every method is a pure function `f(stats, *, bits=8, unsigned=False) -> float` of the
statistics gathered by `kiln.calibration.statistics.TensorStats` (or of any object with the
same attributes, see `HistogramStats`). The result is the clipping value t: values are
quantized with step t / qmax, qmax = 2**(bits-1) - 1 for signed data (127 for int8) or
2**bits - 1 when `unsigned` (data known to be >= 0, quantized on [0, t]).

All methods work on |x| and leave exact zeros out where they matter (KL, MSE, ACIQ): zeros
are represented exactly whatever t is. Every result is a positive finite float no larger than
the tensor's max |x|; a tensor with no nonzero finite value (all zeros, or only non-finite
values) gets `FALLBACK_THRESHOLD`, the value TPU-MLIR also writes for such tensors.

`METHODS` maps the names run_calibration accepts to the functions:

- `max`: max |x|.
- `percentile9999`: the 99.99th percentile of |x|, interpolated inside its histogram bin.
- `kl`: the TensorRT entropy calibration: for each candidate t (from `levels` histogram bins
  up to the last nonempty bin, levels = 128 for int8), the reference distribution P is the
  histogram up to t with the values beyond t clipped into its last bin, and Q is that
  histogram merged into `levels` groups and spread back evenly over the bins P has mass in
  (with a 1e-4 pseudo-count where the clipped outliers fall in an empty group);
  t minimizes KL(P || Q). Groups are spread evenly (bin k goes to group floor(k*levels/i)
  for i candidate bins) rather than TensorRT's "last group takes the remainder". All
  candidates are evaluated at once from prefix sums (one (candidates x levels) array).
  KL judges shape only: a flat bulk merged into few levels costs it almost nothing, so a
  uniform bulk with an outlier 100x beyond it keeps the outlier (`mse` or `percentile9999`
  suit such tensors); and the smallest candidate, `levels` bins, is coarse when far
  outliers stretched the histogram's range.
- `mse`: minimizes the expected squared error: rounding noise (t/qmax)^2/12 for the nonzero
  values below t (x^2 for those below half a step, which round to zero) plus the clipping
  error (|x| - t)^2 above t (values spread uniformly inside their bins), over every bin
  edge t: the criterion of OCTAV (Sakr et al. 2022), solved by exhaustive search instead of
  Newton iterations.
- `aciq_gauss`, `aciq_laplace`: ACIQ (Banner et al. 2019) analytical clipping: t = alpha * s
  where s is the scale of a zero-centered Gaussian (s = sqrt(E[x^2])) or Laplace
  (s = E|x|) fitted to the nonzero values, and alpha minimizes clipping + rounding noise
  alpha^2 / (3 * 4**M) for M bits (M = bits + 1 when unsigned: 2**bits levels over [0, t]
  have the step of 2**(bits+1) over [-t, t]). For 8 bits alpha = 3.924 (Gaussian) and
  9.897 (Laplace), the values of the paper and of TPU-MLIR.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import cache
from typing import Protocol

import numpy as np

# Threshold of a tensor that has no nonzero finite value: any positive value represents
# zeros exactly; this is what TPU-MLIR writes for all-zero tensors too.
FALLBACK_THRESHOLD = 1e-5

# KL: the count Q gets in the bin holding the clipped outliers when its group is empty.
_KL_PSEUDO_COUNT = 1e-4


class HistogramStats(Protocol):
    """What the methods read; `TensorStats` provides it."""

    @property
    def count(self) -> int: ...  # finite values
    @property
    def nonzero_count(self) -> int: ...
    @property
    def absmax(self) -> float | None: ...
    @property
    def sum_sq(self) -> float: ...
    @property
    def sum_abs(self) -> float: ...
    @property
    def bin_width(self) -> float | None: ...
    @property
    def counts(self) -> np.ndarray: ...  # nonzero |x| per bin, bin j = (j*w, (j+1)*w]


def _check_bits(bits: int) -> None:
    if not isinstance(bits, int) or isinstance(bits, bool) or not 2 <= bits <= 32:
        raise ValueError(f"bits must be an integer from 2 to 32, got {bits!r}")


def _qmax(bits: int, unsigned: bool) -> int:
    return 2**bits - 1 if unsigned else 2 ** (bits - 1) - 1


def _degenerate(stats: HistogramStats) -> bool:
    """No nonzero finite value: every threshold is as good as any other."""
    return not stats.absmax or stats.nonzero_count == 0


def _finish(t: float, stats: HistogramStats) -> float:
    """`t` clamped to max |x|; max |x| if `t` is not a positive number."""
    absmax = float(stats.absmax or 0.0)
    if not absmax > 0:
        return FALLBACK_THRESHOLD
    if not (t > 0 and math.isfinite(t)):
        return absmax
    return float(min(t, absmax))


def _histogram(stats: HistogramStats) -> tuple[np.ndarray, float, int]:
    """(counts, bin width, number of bins up to the last nonempty one)."""
    counts = np.asarray(stats.counts, dtype=np.int64)
    nonempty = np.flatnonzero(counts)
    used = int(nonempty[-1]) + 1 if nonempty.size else 0
    return counts, float(stats.bin_width or 0.0), used


def max_threshold(stats: HistogramStats, *, bits: int = 8, unsigned: bool = False) -> float:
    """max |x| (bits and unsigned do not matter)."""
    _check_bits(bits)
    return _finish(float(stats.absmax or 0.0), stats)


def percentile_threshold(stats: HistogramStats, p: float = 99.99, *, bits: int = 8,
                         unsigned: bool = False) -> float:
    """The p-th percentile of |x| over the finite values (zeros included), interpolated
    linearly inside its histogram bin; max |x| when it falls on the zeros."""
    _check_bits(bits)
    if not 0 < p <= 100:
        raise ValueError(f"percentile must be in (0, 100], got {p!r}")
    if _degenerate(stats) or p == 100:
        return _finish(float(stats.absmax or 0.0), stats)
    counts, width, _ = _histogram(stats)
    rank = p / 100.0 * stats.count  # how many values lie at or below the threshold
    zeros = stats.count - stats.nonzero_count
    if rank <= zeros:
        return _finish(0.0, stats)
    cum = zeros + np.cumsum(counts)
    j = min(int(np.searchsorted(cum, rank, side="left")), counts.size - 1)
    below = cum[j - 1] if j > 0 else zeros
    inside = (rank - below) / counts[j] if counts[j] else 1.0
    return _finish((j + min(max(inside, 0.0), 1.0)) * width, stats)


def kl_curve(stats: HistogramStats, *, bits: int = 8,
             unsigned: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(candidate thresholds, KL(P || Q) of each) for `kl_threshold`: candidates are the
    histogram edges i * w for i from `levels` bins to the last nonempty bin (both empty when
    the histogram has no more nonempty bins than levels); inf marks impossible candidates."""
    _check_bits(bits)
    levels = 2**bits if unsigned else 2 ** (bits - 1)
    if _degenerate(stats):
        return np.zeros(0), np.zeros(0)
    h, width, used = _histogram(stats)
    if used <= levels:
        return np.zeros(0), np.zeros(0)
    hf = h.astype(np.float64)
    total = float(hf.sum())
    cum = np.concatenate(([0], np.cumsum(h)))  # cum[k] = sum of h[:k], exact int64
    nonzero_cum = np.concatenate(([0], np.cumsum(h > 0)))
    hlogh = np.concatenate(([0.0], np.cumsum(hf * np.log(np.maximum(hf, 1.0)))))
    log_n = np.log(np.maximum(np.arange(used + 2, dtype=np.float64), 1.0))  # log 0 := 0

    i = np.arange(levels, used + 1, dtype=np.int64)  # candidate: keep bins [0, i)
    inside = cum[i]                                  # S_i: mass kept as is
    outliers = total - inside                        # O_i: mass clipped into bin i-1
    last = h[i - 1] + outliers                       # p_{i-1}
    plogp = hlogh[i - 1] + last * np.log(np.maximum(last, 1.0))  # sum_k p_k log p_k

    g = np.arange(levels + 1, dtype=np.int64)
    bounds = (g[None, :] * i[:, None] + levels - 1) // levels  # ceil(g*i/levels), (M, L+1)
    group_mass = np.diff(cum[bounds], axis=1).astype(np.float64)  # G_g
    group_bins = np.diff(nonzero_cum[bounds], axis=1)              # n_g: bins with p > 0
    group_bins[:, -1] += (h[i - 1] == 0) & (outliers > 0)          # bin i-1 holds the outliers
    group_p = group_mass.copy()
    group_p[:, -1] += outliers                                     # P's mass per group
    log_q = np.log(np.maximum(group_mass, 1.0)) - log_n[group_bins]  # log(G_g / n_g)
    # The outliers clipped into bin i-1 may land in a group Q has no mass in: Q gets a
    # pseudo-count there (left out of its normalization), as the smoothing of MXNet's and
    # onnxruntime's entropy calibrators does, so that clipping a few far outliers costs a
    # little instead of ruling the candidate out.
    empty_last = (group_mass[:, -1] == 0) & (group_p[:, -1] > 0)
    log_q[empty_last, -1] = math.log(_KL_PSEUDO_COUNT)  # that group has one bin with p > 0
    cross = np.einsum("ij,ij->i", group_p, log_q)
    # KL = sum p/N log(p/N) - sum_g (P_g/N) log(G_g / (n_g S_i))
    with np.errstate(divide="ignore", invalid="ignore"):
        kl = (plogp - cross) / total - math.log(total) + np.log(inside)
    kl[(inside == 0) | ~np.isfinite(kl)] = np.inf  # everything clipped: Q is empty
    return i * width, kl


def kl_threshold(stats: HistogramStats, *, bits: int = 8, unsigned: bool = False) -> float:
    """TensorRT-style entropy calibration (see the module docstring): the candidate of least
    KL divergence, the first one on ties."""
    candidates, kl = kl_curve(stats, bits=bits, unsigned=unsigned)
    if not np.isfinite(kl).any():
        # No candidate (the histogram is coarser than the quantization) or none possible.
        return _finish(float(stats.absmax or 0.0), stats)
    return _finish(float(candidates[int(np.argmin(kl))]), stats)


def mse_curve(stats: HistogramStats, *, bits: int = 8,
              unsigned: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(candidate thresholds, expected squared error per finite value of each) for
    `mse_threshold`: candidates are the bin edges j * w up to the last nonempty bin."""
    _check_bits(bits)
    if _degenerate(stats):
        return np.zeros(0), np.zeros(0)
    h, width, used = _histogram(stats)
    hf = h[:used].astype(np.float64)
    qmax = _qmax(bits, unsigned)
    j = np.arange(1, used + 1, dtype=np.float64)  # candidate t = j * w, in units of w
    unclipped = np.cumsum(hf)                     # values in bins [0, j)
    centers = np.arange(used, dtype=np.float64) + 0.5
    # Over the bins k >= j: sum h (c_k - j)^2 = S2 - 2 j S1 + j^2 S0 with suffix sums S.
    s0, s1, s2 = (np.append(np.cumsum(v[::-1])[::-1][1:], 0.0)
                  for v in (hf, hf * centers, hf * centers * centers))
    clipped = np.maximum(s2 - 2 * j * s1 + j * j * s0, 0.0) + s0 / 12.0
    # Values below half a step round to zero: their error is x^2, not step^2 / 12 (this
    # matters when the step is wide against the data, e.g. an outlier kept at few bits).
    to_zero = np.floor(j / (2 * qmax)).astype(np.int64)  # bins entirely below step / 2
    square_cum = np.concatenate(([0.0], np.cumsum(hf * (centers * centers + 1 / 12))))
    count_cum = np.concatenate(([0.0], unclipped))
    noise = ((j / qmax) ** 2 / 12.0 * (unclipped - count_cum[to_zero])
             + square_cum[to_zero])
    return j * width, (noise + clipped) * (width * width / stats.count)


def mse_threshold(stats: HistogramStats, *, bits: int = 8, unsigned: bool = False) -> float:
    """The bin edge t minimizing rounding noise + clipping error (see the module docstring)."""
    candidates, error = mse_curve(stats, bits=bits, unsigned=unsigned)
    if error.size == 0:
        return _finish(0.0, stats)
    return _finish(float(candidates[int(np.argmin(error))]), stats)


@cache
def gauss_alpha(levels_bits: int) -> float:
    """alpha minimizing E[(X - Q(X))^2] / sigma^2 for X ~ N(0, sigma^2) clipped to
    [-alpha sigma, alpha sigma] with 2**levels_bits levels: the root of
    4 (alpha Q(alpha) - phi(alpha)) + 2 alpha / (3 * 4**M) = 0, found by bisection."""
    noise = 2.0 / (3.0 * 4.0**levels_bits)

    def slope(a: float) -> float:
        tail = 0.5 * math.erfc(a / math.sqrt(2.0))
        density = math.exp(-0.5 * a * a) / math.sqrt(2.0 * math.pi)
        return 4.0 * (a * tail - density) + noise * a

    lo, hi = 0.0, 64.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if slope(mid) < 0:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


@cache
def laplace_alpha(levels_bits: int) -> float:
    """alpha (in units of b) minimizing 2 b^2 exp(-alpha) + (alpha b)^2 / (3 * 4**M) for a
    Laplace(0, b): the root of u exp(u) = 3 * 4**M (Newton on u + log u = log(3 * 4**M))."""
    target = math.log(3.0) + levels_bits * math.log(4.0)
    u = target
    for _ in range(100):
        step = (u + math.log(u) - target) / (1.0 + 1.0 / u)
        u -= step
        if abs(step) < 1e-15 * u:
            break
    return u


def aciq_gauss_threshold(stats: HistogramStats, *, bits: int = 8,
                         unsigned: bool = False) -> float:
    """ACIQ for a zero-centered Gaussian fitted to the nonzero values: alpha * sqrt(E[x^2])."""
    _check_bits(bits)
    if _degenerate(stats):
        return _finish(0.0, stats)
    sigma = math.sqrt(stats.sum_sq / stats.nonzero_count)
    return _finish(gauss_alpha(bits + int(unsigned)) * sigma, stats)


def aciq_laplace_threshold(stats: HistogramStats, *, bits: int = 8,
                           unsigned: bool = False) -> float:
    """ACIQ for a zero-centered Laplace fitted to the nonzero values: alpha * E|x|."""
    _check_bits(bits)
    if _degenerate(stats):
        return _finish(0.0, stats)
    b = stats.sum_abs / stats.nonzero_count
    return _finish(laplace_alpha(bits + int(unsigned)) * b, stats)


ThresholdMethod = Callable[..., float]

METHODS: dict[str, ThresholdMethod] = {
    "kl": kl_threshold,
    "mse": mse_threshold,
    "max": max_threshold,
    "percentile9999": percentile_threshold,
    "aciq_gauss": aciq_gauss_threshold,
    "aciq_laplace": aciq_laplace_threshold,
}
