"""Integer kernels of the `npu` dialect: exact integer semantics, the numbers a device gives.

Every kernel accumulates in integers (float64 BLAS is used for int8 x int8 dot products,
which are exact in float64 for any realistic length: |sum| < 2^53) and requantizes with
`kiln.dialects.quant.requantize`, the single fixed-point rounding of kiln. Multipliers and
shifts are given as integer sequences of length 1 (per tensor) or one per channel.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from ..dialects.quant import qrange, quantize_multiplier, requantize, round_half_away
from . import conv as conv_kernels
from . import pool as pool_kernels


def _channel(values: Sequence[int], ndim: int, axis: int) -> np.ndarray:
    """Per-channel parameters reshaped to broadcast along `axis` (a scalar when length 1)."""
    a = np.asarray(values, dtype=np.int64)
    if a.size == 1:
        return a.reshape(())
    shape = [1] * ndim
    shape[axis] = -1
    return a.reshape(shape)


def _exact_int(y: np.ndarray) -> np.ndarray:
    """A float64 result of integer arithmetic (exact) as int64."""
    return np.rint(y).astype(np.int64)


def requant(x: np.ndarray, multiplier: Sequence[int], shift: Sequence[int], *, axis: int = 0,
            input_zp: int = 0, output_zp: int = 0, dtype: np.dtype) -> np.ndarray:
    """(x - input_zp) requantized to `dtype` (its full range), per tensor or along `axis`."""
    x = np.asarray(x)
    lo, hi = _range(dtype)
    acc = x.astype(np.int64) - int(input_zp)
    out = requantize(acc, _channel(multiplier, x.ndim, axis), _channel(shift, x.ndim, axis),
                     output_zp, lo, hi)
    return out.astype(_np(dtype))


def _storage(dtype) -> tuple[np.dtype, int, int]:
    """(numpy dtype, qmin, qmax) of an integer storage given as a numpy dtype or a kiln
    ScalarType; narrow types (i9 .. i12) live in int16 but clamp to their own range."""
    int_range = getattr(dtype, "int_range", None)
    if int_range is not None:
        return dtype.numpy_dtype, int(int_range[0]), int(int_range[1])
    info = np.iinfo(np.dtype(dtype))
    return np.dtype(dtype), int(info.min), int(info.max)


def _range(dtype) -> tuple[int, int]:
    return _storage(dtype)[1:]


def _np(dtype) -> np.dtype:
    return _storage(dtype)[0]


def _output(acc: np.ndarray, multiplier, shift, output_zp: int, dtype, axis: int,
            do_relu: bool) -> np.ndarray:
    """Requantize an accumulator per channel on `axis`; relu clamps at the output zero point."""
    lo, hi = _range(dtype)
    if do_relu:
        lo = max(lo, int(output_zp))
    out = requantize(acc, _channel(multiplier, acc.ndim, axis),
                     _channel(shift, acc.ndim, axis), output_zp, lo, hi)
    return out.astype(_np(dtype))


def conv_acc(x: np.ndarray, w: np.ndarray, bias: np.ndarray | None, *, input_zp: int,
             strides: Sequence[int], pads: Sequence[int], dilations: Sequence[int],
             group: int) -> np.ndarray:
    """The int64 accumulator of a quantized conv: sum (x - input_zp) * w + bias.

    Subtracting the zero point before padding with 0 is padding with the input zero point."""
    xf = np.asarray(x).astype(np.float64) - float(input_zp)
    wf = np.asarray(w).astype(np.float64)
    bf = None if bias is None else np.asarray(bias).astype(np.float64)
    y = conv_kernels.conv(xf, wf, bf, strides=strides, pads=pads, dilations=dilations,
                          group=group)
    return _exact_int(y)


def conv2d(x: np.ndarray, w: np.ndarray, bias: np.ndarray | None, *, input_zp: int,
           multiplier: Sequence[int], shift: Sequence[int], output_zp: int, dtype,
           strides: Sequence[int], pads: Sequence[int], dilations: Sequence[int],
           group: int = 1, do_relu: bool = False) -> np.ndarray:
    """Quantized conv: int accumulate, then requantize per output channel (axis 1)."""
    acc = conv_acc(x, w, bias, input_zp=input_zp, strides=strides, pads=pads,
                   dilations=dilations, group=group)
    return _output(acc, multiplier, shift, output_zp, dtype, 1, do_relu)


def matmul(x: np.ndarray, w: np.ndarray, bias: np.ndarray | None, *, input_zp: int,
           multiplier: Sequence[int], shift: Sequence[int], output_zp: int, dtype,
           do_relu: bool = False) -> np.ndarray:
    """Quantized (..., K) @ (K, N) + bias, requantized per column (or per tensor)."""
    y = (np.asarray(x).astype(np.float64) - float(input_zp)) @ np.asarray(w).astype(np.float64)
    if bias is not None:
        y = y + np.asarray(bias).astype(np.float64)
    acc = _exact_int(y)
    return _output(acc, multiplier, shift, output_zp, dtype, acc.ndim - 1, do_relu)


def add_params(lhs_scale: float, rhs_scale: float, out_scale: float,
               left_shift: int = 20) -> dict[str, int]:
    """TFLite's quantized-add parameters: both inputs are brought to the common scale
    2 * max(lhs_scale, rhs_scale) / 2^left_shift, added in int32, then requantized."""
    twice_max = 2.0 * max(lhs_scale, rhs_scale)
    lm, ls = quantize_multiplier(lhs_scale / twice_max)
    rm, rs = quantize_multiplier(rhs_scale / twice_max)
    om, os_ = quantize_multiplier(twice_max / ((1 << left_shift) * out_scale))
    return {"lhs_multiplier": lm, "lhs_shift": ls, "rhs_multiplier": rm, "rhs_shift": rs,
            "output_multiplier": om, "output_shift": os_, "left_shift": left_shift}


def add(a: np.ndarray, b: np.ndarray, *, lhs_zp: int, rhs_zp: int, lhs_multiplier: int,
        lhs_shift: int, rhs_multiplier: int, rhs_shift: int, left_shift: int,
        output_multiplier: int, output_shift: int, output_zp: int, dtype,
        do_relu: bool = False) -> np.ndarray:
    """Quantized add with broadcasting, TFLite's scheme (see add_params)."""
    i32 = qrange(32)
    sa = (np.asarray(a).astype(np.int64) - int(lhs_zp)) << int(left_shift)
    sb = (np.asarray(b).astype(np.int64) - int(rhs_zp)) << int(left_shift)
    ra = requantize(sa, lhs_multiplier, lhs_shift, 0, *i32)
    rb = requantize(sb, rhs_multiplier, rhs_shift, 0, *i32)
    total = np.clip(ra + rb, *i32)
    return _output(total, output_multiplier, output_shift, output_zp, dtype, 0, do_relu)


def concat(arrays: Sequence[np.ndarray], *, axis: int, input_zps: Sequence[int],
           multipliers: Sequence[int], shifts: Sequence[int], output_zp: int,
           dtype) -> np.ndarray:
    """Concatenate after requantizing each input to the output's scale and zero point."""
    lo, hi = _range(dtype)
    parts = [requantize(np.asarray(x).astype(np.int64) - int(z), m, s, output_zp, lo, hi)
             for x, z, m, s in zip(arrays, input_zps, multipliers, shifts)]
    return np.concatenate(parts, axis=axis).astype(_np(dtype))


def max_pool(x: np.ndarray, *, kernel_shape: Sequence[int], strides: Sequence[int],
             pads: Sequence[int]) -> np.ndarray:
    """Integer max pool: scale and zero point pass through, padding never wins."""
    return pool_kernels.max_pool(np.asarray(x), kernel_shape=kernel_shape, strides=strides,
                                 pads=pads)


def pool_counts(spatial: Sequence[int], *, kernel_shape: Sequence[int], strides: Sequence[int],
                pads: Sequence[int], count_include_pad: bool) -> np.ndarray:
    """The divisor of each output position of an average pool (int64, spatial shape)."""
    nd = len(spatial)
    if count_include_pad:
        ones = np.ones((1, 1, *[s + pads[i] + pads[i + nd] for i, s in enumerate(spatial)]))
        pads = [0] * (2 * nd)
    else:
        ones = np.ones((1, 1, *spatial))
    w = np.ones((1, 1, *kernel_shape))
    counts = conv_kernels.conv(ones, w, None, strides=strides, pads=pads,
                               dilations=[1] * nd, group=1)
    return _exact_int(counts[0, 0])


def avg_pool(x: np.ndarray, *, kernel_shape: Sequence[int], strides: Sequence[int],
             pads: Sequence[int], count_include_pad: bool, input_zp: int,
             multiplier: Sequence[int], shift: Sequence[int], output_zp: int,
             dtype) -> np.ndarray:
    """Integer average pool: sum of (x - input_zp) over the window, then requantized by the
    entry `count - 1` of `multiplier`/`shift` (quantize_multiplier(in_scale / (out_scale *
    count)) for count = 1 .. prod(kernel_shape))."""
    x = np.asarray(x)
    n, c = x.shape[:2]
    nd = x.ndim - 2
    xf = (x.astype(np.float64) - float(input_zp)).reshape(n * c, 1, *x.shape[2:])
    w = np.ones((1, 1, *kernel_shape))
    sums = _exact_int(conv_kernels.conv(xf, w, None, strides=strides, pads=pads,
                                        dilations=[1] * nd, group=1))
    sums = sums.reshape(n, c, *sums.shape[2:])
    counts = pool_counts(x.shape[2:], kernel_shape=kernel_shape, strides=strides, pads=pads,
                         count_include_pad=count_include_pad)
    m = np.asarray(multiplier, dtype=np.int64)[counts - 1]
    s = np.asarray(shift, dtype=np.int64)[counts - 1]
    lo, hi = _range(dtype)
    return requantize(sums, m, s, output_zp, lo, hi).astype(_np(dtype))


def lut(x: np.ndarray, table: np.ndarray, in_min: int | None = None) -> np.ndarray:
    """Look each value up in a table with one entry per input code, from the input storage's
    minimum `in_min` (default: its numpy dtype's, e.g. -128 for int8); 256 entries at 8 bits,
    2^bits at 9 to 16 bits, which is exact for any elementwise function."""
    x = np.asarray(x)
    if in_min is None:
        in_min = _range(x.dtype)[0]
    return np.asarray(table)[x.astype(np.int64) - int(in_min)]


def make_lut(fn: Callable[[np.ndarray], np.ndarray], in_scale: float, in_zp: int,
             out_scale: float, out_zp: int, storage, in_storage=None) -> np.ndarray:
    """The table of `fn` from the input type to the output type: entry i is
    quantize(fn(dequantize(q_i))) with q_i = qmin + i of the input storage, rounding half
    away from zero and clamping. Storages are numpy integer dtypes or kiln ScalarTypes of at
    most 16 bits (the input defaults to the output's); the table has 2^bits(input) entries."""
    out_np, _, _ = _storage(storage)
    in_storage = storage if in_storage is None else in_storage
    in_np, lo, hi = _storage(in_storage)
    if in_np.itemsize > 2 or out_np.itemsize > 2:
        raise ValueError("make_lut builds tables between integer types of at most 16 bits")
    q = np.arange(lo, hi + 1, dtype=np.float64)
    y = np.asarray(fn(np.float32(in_scale) * (q - in_zp)), dtype=np.float64)
    return quantize(y, out_scale, out_zp, storage)


def quantize(x: np.ndarray, scale: float | np.ndarray, zero_point: int | np.ndarray,
             dtype) -> np.ndarray:
    """round_half_away(x / scale) + zero_point, clamped to `dtype` (scale may broadcast)."""
    lo, hi = _range(dtype)
    q = round_half_away(np.asarray(x, np.float64) / np.asarray(scale, np.float64))
    return np.clip(q + np.asarray(zero_point, np.float64), lo, hi).astype(_np(dtype))


def dequantize(q: np.ndarray, scale: float | np.ndarray, zero_point: int | np.ndarray,
               dtype=np.float32) -> np.ndarray:
    """scale * (q - zero_point) in `dtype`."""
    real = (np.asarray(q).astype(np.float64) - np.asarray(zero_point, np.float64)) \
        * np.asarray(scale, np.float64)
    return real.astype(getattr(dtype, "numpy_dtype", dtype))
