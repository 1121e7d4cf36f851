"""Integer kernels of the `npu` dialect: exact integer semantics, the numbers a device gives.

Every kernel accumulates in integers and requantizes with `kiln.dialects.quant.requantize`,
the single fixed-point rounding of kiln. Dot products (conv, matmul, average pool) go through
float BLAS, which is exact on integers as long as no partial sum leaves the float's integer
range: float32 when a bound computed on each call (max |x - zp| times the largest
per-channel sum of |w|, plus |bias|) is at most 2^24, float64 otherwise (16-bit paths; exact
below 2^53). Multipliers and shifts are given as integer sequences of length 1 (per tensor)
or one per channel.
"""

from __future__ import annotations

import math
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


FLOAT32_EXACT = 1 << 24  # every integer of magnitude up to this is a float32


def _exact_int(y: np.ndarray) -> np.ndarray:
    """A float result of exact integer arithmetic as an integer array: int32 from float32
    (|y| <= 2^24, already integral), int64 from float64."""
    if y.dtype == np.float32:
        return y.astype(np.int32)
    return np.rint(y).astype(np.int64)


def _peak(x: np.ndarray, zp: int) -> int:
    """max |x - zp| over `x` (0 when empty), as a Python int."""
    if not x.size:
        return 0
    return max(int(x.max()) - int(zp), int(zp) - int(x.min()), 0)


def _integer_dot(product: Callable[..., np.ndarray], x: np.ndarray, zp: int, w: np.ndarray,
                 w_abs_sums: np.ndarray, bias: np.ndarray | None,
                 bias_shape: tuple[int, ...]) -> np.ndarray:
    """An integer dot product (conv or matmul) through float BLAS, exactly.

    `product(xf, wf, bf)` computes sum (x - zp) * w (+ bias when bf is not None) in the float
    dtype of its arrays; `w_abs_sums` is sum |w| per output channel. float32 holds every
    integer up to 2^24, so when each channel's max |x - zp| * sum |w| + |bias| stays within it,
    every partial sum BLAS forms, in any order, is exact in float32. A large bias (2^31 - 1
    clamps a dead channel's) is added afterwards in int64 when only the products fit; else
    float64 (16-bit paths), exact below 2^53. Returns int32 from float32, int64 otherwise.
    The bounds are formed in float64: exact up to 2^53, and no overflow beyond."""
    def fits(bound: np.ndarray) -> bool:
        return float(bound.max(initial=0)) <= FLOAT32_EXACT

    products = float(_peak(x, zp)) * w_abs_sums.astype(np.float64)
    if fits(products if bias is None else products + np.abs(bias.astype(np.float64))):
        cdt, fused = np.float32, True
    elif fits(products):
        cdt, fused = np.float32, False
    else:
        cdt, fused = np.float64, True
    xf = np.subtract(x, cdt(zp), dtype=cdt) if zp else x.astype(cdt)
    acc = _exact_int(product(xf, w.astype(cdt),
                             bias.astype(cdt) if bias is not None and fused else None))
    if bias is not None and not fused:
        acc = np.add(acc, bias.reshape(bias_shape), dtype=np.int64)
    return acc


def requant(x: np.ndarray, multiplier: Sequence[int], shift: Sequence[int], *, axis: int = 0,
            input_zp: int = 0, output_zp: int = 0, dtype: np.dtype) -> np.ndarray:
    """(x - input_zp) requantized to `dtype` (its full range), per tensor or along `axis`."""
    x = np.asarray(x)
    lo, hi = _range(dtype)
    m, s = _channel(multiplier, x.ndim, axis), _channel(shift, x.ndim, axis)

    def fn(v: np.ndarray) -> np.ndarray:
        return requantize(_minus_zp(v, input_zp), m, s, output_zp, lo, hi, _np(dtype))

    return _tabulated(fn, x) if m.ndim == 0 and s.ndim == 0 else fn(x)


TABLE_RATIO = 4  # tabulate when the result has at least this many times the table's entries


def _tabulated(fn: Callable[..., np.ndarray], *arrays: np.ndarray) -> np.ndarray:
    """fn(*arrays) for an elementwise integer `fn` of inputs of at most 16 bits together:
    when the result is much larger than the table of every combination of input codes, fn is
    computed on that table and the result looked up, which gives the same integers."""
    arrays = tuple(np.asarray(a) for a in arrays)
    bits = [8 * a.dtype.itemsize if a.dtype.kind in "iu" else 64 for a in arrays]
    size = math.prod(np.broadcast_shapes(*(a.shape for a in arrays)))
    if sum(bits) > 16 or size < TABLE_RATIO << sum(bits):
        return fn(*arrays)
    # each input's codes in the order of their bit patterns, so x.view(unsigned) indexes them
    unsigned = [np.dtype(f"u{b // 8}") for b in bits]
    codes = [np.arange(1 << b, dtype=u).view(a.dtype) for a, b, u in zip(arrays, bits, unsigned)]
    try:
        table = np.asarray(fn(*np.meshgrid(*codes, indexing="ij", sparse=True))).reshape(-1)
    except ValueError:  # out of fn's range at some code: the arrays' own values decide
        return fn(*arrays)
    index = arrays[0].view(unsigned[0])
    for a, b, u in zip(arrays[1:], bits[1:], unsigned[1:]):
        index = np.left_shift(index, b, dtype=np.int32) | a.view(u)
    return np.take(table, index)


def _span(dtype: np.dtype, zp: int) -> int:
    """The largest |x - zp| over every value x of the integer `dtype`."""
    info = np.iinfo(dtype)
    return max(abs(int(info.min) - int(zp)), abs(int(info.max) - int(zp)))


def _minus_zp(x: np.ndarray, zp: int, left_shift: int = 0) -> np.ndarray:
    """(x - zp) << left_shift as a signed integer array: int32 when every value of x's dtype
    gives one that fits, else int64; `x` itself when it is signed and there is nothing to do."""
    zp, left_shift = int(zp), int(left_shift)
    if not zp and not left_shift and x.dtype.kind == "i":
        return x
    wide = np.int32 if _span(x.dtype, zp) << left_shift < 1 << 31 else np.int64
    d = np.subtract(x, zp, dtype=wide)
    return np.left_shift(d, left_shift, out=d) if left_shift else d


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
    return requantize(acc, _channel(multiplier, acc.ndim, axis),
                      _channel(shift, acc.ndim, axis), output_zp, lo, hi, _np(dtype))


def conv_acc(x: np.ndarray, w: np.ndarray, bias: np.ndarray | None, *, input_zp: int,
             strides: Sequence[int], pads: Sequence[int], dilations: Sequence[int],
             group: int) -> np.ndarray:
    """The integer accumulator of a quantized conv: sum (x - input_zp) * w + bias (int32 when
    computed in float32, else int64; see the module docstring).

    Subtracting the zero point before padding with 0 is padding with the input zero point."""
    x, w = np.asarray(x), np.asarray(w)
    bias = None if bias is None else np.asarray(bias)

    def product(xf: np.ndarray, wf: np.ndarray, bf: np.ndarray | None) -> np.ndarray:
        return conv_kernels.conv(xf, wf, bf, strides=strides, pads=pads, dilations=dilations,
                                 group=group)

    w_abs_sums = np.abs(w.reshape(w.shape[0], -1), dtype=np.int64).sum(axis=1)
    return _integer_dot(product, x, input_zp, w, w_abs_sums, bias,
                        (-1,) + (1,) * (x.ndim - 2))


def conv2d(x: np.ndarray, w: np.ndarray, bias: np.ndarray | None, *, input_zp: int,
           multiplier: Sequence[int], shift: Sequence[int], output_zp: int, dtype,
           strides: Sequence[int], pads: Sequence[int], dilations: Sequence[int],
           group: int = 1, do_relu: bool = False) -> np.ndarray:
    """Quantized conv: int accumulate, then requantize per output channel (axis 1)."""
    acc = conv_acc(x, w, bias, input_zp=input_zp, strides=strides, pads=pads,
                   dilations=dilations, group=group)
    return _output(acc, multiplier, shift, output_zp, dtype, 1, do_relu)


def deconv2d(x: np.ndarray, w: np.ndarray, bias: np.ndarray | None, *, input_zp: int,
             multiplier: Sequence[int], shift: Sequence[int], output_zp: int, dtype,
             strides: Sequence[int], pads: Sequence[int], dilations: Sequence[int],
             output_padding: Sequence[int], do_relu: bool = False) -> np.ndarray:
    """Quantized transposed conv (group 1), filter (C, M, KH, KW): sum (x - input_zp) * w
    scattered, + bias, requantized per output channel (axis 1). A transposed conv reads no
    padding (`pads` crop its output), so subtracting the zero point first is exact."""
    x, w = np.asarray(x), np.asarray(w)
    bias = None if bias is None else np.asarray(bias)

    def product(xf: np.ndarray, wf: np.ndarray, bf: np.ndarray | None) -> np.ndarray:
        return conv_kernels.conv_transpose(xf, wf, bf, strides=strides, pads=pads,
                                           dilations=dilations, group=1,
                                           output_padding=output_padding)

    # every output is a sum over a subset of one output channel's weights
    w_abs_sums = np.abs(np.moveaxis(w, 1, 0).reshape(w.shape[1], -1), dtype=np.int64).sum(1)
    acc = _integer_dot(product, x, input_zp, w, w_abs_sums, bias,
                       (-1,) + (1,) * (x.ndim - 2))
    return _output(acc, multiplier, shift, output_zp, dtype, 1, do_relu)


def matmul(x: np.ndarray, w: np.ndarray, bias: np.ndarray | None, *, input_zp: int,
           multiplier: Sequence[int], shift: Sequence[int], output_zp: int, dtype,
           do_relu: bool = False) -> np.ndarray:
    """Quantized (..., K) @ (K, N) + bias, requantized per column (or per tensor)."""
    x, w = np.asarray(x), np.asarray(w)
    bias = None if bias is None else np.asarray(bias)

    def product(xf: np.ndarray, wf: np.ndarray, bf: np.ndarray | None) -> np.ndarray:
        y = xf @ wf
        if bf is not None:
            y += bf
        return y

    acc = _integer_dot(product, x, input_zp, w, np.abs(w, dtype=np.int64).sum(axis=0), bias,
                       (-1,))
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

    def fn(va: np.ndarray, vb: np.ndarray) -> np.ndarray:
        ra = requantize(_minus_zp(va, lhs_zp, left_shift), lhs_multiplier, lhs_shift, 0, *i32)
        rb = requantize(_minus_zp(vb, rhs_zp, left_shift), rhs_multiplier, rhs_shift, 0, *i32)
        total = np.clip(ra + rb, *i32)
        return _output(total, output_multiplier, output_shift, output_zp, dtype, 0, do_relu)

    return _tabulated(fn, a, b)


def mul(a: np.ndarray, b: np.ndarray, *, lhs_zp: int, rhs_zp: int, multiplier: int,
        shift: int, output_zp: int, dtype) -> np.ndarray:
    """Quantized multiply with broadcasting: (a - lhs_zp) * (b - rhs_zp), exact in int64
    (below 2^34 for 16-bit inputs), requantized once by multiplier, shift (the real factor
    lhs_scale * rhs_scale / output_scale)."""
    lo, hi = _range(dtype)

    def fn(va: np.ndarray, vb: np.ndarray) -> np.ndarray:
        acc = np.multiply(_minus_zp(va, lhs_zp), _minus_zp(vb, rhs_zp), dtype=np.int64)
        return requantize(acc, multiplier, shift, output_zp, lo, hi, _np(dtype))

    return _tabulated(fn, a, b)


def concat(arrays: Sequence[np.ndarray], *, axis: int, input_zps: Sequence[int],
           multipliers: Sequence[int], shifts: Sequence[int], output_zp: int,
           dtype) -> np.ndarray:
    """Concatenate after requantizing each input to the output's scale and zero point."""
    lo, hi = _range(dtype)
    parts = [_tabulated(lambda v, z=z, m=m, s=s: requantize(_minus_zp(v, z), m, s, output_zp,
                                                            lo, hi, _np(dtype)), x)
             for x, z, m, s in zip(arrays, input_zps, multipliers, shifts)]
    return np.concatenate(parts, axis=axis)


def max_pool(x: np.ndarray, *, kernel_shape: Sequence[int], strides: Sequence[int],
             pads: Sequence[int]) -> np.ndarray:
    """Integer max pool: scale and zero point pass through, padding never wins."""
    return pool_kernels.max_pool(np.asarray(x), kernel_shape=kernel_shape, strides=strides,
                                 pads=pads)


def avg_pool(x: np.ndarray, *, kernel_shape: Sequence[int], strides: Sequence[int],
             pads: Sequence[int], count_include_pad: bool, input_zp: int,
             multiplier: Sequence[int], shift: Sequence[int], output_zp: int,
             dtype) -> np.ndarray:
    """Integer average pool: sum of (x - input_zp) over the window, then requantized by the
    entry `count - 1` of `multiplier`/`shift` (quantize_multiplier(in_scale / (out_scale *
    count)) for count = 1 .. prod(kernel_shape)). The sums are integer additions, in int32
    when no sum can reach 2^31."""
    x = np.asarray(x)
    taps = math.prod(kernel_shape)
    d = _minus_zp(x, input_zp)
    d = d.astype(np.int32 if _span(x.dtype, input_zp) * taps < 1 << 31 else np.int64,
                 copy=False)
    spatial = tuple(x.shape[2:])
    if tuple(kernel_shape) == spatial and not any(pads):  # a global pool: one reduction
        sums = d.sum(axis=tuple(range(2, d.ndim)), keepdims=True, dtype=d.dtype)
    else:
        sums = pool_kernels.sum_pool(d, kernel_shape=kernel_shape, strides=strides, pads=pads)
    counts = pool_kernels.window_counts(spatial, kernel_shape=kernel_shape, strides=strides,
                                        pads=pads, count_include_pad=count_include_pad)
    m = np.asarray(multiplier, dtype=np.int64)[counts - 1]
    s = np.asarray(shift, dtype=np.int64)[counts - 1]
    lo, hi = _range(dtype)
    return requantize(sums, m, s, output_zp, lo, hi, _np(dtype))


def lut(x: np.ndarray, table: np.ndarray, in_min: int | None = None) -> np.ndarray:
    """Look each value up in a table with one entry per input code, from the input storage's
    minimum `in_min` (default: its numpy dtype's, e.g. -128 for int8); 256 entries at 8 bits,
    2^bits at 9 to 16 bits, which is exact for any elementwise function."""
    x, table = np.asarray(x), np.asarray(table)
    if in_min is None:
        in_min = _range(x.dtype)[0]
    in_min = int(in_min)
    size = x.dtype.itemsize
    if x.dtype.kind in "iu" and size <= 2 and table.shape == (256 ** size,) \
            and in_min == int(np.iinfo(x.dtype).min):
        # the table reordered to the codes' bit patterns is indexed by x.view(unsigned): no
        # index array (np.roll by 0 for unsigned storage, by 2^(bits-1) for signed)
        return np.take(np.roll(table, in_min), x.view(f"u{size}"))
    return table[np.subtract(x, in_min, dtype=np.intp)]


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


BLOCK = 1 << 16  # elements per block of the float64 passes of quantize: they stay in cache


def _blockwise(fn: Callable[[np.ndarray], np.ndarray], x: np.ndarray,
               dtype: np.dtype) -> np.ndarray:
    """fn(x) for an elementwise `fn` returning `dtype`, computed BLOCK elements at a time so
    that its temporaries stay in the cache (twice as fast on large tensors)."""
    if x.size <= 2 * BLOCK:
        return fn(x)
    flat = np.ascontiguousarray(x).reshape(-1)
    out = np.empty(flat.shape, dtype)
    for i in range(0, flat.size, BLOCK):
        out[i:i + BLOCK] = fn(flat[i:i + BLOCK])
    return out.reshape(x.shape)


def quantize(x: np.ndarray, scale: float | np.ndarray, zero_point: int | np.ndarray,
             dtype) -> np.ndarray:
    """round_half_away(x / scale) + zero_point, clamped to `dtype` (scale may broadcast); the
    division and the rounding in float64."""
    lo, hi = _range(dtype)
    out_dtype = _np(dtype)
    scale, zp = np.asarray(scale, np.float64), np.asarray(zero_point, np.float64)

    def fn(v: np.ndarray) -> np.ndarray:
        q = round_half_away(np.divide(v, scale, dtype=np.float64))
        if zp.any():  # adding a zero would only turn -0.0 into 0.0, which both become 0
            q = q + zp
        return np.clip(q, lo, hi, out=np.empty(q.shape, out_dtype), casting="unsafe")

    x = np.asarray(x)
    if scale.size == zp.size == 1 and max(scale.ndim, zp.ndim) <= x.ndim:  # per tensor
        scale, zp = scale.reshape(()), zp.reshape(())
        return _blockwise(fn, x, out_dtype)
    return fn(x)


def dequantize(q: np.ndarray, scale: float | np.ndarray, zero_point: int | np.ndarray,
               dtype=np.float32) -> np.ndarray:
    """scale * (q - zero_point) in `dtype` (computed in float64, then rounded to `dtype`)."""
    out_dtype = np.dtype(getattr(dtype, "numpy_dtype", dtype))
    scale, zp = np.asarray(scale, np.float64), np.asarray(zero_point, np.float64)

    def fn(v: np.ndarray) -> np.ndarray:
        centered = np.subtract(v, zp, dtype=np.float64) if zp.any() else v
        return np.multiply(centered, scale, dtype=np.float64).astype(out_dtype, copy=False)

    q = np.asarray(q)
    if scale.size == zp.size == 1 and max(scale.ndim, zp.ndim) <= q.ndim:  # per tensor
        scale, zp = scale.reshape(()), zp.reshape(())
        return _blockwise(fn, q, out_dtype)
    return fn(q)
