"""Quantization arithmetic shared by calibration, lowering and the integer kernels.

One rounding mode, defined here: round half away from zero (what TPU-MLIR and most NPUs do
when they requantize), used everywhere a real value becomes an integer.
"""

from __future__ import annotations

import numpy as np


def round_half_away(x: np.ndarray) -> np.ndarray:
    """Round to the nearest integer, ties away from zero (2.5 -> 3, -2.5 -> -3)."""
    return np.trunc(x + np.copysign(0.5, x))


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
