"""Quantization arithmetic shared by calibration, lowering and the integer kernels.

One rounding mode, defined here: round half away from zero (what TPU-MLIR and most NPUs do
when they requantize), used everywhere a real value becomes an integer.
"""

from __future__ import annotations

import math

import numpy as np


def round_half_away(x: np.ndarray) -> np.ndarray:
    """Round to the nearest integer, ties away from zero (2.5 -> 3, -2.5 -> -3):
    trunc(x + copysign(0.5, x)), in the floating dtype x + 0.5 has."""
    half = np.copysign(0.5, x)
    if isinstance(half, np.ndarray):  # an array: finish in place of the temporary
        half += x
        return np.trunc(half, out=half)
    return np.trunc(x + half)


def qrange(bits: int, signed: bool = True) -> tuple[int, int]:
    """The integer range of a `bits`-bit type: (-128, 127) for signed 8 bits."""
    if signed:
        return -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    return 0, (1 << bits) - 1


def symmetric_scale(threshold: float | np.ndarray, bits: int = 8) -> np.ndarray:
    """The scale that maps [-threshold, threshold] onto [-qmax, qmax]."""
    qmax = (1 << (bits - 1)) - 1
    t = np.asarray(threshold, dtype=np.float64)
    return np.where(t > 0, t, 1.0) / qmax


def fake_quant_symmetric(x: np.ndarray, threshold: float | np.ndarray, bits: int = 8,
                         axis: int | None = None) -> np.ndarray:
    """Quantize to `bits`-bit symmetric integers and back (per tensor, or per slice along
    `axis` when `threshold` is a vector), keeping the dtype of `x`."""
    scale = symmetric_scale(threshold, bits)
    if axis is not None:
        shape = [1] * x.ndim
        shape[axis] = -1
        scale = scale.reshape(shape)
    lo, hi = qrange(bits)
    q = np.clip(round_half_away(x.astype(np.float64) / scale), lo, hi)
    return (q * scale).astype(x.dtype)


# -- fixed-point requantization ----------------------------------------------------------------
# A real factor M is stored as an int32 `multiplier` in [2^30, 2^31) (a Q31 number in [0.5, 1))
# and a `shift`: M = multiplier * 2^-(31 + shift). requantize() multiplies in int64 and shifts
# right by (31 + shift), rounding half away from zero, the one rounding mode of this module.

MIN_SHIFT = -31   # total shift 31 + shift >= 0: the largest factor is just below 2^31
MAX_SHIFT = 32    # total shift <= 63; smaller factors are stored as multiplier 0 (see below)
ACC_LIMIT = 1 << 32  # below this, acc * multiplier fits in int64 (the fast path)
WIDE_LIMIT = 1 << 47  # 16-bit paths: up to this, exact through a split multiplier


def quantize_multiplier(real: float) -> tuple[int, int]:
    """(multiplier, shift) with real ~= multiplier * 2^-(31 + shift), as gemmlowp/TFLite do.

    `multiplier` is in [2^30, 2^31) and rounded half away from zero from the exact binary
    mantissa of `real`, so the relative error is at most 2^-31. `real` must be in (0, 2^31);
    a value that rounds up to 2^31 is clamped to multiplier 2^31 - 1, shift -31.

    Tiny values: when real < 2^-33, `acc * real` is below 0.5 in magnitude for every
    accumulator requantize() accepts (|acc| < 2^32), so the exact rounded result is 0; such a
    factor is returned as (0, 0), and requantize() then yields just the output zero point.
    """
    real = float(real)
    if not (0.0 < real < float(1 << 31)):
        raise ValueError(f"requantization factor must be in (0, 2^31), got {real}")
    mantissa, exp = math.frexp(real)  # real = mantissa * 2^exp, mantissa in [0.5, 1)
    if exp < -MAX_SHIFT:
        return 0, 0
    q = math.floor(mantissa * (1 << 31) + 0.5)  # exact: the product is a float with 53 bits
    if q == 1 << 31:
        q >>= 1
        exp += 1
    shift = -exp
    if shift < MIN_SHIFT:
        return (1 << 31) - 1, MIN_SHIFT
    if shift > MAX_SHIFT:
        return 0, 0
    return int(q), int(shift)


def quantize_multipliers(reals) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """quantize_multiplier() of each value: (multipliers, shifts) as tuples of ints."""
    pairs = [quantize_multiplier(float(r)) for r in np.ravel(np.asarray(reals, np.float64))]
    return tuple(m for m, _ in pairs), tuple(s for _, s in pairs)


def rounding_right_shift(x: np.ndarray, total: np.ndarray | int) -> np.ndarray:
    """x / 2^total rounded half away from zero, exactly, in int64 (total in [0, 63])."""
    x = np.asarray(x, dtype=np.int64)
    total = np.asarray(total, dtype=np.int64)
    mag = np.abs(x)
    floor = mag >> total
    half_bit = (mag >> np.maximum(total - 1, 0)) & 1
    mag = floor + np.where(total > 0, half_bit, 0)
    return np.where(x < 0, -mag, mag)


def requantize(acc: np.ndarray, multiplier, shift, zp_out: int, qmin: int,
               qmax: int, dtype: np.dtype | None = None) -> np.ndarray:
    """clamp(round(acc * multiplier * 2^-(31 + shift)) + zp_out, qmin, qmax) as int64, or as
    `dtype` when given (the clamped values cast to it, as `.astype(dtype)` would).

    The one requantization of kiln: every integer kernel calls it. `multiplier` and `shift`
    broadcast against `acc` (reshape per-channel arrays along their axis first). The product is
    formed in int64 and shifted right by 31 + shift with rounding half away from zero; no float
    is involved. Raises ValueError when |acc| >= 2^47 (16-bit paths up to there go through a
    split multiplier) or a multiplier/shift is out of range.
    """
    acc = np.asarray(acc)
    if acc.dtype.kind not in "iu":
        raise ValueError(f"requantize takes an integer accumulator, got {acc.dtype}")
    m = np.asarray(multiplier, dtype=np.int64)
    s = np.asarray(shift, dtype=np.int64)
    m_max = int(m.max()) if m.size else 0
    if m.size and (m.min() < 0 or m_max >= (1 << 31)):
        raise ValueError("requantize multipliers must be in [0, 2^31)")
    if s.size and (s.min() < MIN_SHIFT or s.max() > MAX_SHIFT):
        raise ValueError(f"requantize shifts must be in [{MIN_SHIFT}, {MAX_SHIFT}]")
    peak = max(-int(acc.min()), int(acc.max()), 0) if acc.size else 0
    if peak >= WIDE_LIMIT:
        raise ValueError("requantize accumulator magnitude must be below 2^47")
    total = 31 + s
    zp_out = int(zp_out)
    if (peak < ACC_LIMIT and m.size and s.size and int(total.min()) > 0
            and acc.dtype in _SIGNED
            and peak * m_max + ((2 * abs(zp_out) + 1) << (int(total.max()) - 1)) < 1 << 62):
        out = _round_shift_product(acc, m, total, zp_out)
    else:
        acc = acc.astype(np.int64)
        if peak < ACC_LIMIT:
            out = rounding_right_shift(acc * m, total)
        else:
            out = _wide_round_shift(acc, m, total)
        out += zp_out
    if dtype is None:
        return np.clip(out, int(qmin), int(qmax), out=out)
    return np.clip(out, int(qmin), int(qmax), out=np.empty(out.shape, dtype), casting="unsafe")


_SIGNED = tuple(np.dtype(t) for t in (np.int8, np.int16, np.int32, np.int64))


def _round_shift_product(acc: np.ndarray, m: np.ndarray, total: np.ndarray,
                         zp: int) -> np.ndarray:
    """round_half_away(acc * m / 2^total) + zp in four int64 passes, for a signed `acc`,
    total >= 1 and every intermediate below 2^62 in magnitude (requantize checks both).

    With h = 2^(total - 1): for acc >= 0 the rounded quotient is floor((p + h) / 2^total); for
    acc < 0 (so p = acc * m <= 0) it is -floor((|p| + h) / 2^total) = floor((p + h - 1) /
    2^total). A right shift is that floor, and adding zp * 2^total before it adds zp after."""
    p = np.empty(np.broadcast_shapes(acc.shape, m.shape, total.shape), dtype=np.int64)
    np.multiply(acc, m, out=p)
    p += (1 << (total - 1)) + (zp << total)
    p += acc >> (8 * acc.itemsize - 1)  # -1 where acc < 0
    p >>= total
    return p


def _wide_round_shift(acc: np.ndarray, m: np.ndarray, total: np.ndarray) -> np.ndarray:
    """round_half_away(acc * m / 2^total) for |acc| < 2^47, exactly, in int64: the product
    (up to 2^78) is formed as h * 2^16 + l from the two 16-bit halves of the multiplier. The
    same numbers as rounding_right_shift(acc * m, total) where that does not overflow."""
    mag = np.abs(acc)
    m = np.asarray(m, np.int64)
    total = np.asarray(total, np.int64)
    p_lo = mag * (m & 0xFFFF)                   # < 2^63
    h = mag * (m >> 16) + (p_lo >> 16)          # product = h * 2^16 + l, h < 2^62
    low = p_lo & 0xFFFF
    big = total >= 16
    hs = np.maximum(total - 16, 0)
    floor_big = h >> hs
    half_big = np.where(total > 16, (h >> np.maximum(hs - 1, 0)) & 1, (low >> 15) & 1)
    ls = np.maximum(16 - total, 0)  # total < 16: the result is huge and will be clamped
    floor_small = (np.minimum(h, 1 << 40) << ls) + (low >> np.minimum(total, 15))
    half_small = np.where(total > 0, (low >> np.maximum(total - 1, 0)) & 1, 0)
    mag = np.where(big, floor_big + half_big, floor_small + half_small)
    return np.where(acc < 0, -mag, mag)
