"""The fast paths of the integer kernels against plain integer references: requantize's
four-pass rounding against Python's exact rationals, the float32 dot products (conv, matmul)
against int64 loops with accumulators on both sides of 2^24 (where float32 stops being
exact), and the integer window sums of avg_pool. A wrong bound or a wrong rounding shows up
as a single differing integer."""

from __future__ import annotations

import itertools
from fractions import Fraction

import numpy as np
import pytest
from kiln.dialects.quant import ACC_LIMIT, requantize, rounding_right_shift
from kiln.kernels import integer as ik
from kiln.kernels.pool import window_counts

F32_EXACT = 1 << 24


def _round_half_away(f: Fraction) -> int:
    mag = (abs(f.numerator) * 2 + f.denominator) // (2 * f.denominator)
    return mag if f >= 0 else -mag


def _requantize_exact(acc, m, s, zp, lo, hi) -> np.ndarray:
    """requantize() element by element with Python integers and fractions."""
    acc, m, s = np.broadcast_arrays(np.asarray(acc), np.asarray(m), np.asarray(s))
    out = [min(max(_round_half_away(Fraction(int(a) * int(k), 1 << (31 + int(t)))) + zp, lo), hi)
           for a, k, t in zip(acc.ravel(), m.ravel(), s.ravel())]
    return np.array(out, dtype=np.int64).reshape(acc.shape)


# -- requantize --------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int32, np.int64, np.uint8])
@pytest.mark.parametrize("zp", [0, -7, 128])
def test_requantize_per_tensor_matches_fractions(dtype, zp):
    rng = np.random.default_rng(int(np.dtype(dtype).itemsize) * 1000 + zp)
    info = np.iinfo(dtype)
    lo, hi = max(int(info.min), 1 - ACC_LIMIT), min(int(info.max), ACC_LIMIT - 1)
    for _ in range(20):
        acc = rng.integers(lo, hi, 300, endpoint=True).astype(dtype)
        m = int(rng.integers(0, 1 << 31))
        s = int(rng.integers(-30, 33))
        got = requantize(acc, m, s, zp, -(1 << 62), 1 << 62)
        assert got.dtype == np.int64
        assert np.array_equal(got, _requantize_exact(acc, m, s, zp, -(1 << 62), 1 << 62))


def test_requantize_ties_round_away_from_zero():
    """acc * 2^30 / 2^(31 + s) = acc / 2^(s + 1): the odd multiples of 2^s are ties; their
    neighbours are not."""
    for s in range(0, 31):
        ties = (2 * np.arange(-6, 7) + 1) << s
        acc = np.concatenate([ties, ties - 1, ties + 1]).astype(np.int64)
        got = requantize(acc, 1 << 30, s, 0, -(1 << 40), 1 << 40)
        assert np.array_equal(got, _requantize_exact(acc, 1 << 30, s, 0, -(1 << 40), 1 << 40))
    got = requantize(np.array([-3, -1, 1, 3], np.int8), 1 << 30, 0, 0, -10, 10)
    assert got.tolist() == [-2, -1, 1, 2]


@pytest.mark.parametrize("seed", range(3))
def test_requantize_per_channel_matches_fractions(seed):
    rng = np.random.default_rng(seed)
    acc = rng.integers(-(1 << 31), 1 << 31, (2, 6, 5, 3)) >> rng.integers(0, 31, (2, 6, 5, 3))
    m = rng.integers(0, 1 << 31, 6).reshape(1, 6, 1, 1)
    s = rng.integers(-31, 33, 6).reshape(1, 6, 1, 1)
    m[0, 0] = 0
    s[0, 1] = -31  # a total shift of 0: no rounding at all
    s[0, 2] = 32   # the largest shift
    for zp, (lo, hi) in [(0, (-(1 << 62), 1 << 62)), (5, (-128, 127)), (-3, (0, 255))]:
        got = requantize(acc.astype(np.int32) if seed else acc, m, s, zp, lo, hi)
        assert np.array_equal(got, _requantize_exact(acc, m, s, zp, lo, hi))


def test_requantize_near_the_int64_limits():
    """The largest accumulators and multipliers the int64 product takes, with every shift:
    where the four-pass rounding would overflow, requantize must take its general path."""
    edge = np.array([ACC_LIMIT - 1, -(ACC_LIMIT - 1), ACC_LIMIT - 2, 1, -1, 0,
                     (1 << 31) - 1, -(1 << 31)], np.int64)
    for m in [(1 << 31) - 1, 1 << 30, 1]:
        for s in range(-31, 33):
            for zp in (0, 65535, -32768):
                got = requantize(edge, m, s, zp, -(1 << 62), 1 << 62)
                want = _requantize_exact(edge, m, s, zp, -(1 << 62), 1 << 62)
                assert np.array_equal(got, want), (m, s, zp)


def test_requantize_fast_rounding_is_rounding_right_shift():
    """Many random values through requantize and through the plain rounding_right_shift of the
    int64 product: the same integers, for every total shift from 1 to 63."""
    rng = np.random.default_rng(11)
    n = 20000
    acc = (rng.integers(-(1 << 31), 1 << 31, n) >> rng.integers(0, 31, n)).astype(np.int32)
    m = rng.integers(0, 1 << 31, n)
    s = rng.integers(-30, 33, n)
    got = requantize(acc, m, s, 0, -(1 << 62), 1 << 62)
    assert np.array_equal(got, rounding_right_shift(acc.astype(np.int64) * m, 31 + s))


def test_requantize_output_dtype_and_errors():
    acc = np.array([-1000, -3, 0, 3, 1000], np.int32)
    m, s = 1 << 30, -1  # factor 1
    got = requantize(acc, m, s, 2, -128, 127, np.int8)
    assert got.dtype == np.int8 and got.tolist() == [-128, -1, 2, 5, 127]
    assert requantize(np.zeros((0, 3), np.int32), m, s, 0, -128, 127).shape == (0, 3)
    for bad in (np.array([1 << 47]), np.array([-(1 << 47)]), np.array([1.0])):
        with pytest.raises(ValueError):
            requantize(bad, m, s, 0, -128, 127)
    with pytest.raises(ValueError):
        requantize(acc, 1 << 31, 0, 0, -128, 127)
    with pytest.raises(ValueError):
        requantize(acc, m, 33, 0, -128, 127)
    with pytest.raises(ValueError):
        requantize(acc, -1, 0, 0, -128, 127)


# -- dot products through float BLAS -------------------------------------------------------
def _conv_int64(x, w, bias, zp, strides, pads, dilations, group) -> np.ndarray:
    """The conv accumulator with nothing but int64 arithmetic: one einsum per kernel tap."""
    x = np.asarray(x, np.int64) - zp
    w = np.asarray(w, np.int64)
    n, c, h, wd = x.shape
    m, cg, kh, kw = w.shape
    xp = np.zeros((n, c, h + pads[0] + pads[2], wd + pads[1] + pads[3]), np.int64)
    xp[:, :, pads[0]:pads[0] + h, pads[1]:pads[1] + wd] = x
    oh = (xp.shape[2] - (kh - 1) * dilations[0] - 1) // strides[0] + 1
    ow = (xp.shape[3] - (kw - 1) * dilations[1] - 1) // strides[1] + 1
    out = np.zeros((n, m, oh, ow), np.int64)
    mg = m // group
    for g, i, j in itertools.product(range(group), range(kh), range(kw)):
        win = xp[:, g * cg:(g + 1) * cg, i * dilations[0]:i * dilations[0] + (oh - 1) * strides[0]
                 + 1:strides[0], j * dilations[1]:j * dilations[1] + (ow - 1) * strides[1]
                 + 1:strides[1]]
        out[:, g * mg:(g + 1) * mg] += np.einsum("nchw,mc->nmhw", win,
                                                 w[g * mg:(g + 1) * mg, :, i, j])
    if bias is not None:
        out += np.asarray(bias, np.int64).reshape(1, -1, 1, 1)
    return out


# (in channels, out channels, kernel, strides, pads, dilations, group): every strategy of
# kernels/conv.py (pointwise, shifted, im2col, grouped, depthwise); the *_wide ones have
# enough taps to pass 2^24 with int8 inputs
CONVS = {
    "pointwise": (116, 4, 1, [1, 1], [0, 0, 0, 0], [1, 1], 1),
    "pointwise_wide": (1100, 3, 1, [1, 1], [0, 0, 0, 0], [1, 1], 1),
    "shifted": (14, 3, 3, [1, 1], [1, 1, 1, 1], [1, 1], 1),
    "shifted_wide": (120, 4, 3, [1, 1], [1, 1, 1, 1], [1, 1], 1),
    "im2col": (14, 8, 3, [2, 1], [1, 0, 1, 2], [1, 2], 1),
    "grouped": (28, 4, 3, [1, 1], [1, 1, 1, 1], [1, 1], 2),
    "depthwise": (6, 6, 3, [2, 2], [1, 1, 1, 1], [1, 1], 6),
}


@pytest.mark.parametrize("name", sorted(CONVS))
@pytest.mark.parametrize("side", [-0.02, 0.02])
@pytest.mark.parametrize("zp_frac", [0, 0.8])
def test_conv_accumulators_around_2_24_are_exact(name, side, zp_frac):
    """Channel 0 (all weights 127) gets sums 2% below or above -2^24, of odd values that
    float32 would round beyond 2^24: below, the float32 path must be taken (int32 result) and
    be exact; above, the float64 path (int64 result). With a zero point the stored values
    are smaller than the centred ones the bound is about."""
    c, m, k, strides, pads, dilations, group = CONVS[name]
    taps = c // group * k * k
    peak = int(F32_EXACT * (1 + side)) // (127 * taps)
    dtype = np.int8 if peak <= 127 else np.int16
    rng = np.random.default_rng(len(name))
    w = rng.integers(-127, 128, (m, c // group, k, k)).astype(np.int8)
    w[0] = 127
    x = rng.integers(peak - 1, peak + 1, (2, c, 7, 8), endpoint=True)
    x[0] %= 4  # the large values are the negative ones
    x[1] = -x[1]
    zp = int(zp_frac * peak)
    x = (x + zp).astype(dtype)
    kw = dict(strides=strides, pads=pads, dilations=dilations, group=group)
    want = _conv_int64(x, w, None, zp, **kw)
    got = ik.conv_acc(x, w, None, input_zp=zp, **kw)
    assert np.array_equal(got, want)
    assert got.dtype == (np.int32 if side < 0 else np.int64)
    assert np.abs(want).max() > F32_EXACT * (1 + side - 0.01)


@pytest.mark.parametrize("name", sorted(CONVS))
@pytest.mark.parametrize("dtype,zp", [(np.int8, 0), (np.int8, -5), (np.uint8, 131),
                                      (np.int16, 0), (np.int16, 300)])
def test_conv_matches_int64_loop(name, dtype, zp):
    """Random convs with and without bias, 8-bit and 16-bit inputs (whose accumulators far
    exceed 2^24), against the int64 reference."""
    c, m, k, strides, pads, dilations, group = CONVS[name]
    rng = np.random.default_rng(3)
    info = np.iinfo(dtype)
    kw = dict(strides=strides, pads=pads, dilations=dilations, group=group)
    for trial in range(3):
        x = rng.integers(int(info.min), int(info.max), (2, c, 9, 7), endpoint=True)
        if trial == 2:  # a 16-bit tensor of small values still fits float32
            x = rng.integers(-3, 4, x.shape) + zp
        x = x.astype(dtype)
        w = rng.integers(-127, 128, (m, c // group, k, k)).astype(np.int8)
        bias = None if trial == 1 else rng.integers(-(1 << 20), 1 << 20, m).astype(np.int32)
        got = ik.conv_acc(x, w, bias, input_zp=zp, **kw)
        assert np.array_equal(got, _conv_int64(x, w, bias, zp, **kw)), trial


def test_conv_large_bias_is_added_exactly():
    """A dead channel's bias clamped to 2^31 - 1 next to small products: float32 products,
    the bias added in int64 afterwards."""
    rng = np.random.default_rng(5)
    x = rng.integers(-128, 128, (1, 8, 6, 6)).astype(np.int8)
    w = rng.integers(-127, 128, (4, 8, 3, 3)).astype(np.int8)
    w[2] = 0
    bias = np.array([-123457, (1 << 31) - 1, (1 << 31) - 1, -(1 << 31)], np.int64)
    kw = dict(strides=[1, 1], pads=[1, 1, 1, 1], dilations=[1, 1], group=1)
    got = ik.conv_acc(x, w, bias, input_zp=3, **kw)
    assert np.array_equal(got, _conv_int64(x, w, bias, 3, **kw))
    out = ik.conv2d(x, w, bias, input_zp=3, multiplier=[1 << 30] * 4, shift=[20] * 4,
                    output_zp=0, dtype=np.int16, **kw)
    ref = requantize(_conv_int64(x, w, bias, 3, **kw), np.full((1, 4, 1, 1), 1 << 30),
                     np.full((1, 4, 1, 1), 20), 0, -32768, 32767)
    assert out.dtype == np.int16 and np.array_equal(out, ref)


@pytest.mark.parametrize("dtype,zp,k", [(np.int8, 0, 1040), (np.uint8, 128, 1040),
                                        (np.int16, -9, 64)])
def test_matmul_matches_int64(dtype, zp, k):
    """Near-full-scale int8 rows of length 1040 (|sums| just above 2^24 for some columns,
    below for others) and int16 rows, against an int64 matmul, requantized."""
    rng = np.random.default_rng(8)
    info = np.iinfo(dtype)
    x = rng.integers(int(info.max) - 2, int(info.max), (3, 5, k), endpoint=True).astype(dtype)
    w = rng.integers(100, 128, (k, 6)).astype(np.int8)
    w[:, 3:] = rng.integers(-127, 128, (k, 3))
    bias = rng.integers(-1000, 1000, 6).astype(np.int32)
    acc = (x.astype(np.int64) - zp) @ w.astype(np.int64) + bias
    mult, shift = [1 << 30] * 6, [8] * 6
    got = ik.matmul(x, w, bias, input_zp=zp, multiplier=mult, shift=shift, output_zp=0,
                    dtype=np.int32)
    want = requantize(acc, np.full(6, 1 << 30), np.full(6, 8), 0, -(1 << 31), (1 << 31) - 1)
    assert np.array_equal(got, want)


# -- elementwise kernels and avg_pool ---------------------------------------------------------
# small: computed directly; large: through a table of every input code (TABLE_RATIO times
# more elements than codes: 2^16 for two 8-bit inputs, or one 16-bit input)
SIZES = {"small": (2, 4, 5, 5), "large": (2, 4, 180, 190)}


@pytest.mark.parametrize("size", sorted(SIZES))
def test_add_matches_int64_formula(size):
    rng = np.random.default_rng(9)
    n, c, h, w = SIZES[size]
    a = rng.integers(-128, 128, (n, c, h, w)).astype(np.int8)
    b = rng.integers(0, 256, (1, c, 1, w)).astype(np.uint8)
    b2 = rng.integers(0, 256, (n, c, h, w)).astype(np.uint8)
    d = rng.integers(-32768, 32768, (n, c, h, w)).astype(np.int16)
    p = ik.add_params(0.04, 0.013, 0.05)
    i32 = (-(1 << 31), (1 << 31) - 1)
    for x, y, xz, yz, relu in [(a, b, 3, 128, False), (a, b2, -128, 0, True),
                               (b2, a, 255, 127, False), (d, a, -20, 0, False),
                               (d, d, 0, 0, True)]:
        sa = (x.astype(np.int64) - xz) << p["left_shift"]
        sb = (y.astype(np.int64) - yz) << p["left_shift"]
        total = np.clip(requantize(sa, p["lhs_multiplier"], p["lhs_shift"], 0, *i32)
                        + requantize(sb, p["rhs_multiplier"], p["rhs_shift"], 0, *i32), *i32)
        want = requantize(total, p["output_multiplier"], p["output_shift"], 1,
                          1 if relu else -128, 127)
        got = ik.add(x, y, lhs_zp=xz, rhs_zp=yz, output_zp=1, dtype=np.int8, do_relu=relu, **p)
        assert got.dtype == np.int8 and np.array_equal(got, want)


@pytest.mark.parametrize("size", sorted(SIZES))
def test_concat_and_requant_match_int64_formulas(size):
    rng = np.random.default_rng(12)
    n, c, h, w = SIZES[size]
    a = rng.integers(-128, 128, (n, c, h, w)).astype(np.int8)
    u = rng.integers(0, 256, (n, 1, h, w)).astype(np.uint8)
    d = rng.integers(-32768, 32768, (n, c, h, w)).astype(np.int16)
    got = ik.concat([a, u, d], axis=1, input_zps=[5, 128, -1],
                    multipliers=[1 << 30, 1_500_000_000, 1 << 30], shifts=[-8, 0, 1],
                    output_zp=2, dtype=np.int16)
    want = np.concatenate([
        requantize(a.astype(np.int64) - 5, 1 << 30, -8, 2, -32768, 32767),
        requantize(u.astype(np.int64) - 128, 1_500_000_000, 0, 2, -32768, 32767),
        requantize(d.astype(np.int64) + 1, 1 << 30, 1, 2, -32768, 32767)], axis=1)
    assert got.dtype == np.int16 and np.array_equal(got, want)
    m = rng.integers(1 << 30, 1 << 31, c)
    s = rng.integers(-3, 10, c)
    for x, zp in [(a, -3), (u, 128), (d, 7)]:
        for mult, shift in [(m, s), (m[:1], s[:1])]:
            got = ik.requant(x, mult, shift, axis=1, input_zp=zp, output_zp=-4, dtype=np.int8)
            shape = (1, -1, 1, 1) if len(mult) > 1 else ()
            want = requantize(x.astype(np.int64) - zp, mult.reshape(shape),
                              shift.reshape(shape), -4, -128, 127)
            assert got.dtype == np.int8 and np.array_equal(got, want)


@pytest.mark.parametrize("size", sorted(SIZES))
def test_quantize_dequantize_match_float64_formulas(size):
    """Per tensor, large tensors are computed in blocks: the same floats and integers as the
    formulas on the whole array (ties, signed zeros, infinities, huge values)."""
    rng = np.random.default_rng(13)
    x = (rng.standard_normal(SIZES[size]) * 40).astype(np.float32)
    specials = [np.inf, -np.inf, 0.0, -0.0, 1e30, -1e30, 0.49999997, -0.49999997]
    x.reshape(-1)[:len(specials)] = specials
    ties = x.reshape(-1)[len(specials):][::2]
    ties[:] = rng.integers(-600, 600, ties.size) * 0.125
    per_axis = rng.uniform(0.05, 0.5, x.shape[1]).reshape(1, -1, 1, 1)
    zps = np.arange(x.shape[1]).reshape(1, -1, 1, 1)
    for scale, zp in [(0.25, 0), (0.37, 5), (0.125, -3), (per_axis, zps)]:
        for dtype in (np.int8, np.uint8, np.int16):
            lo, hi = np.iinfo(dtype).min, np.iinfo(dtype).max
            r = x.astype(np.float64) / np.asarray(scale, np.float64)
            want = np.clip(np.trunc(r + np.copysign(0.5, r)) + zp, lo, hi).astype(dtype)
            got = ik.quantize(x, scale, zp, dtype)
            assert got.dtype == dtype and np.array_equal(got, want)
            back = ik.dequantize(got, scale, zp)
            ref = (got.astype(np.float64) - zp) * np.asarray(scale, np.float64)
            ref = ref.astype(np.float32)
            assert back.dtype == np.float32 and np.array_equal(back.view(np.uint32),
                                                                ref.view(np.uint32))


def _window_sums_int64(x, zp, kernel, strides, pads, include):
    """(sums, counts) of an average pool by a plain loop over output positions."""
    x = np.asarray(x, np.int64) - zp
    n, c, h, w = x.shape
    oh = (h + pads[0] + pads[2] - kernel[0]) // strides[0] + 1
    ow = (w + pads[1] + pads[3] - kernel[1]) // strides[1] + 1
    sums = np.zeros((n, c, oh, ow), np.int64)
    counts = np.zeros((oh, ow), np.int64)
    for i, j in itertools.product(range(oh), range(ow)):
        r0, c0 = i * strides[0] - pads[0], j * strides[1] - pads[1]
        r1, c1 = r0 + kernel[0], c0 + kernel[1]
        sums[:, :, i, j] = x[:, :, max(r0, 0):max(r1, 0), max(c0, 0):max(c1, 0)].sum((2, 3))
        counts[i, j] = kernel[0] * kernel[1] if include else \
            (min(r1, h) - max(r0, 0)) * (min(c1, w) - max(c0, 0))
    return sums, counts


@pytest.mark.parametrize("dtype,zp", [(np.int8, 0), (np.uint8, 100), (np.int16, -12)])
@pytest.mark.parametrize("kernel,strides,pads,include", [
    ([3, 2], [2, 2], [1, 0, 1, 1], False), ([3, 3], [1, 1], [1, 1, 1, 1], True),
    ([7, 6], [1, 1], [0, 0, 0, 0], False),  # global
])
def test_avg_pool_matches_int64_loop(dtype, zp, kernel, strides, pads, include):
    rng = np.random.default_rng(10)
    info = np.iinfo(dtype)
    x = rng.integers(int(info.min), int(info.max), (2, 3, 7, 6), endpoint=True).astype(dtype)
    taps = kernel[0] * kernel[1]
    m = rng.integers(1 << 30, 1 << 31, taps)
    s = rng.integers(0, 8, taps)
    got = ik.avg_pool(x, kernel_shape=kernel, strides=strides, pads=pads,
                      count_include_pad=include, input_zp=zp, multiplier=m, shift=s,
                      output_zp=3, dtype=np.int8)
    sums, counts = _window_sums_int64(x, zp, kernel, strides, pads, include)
    assert np.array_equal(window_counts(x.shape[2:], kernel_shape=kernel, strides=strides,
                                        pads=pads, count_include_pad=include), counts)
    want = requantize(sums, m[counts - 1], s[counts - 1], 3, -128, 127)
    assert got.dtype == np.int8 and np.array_equal(got, want)


@pytest.mark.parametrize("storage,in_min", [(np.int8, None), (np.uint8, None), (np.int16, None),
                                            (np.uint16, None), (np.int16, -2048)])
def test_lut_is_the_table_at_each_code(storage, in_min):
    """Full-width tables are read through the codes' bit patterns; an i12 table (held in
    int16, from -2048) through an index. Both are table[x - in_min]."""
    rng = np.random.default_rng(14)
    info = np.iinfo(storage)
    lo = int(info.min) if in_min is None else in_min
    hi = int(info.max) if in_min is None else -in_min - 1
    table = rng.integers(-32768, 32768, hi - lo + 1).astype(np.int16)
    x = rng.integers(lo, hi, (3, 50, 70), endpoint=True).astype(storage)
    x.reshape(-1)[:2] = [lo, hi]
    got = ik.lut(x, table, in_min)
    assert got.dtype == np.int16 and np.array_equal(got, table[x.astype(np.int64) - lo])


def test_table_falls_back_where_an_absent_code_is_out_of_range():
    """With this zero point, (x - zp) << 30 reaches 2^47 (requantize refuses it) only for the
    codes x >= 122, none of which the input holds: the table of every code cannot be built,
    and the kernel must compute on the values themselves, as it would without a table."""
    rng = np.random.default_rng(15)
    a = rng.integers(-128, 122, (2, 4, 180, 190)).astype(np.int8)
    b = rng.integers(-128, 128, (2, 4, 180, 190)).astype(np.int8)
    p = ik.add_params(0.04, 0.013, 0.05, left_shift=30)
    kw = dict(lhs_zp=-130950, rhs_zp=0, output_zp=0, dtype=np.int8, **p)
    i32 = (-(1 << 31), (1 << 31) - 1)
    sa = (a.astype(np.int64) + 130950) << 30
    sb = b.astype(np.int64) << 30
    total = np.clip(requantize(sa, p["lhs_multiplier"], p["lhs_shift"], 0, *i32)
                    + requantize(sb, p["rhs_multiplier"], p["rhs_shift"], 0, *i32), *i32)
    want = requantize(total, p["output_multiplier"], p["output_shift"], 0, -128, 127)
    assert np.array_equal(ik.add(a, b, **kw), want)
    a[0, 0, 0, 0] = 127  # now present: refused, table or not
    with pytest.raises(ValueError):
        ik.add(a, b, **kw)
