"""How a target quantizes: the integer type of an activation range at a bit width, and of a
weight tensor. One place for the arithmetic the four targets differ in:

- symmetric signed (int8-sym, dfp-int16, feature12): scale = t / (2^(bits-1) - 1) with
  t = max(|min|, |max|), zero point 0; 9 to 12 bits are stored as i9 .. i12 (held in int16,
  clamped to their own range); with `unsigned_nonnegative`, a range that starts at 0 is
  stored u8 / u16 with scale t / (2^bits - 1), still zero point 0;
- affine unsigned (uint8-affine, QNN "tf"): the range is widened to contain 0 and to at least
  `min_range`, scale = (max - min) / (2^bits - 1), zero point round(-min / scale), so 0.0 is
  exactly representable;
- power of two (dfp-int16, Acuity dynamic fixed point): the scale is rounded up to 2^-fl.
Weights are symmetric, per output channel or per tensor as the target says.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from ...compiler.target import Target
from ...compiler.types import F32, ScalarType, UniformType
from ...dialects.quant import round_half_away

_INT_MODE = re.compile(r"INT(\d+)\Z")


def mode_bits(mode: str) -> int | None:
    """8 for "INT8", 12 for "INT12"; None for a float mode (F16, BF16, F32)."""
    m = _INT_MODE.match(mode)
    return int(m.group(1)) if m else None


@dataclass(frozen=True)
class QScheme:
    signed: bool
    symmetric: bool
    min_range: float
    power_of_two: bool
    per_channel: bool
    act_bits: tuple[int, ...]
    weight_bits: tuple[int, ...]
    unsigned_nonnegative: bool = False

    @classmethod
    def of(cls, target: Target, asymmetric: bool = False) -> QScheme:
        """The target's scheme; `asymmetric` (model_deploy --asymmetric, as TPU-MLIR's)
        makes a symmetric target's activations affine: the same storage with a zero point."""
        return cls(signed=target.activation_signed,
                   symmetric=target.activation_symmetric and not asymmetric,
                   min_range=float(target.min_range), power_of_two=target.power_of_two_scales,
                   per_channel=target.per_channel_weights,
                   act_bits=tuple(target.activation_bits),
                   weight_bits=tuple(target.weight_bits),
                   unsigned_nonnegative=target.unsigned_nonnegative)

    # -- activations ------------------------------------------------------------------------
    def storage(self, bits: int) -> ScalarType:
        if bits == 8 or bits == 16:
            return ScalarType(("i" if self.signed else "u") + str(bits))
        if self.signed and 9 <= bits <= 12:
            return ScalarType(f"i{bits}")
        raise ValueError(f"no {'signed' if self.signed else 'unsigned'} storage for {bits} "
                         "bits")

    def activation(self, lo: float, hi: float, bits: int) -> UniformType:
        """The quantized type of values observed in [lo, hi] at `bits` bits."""
        storage = self.storage(bits)
        if self.symmetric:
            t = max(abs(lo), abs(hi))
            if self.unsigned_nonnegative and lo >= 0 and bits in (8, 16):
                scale = self._pow2((t if t > 0 else 1.0) / ((1 << bits) - 1))
                return UniformType(ScalarType(f"u{bits}"), F32, scale)
            qmax = (1 << (bits - 1)) - 1
            scale = self._pow2((t if t > 0 else 1.0) / qmax)
            return UniformType(storage, F32, scale)
        lo, hi = min(lo, 0.0), max(hi, 0.0)
        if hi - lo < self.min_range:
            hi = lo + self.min_range
        if hi - lo <= 0:
            hi = lo + 1.0
        qmin, qmax = storage.int_range
        scale = self._pow2((hi - lo) / (qmax - qmin))
        zp = int(np.clip(qmin + round_half_away(np.float64(-lo / np.float32(scale))), qmin,
                         qmax))
        return UniformType(storage, F32, scale, zp)

    def _pow2(self, scale: float) -> float:
        return 2.0 ** math.ceil(math.log2(scale)) if self.power_of_two else scale

    # -- weights ----------------------------------------------------------------------------
    def weight_bits_for(self, act_bits: int) -> int:
        """The widest weight width the target allows that is not wider than the activations
        (16-bit weights only with 16-bit activations, as Acuity's int16 layers)."""
        fitting = [b for b in self.weight_bits if b <= act_bits and b in (8, 16)]
        return max(fitting) if fitting else 8

    def weights(self, w: np.ndarray, axis: int, bits: int,
                min_scales: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Symmetric integer weights (per slice along `axis`, or one scale when the target is
        per tensor) and their scales, one per slice along `axis` either way; `min_scales`
        (one per slice) raises a scale that would be smaller (see bias_weight_scale_floor)."""
        qmax = (1 << (bits - 1)) - 1
        moved = np.moveaxis(w.astype(np.float64), axis, 0)
        absmax = np.abs(moved.reshape(moved.shape[0], -1)).max(axis=1)
        if min_scales is not None:
            absmax = np.maximum(absmax, np.asarray(min_scales, np.float64) * qmax)
        if not self.per_channel:
            absmax = np.full_like(absmax, absmax.max() if absmax.size else 0.0)
        scales = np.where(absmax > 0, absmax, 1.0) / qmax
        if self.power_of_two:
            scales = 2.0 ** np.ceil(np.log2(scales))
        scales = np.float32(scales).astype(np.float64)
        shape = [1] * w.ndim
        shape[axis] = -1
        dtype = np.int8 if bits == 8 else np.int16
        q = np.clip(round_half_away(w / scales.reshape(shape)), -qmax, qmax).astype(dtype)
        return q, scales
