"""The fixed-point arithmetic (dialects/quant.py) and the integer kernels (kernels/integer.py)
against exact rational arithmetic and fake-quant float references."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from kiln.dialects.quant import (
    quantize_multiplier,
    quantize_multipliers,
    requantize,
    round_half_away,
)
from kiln.kernels import activation as act
from kiln.kernels import conv as conv_kernels
from kiln.kernels import integer as ik
from kiln.kernels import pool as pool_kernels


def _round_half_away_exact(f: Fraction) -> int:
    mag = (abs(f.numerator) * 2 + f.denominator) // (2 * f.denominator)
    return mag if f >= 0 else -mag


# -- quantize_multiplier / requantize ---------------------------------------------------------
@pytest.mark.parametrize("seed", range(3))
def test_quantize_multiplier_is_close(seed):
    rng = np.random.default_rng(seed)
    for real in np.exp(rng.uniform(np.log(2.0 ** -32), np.log(2.0 ** 31 - 1), 300)):
        m, s = quantize_multiplier(float(real))
        assert (1 << 30) <= m < (1 << 31)
        approx = Fraction(m, 1 << (31 + s)) if s >= -31 else None
        assert abs(approx - Fraction(float(real))) <= Fraction(float(real)) / (1 << 30)


def test_quantize_multiplier_edges():
    assert quantize_multiplier(1.0) == (1 << 30, -1)
    assert quantize_multiplier(0.5) == (1 << 30, 0)
    assert quantize_multiplier(2.0 ** -34) == (0, 0)      # tiny: always rounds to zero
    assert quantize_multiplier(2.0 ** 31 - 1e-6) == ((1 << 31) - 1, -31)
    assert quantize_multipliers([0.25, 1.0]) == ((1 << 30, 1 << 30), (1, -1))
    for bad in (0.0, -1.0, 2.0 ** 31, float("nan")):
        with pytest.raises(ValueError):
            quantize_multiplier(bad)


@pytest.mark.parametrize("seed", range(4))
def test_requantize_matches_exact_rationals(seed):
    rng = np.random.default_rng(seed)
    n = 400
    acc = rng.integers(-(1 << 31), 1 << 31, n) >> rng.integers(0, 31, n)
    mult = rng.integers(1 << 30, 1 << 31, n)
    shift = rng.integers(-31, 33, n)
    got = requantize(acc, mult, shift, 0, -(1 << 62), 1 << 62)
    for a, m, s, g in zip(acc, mult, shift, got):
        want = _round_half_away_exact(Fraction(int(a) * int(m), 1 << (31 + int(s))))
        want = min(max(want, -(1 << 62)), 1 << 62)
        assert g == want, (a, m, s)


def test_requantize_wide_accumulators_are_exact():
    """16-bit paths: accumulators from 2^32 up to 2^47 take the split-multiplier path, which
    must give the exact rounded quotient (checked with fractions), both signs, all shifts."""
    rng = np.random.default_rng(7)
    n = 3000
    acc = rng.integers(1 << 32, 1 << 47, n) * rng.choice([-1, 1], n)
    mult = rng.integers(0, 1 << 31, n)
    shift = rng.integers(-15, 33, n)  # total shift >= 16: results stay in int64
    lim = 1 << 62
    got = requantize(acc, mult, shift, 0, -lim, lim)
    for a, m, s, g in zip(acc, mult, shift, got):
        want = _round_half_away_exact(Fraction(int(a) * int(m), 1 << (31 + int(s))))
        assert g == min(max(want, -lim), lim), (a, m, s)
    # a mixed array (some below 2^32) gives the same numbers as element by element
    mixed = np.array([5, -(1 << 40) + 3, 1 << 33, -7])
    whole = requantize(mixed, 1 << 30, 3, 0, -lim, lim)
    assert whole.tolist() == [int(requantize(np.array([v]), 1 << 30, 3, 0, -lim, lim)[0])
                              for v in mixed]


def test_requantize_exactness():
    one = quantize_multiplier(1.0)
    acc = np.arange(-1000, 1000)
    assert (requantize(acc, *one, 0, -5000, 5000) == acc).all()  # identity factor is exact
    # a multiple of 2^k divided by 2^k is exact
    m, s = quantize_multiplier(2.0 ** -7)
    assert (requantize(acc << 7, m, s, 0, -5000, 5000) == acc).all()
    # ties round away from zero, symmetrically for negatives
    m, s = quantize_multiplier(0.5)
    got = requantize(np.array([-5, -3, -1, 1, 3, 5]), m, s, 0, -10, 10)
    assert got.tolist() == [-3, -2, -1, 1, 2, 3]
    # zero point then clamp
    assert requantize(np.array([-1000, 0, 1000]), *one, 3, -128, 127).tolist() == [-128, 3, 127]
    # tiny factors are exactly zero; out-of-range accumulators are refused
    assert requantize(np.array([(1 << 32) - 1]), 0, 0, 7, -128, 127).tolist() == [7]
    with pytest.raises(ValueError):
        requantize(np.array([1 << 47]), *one, 0, -128, 127)
    with pytest.raises(ValueError):
        requantize(np.array([1.0]), *one, 0, -128, 127)


# -- fake-quant references ---------------------------------------------------------------------
def _q(x, scale, zp, dtype):
    return ik.quantize(x, scale, zp, dtype)


def _dq(q, scale, zp=0):
    return (q.astype(np.float64) - zp) * np.asarray(scale, np.float64)


def _close(got, want, exact_fraction=0.9):
    diff = np.abs(got.astype(np.int64) - want.astype(np.int64))
    assert diff.max() <= 1, diff.max()
    assert (diff == 0).mean() >= exact_fraction


@pytest.mark.parametrize("dtype,in_zp,group,relu", [(np.int8, -3, 1, False),
                                                     (np.uint8, 128, 1, True),
                                                     (np.int8, 5, 4, False)])
def test_conv2d_matches_fake_quant(dtype, in_zp, group, relu):
    rng = np.random.default_rng(1)
    s_in, s_out = 0.05, 0.08
    x = rng.integers(*((-128, 128) if dtype == np.int8 else (0, 256)), (2, 8, 9, 9))
    x = x.astype(dtype)
    w_scale = rng.uniform(0.005, 0.02, 8)
    w = rng.integers(-127, 128, (8, 8 // group, 3, 3)).astype(np.int8)
    bias = rng.integers(-2000, 2000, 8).astype(np.int32)
    mult, shift = quantize_multipliers(s_in * w_scale / s_out)
    kw = dict(strides=[2, 1], pads=[1, 0, 1, 2], dilations=[1, 2], group=group)
    got = ik.conv2d(x, w, bias, input_zp=in_zp, multiplier=mult, shift=shift, output_zp=4,
                    dtype=np.int8, do_relu=relu, **kw)
    y = conv_kernels.conv(_dq(x, s_in, in_zp), _dq(w, w_scale[:, None, None, None]),
                          bias * s_in * w_scale, **kw)
    if relu:
        y = np.maximum(y, 0)
    _close(got, _q(y, s_out, 4, np.int8))


def test_conv2d_padding_is_the_zero_point():
    x = np.full((1, 1, 2, 2), 200, np.uint8)
    w = np.ones((1, 1, 3, 3), np.int8)
    one = quantize_multipliers([1.0])
    got = ik.conv2d(x, w, None, input_zp=200, multiplier=one[0], shift=one[1], output_zp=0,
                    dtype=np.int32, strides=[1, 1], pads=[1, 1, 1, 1], dilations=[1, 1])
    assert (got == 0).all()


def test_matmul_matches_fake_quant():
    rng = np.random.default_rng(2)
    x = rng.integers(0, 256, (3, 5, 64)).astype(np.uint8)
    w_scale = rng.uniform(0.002, 0.01, 16)
    w = rng.integers(-127, 128, (64, 16)).astype(np.int8)
    bias = rng.integers(-500, 500, 16).astype(np.int32)
    mult, shift = quantize_multipliers(0.03 * w_scale / 0.1)
    got = ik.matmul(x, w, bias, input_zp=120, multiplier=mult, shift=shift, output_zp=-2,
                    dtype=np.int8)
    y = _dq(x, 0.03, 120) @ _dq(w, w_scale) + bias * 0.03 * w_scale
    _close(got, _q(y, 0.1, -2, np.int8))


def test_add_matches_fake_quant():
    rng = np.random.default_rng(3)
    a = rng.integers(-128, 128, (4, 8, 5)).astype(np.int8)
    b = rng.integers(-128, 128, (8, 1)).astype(np.int8)
    params = ik.add_params(0.04, 0.013, 0.05)
    got = ik.add(a, b, lhs_zp=3, rhs_zp=-7, output_zp=1, dtype=np.int8, **params)
    _close(got, _q(_dq(a, 0.04, 3) + _dq(b, 0.013, -7), 0.05, 1, np.int8))
    relu = ik.add(a, b, lhs_zp=3, rhs_zp=-7, output_zp=1, dtype=np.int8, do_relu=True,
                  **params)
    assert relu.min() >= 1


@pytest.mark.parametrize("dtypes", [(np.int8, np.int8, np.int8), (np.uint8, np.int16, np.int16),
                                    (np.int16, np.int16, np.uint8)])
def test_mul_is_the_exact_product_rounded_once(dtypes):
    # every element equals round_half_away((a - za) * (b - zb) * M) + zo, clamped, with M
    # the multiplier's exact rational value (fractions, no float)
    da, db, do = dtypes
    rng = np.random.default_rng(5)
    lo = {t: (np.iinfo(t).min, np.iinfo(t).max) for t in dtypes}
    a = rng.integers(*lo[da], (3, 6, 5), endpoint=True).astype(da)
    b = rng.integers(*lo[db], (6, 1), endpoint=True).astype(db)
    za, zb, zo = (7 if da == np.uint8 else -3), 11, (128 if do == np.uint8 else 2)
    m, s = quantize_multiplier(0.04 * 0.013 / 0.05 * (1 << 8))
    got = ik.mul(a, b, lhs_zp=za, rhs_zp=zb, multiplier=m, shift=s, output_zp=zo, dtype=do)
    assert got.dtype == do and got.shape == (3, 6, 5)
    ab = np.broadcast_arrays(a, b)
    for x, y, g in zip(ab[0].ravel(), ab[1].ravel(), got.ravel()):
        want = _round_half_away_exact(Fraction((int(x) - za) * (int(y) - zb) * m,
                                               1 << (31 + s))) + zo
        assert g == min(max(want, lo[do][0]), lo[do][1])
    # and within one step of the float product
    _close(ik.mul(a, b, lhs_zp=za, rhs_zp=zb, multiplier=m, shift=s, output_zp=zo,
                  dtype=np.int32),
           _q(_dq(a, 0.04, za) * _dq(b, 0.013, zb), 0.05 / (1 << 8), zo, np.int32), 0.5)


def test_mul_of_large_int8_tensors_takes_the_table_and_agrees():
    # 8 + 8 input bits and 2^19 elements: computed once per code pair and looked up
    rng = np.random.default_rng(6)
    a = rng.integers(-128, 128, (1, 8, 256, 256)).astype(np.int8)
    b = rng.integers(-128, 128, (1, 8, 1, 1)).astype(np.int8)
    m, s = quantize_multiplier(0.37 / 128)
    got = ik.mul(a, b, lhs_zp=-1, rhs_zp=0, multiplier=m, shift=s, output_zp=0, dtype=np.int8)
    acc = (a.astype(np.int64) + 1) * b.astype(np.int64)
    np.testing.assert_array_equal(got, requantize(acc, m, s, 0, -128, 127, np.int8))


def test_concat_requantizes_each_input():
    rng = np.random.default_rng(4)
    a = rng.integers(-128, 128, (2, 3, 4)).astype(np.int8)
    b = rng.integers(0, 256, (2, 5, 4)).astype(np.uint8)
    m, s = quantize_multipliers([0.1 / 0.1, 0.02 / 0.1])
    got = ik.concat([a, b], axis=1, input_zps=[0, 128], multipliers=m, shifts=s,
                    output_zp=0, dtype=np.int8)
    assert (got[:, :3] == a).all()  # same scale: copied exactly
    want = _q(np.concatenate([_dq(a, 0.1), _dq(b, 0.02, 128)], axis=1), 0.1, 0, np.int8)
    _close(got, want)


@pytest.mark.parametrize("include", [False, True])
def test_avg_pool_matches_fake_quant(include):
    rng = np.random.default_rng(5)
    x = rng.integers(0, 256, (2, 3, 7, 6)).astype(np.uint8)
    kw = dict(kernel_shape=[3, 2], strides=[2, 2], pads=[1, 0, 1, 1])
    counts = np.arange(1, 7)
    m, s = quantize_multipliers(0.02 / (0.03 * counts))
    got = ik.avg_pool(x, input_zp=100, multiplier=m, shift=s, output_zp=-5, dtype=np.int8,
                      count_include_pad=include, **kw)
    y = pool_kernels.avg_pool(_dq(x, 0.02, 100), count_include_pad=include, **kw)
    want = _q(y, 0.03, -5, np.int8)
    # window means have small denominators, so many reals sit on an exact tie (k + 1/2) that
    # the f32 scales push one way and the Q31 multiplier the other: off-by-one only there
    ties = np.abs(np.abs(y / 0.03 - np.trunc(y / 0.03)) - 0.5) < 1e-6
    _close(got[~ties], want[~ties], exact_fraction=0.95)
    _close(got, want, exact_fraction=0.8)


def test_max_pool_is_integer_max():
    x = np.array([[[[-128, -100], [-120, -128]]]], np.int8)
    got = ik.max_pool(x, kernel_shape=[2, 2], strides=[1, 1], pads=[1, 1, 0, 0])
    assert got.tolist() == [[[[-128, -128], [-128, -100]]]] or got.dtype == np.int8
    assert got[0, 0, 1, 1] == -100 and got.dtype == np.int8


@pytest.mark.parametrize("fn", [act.sigmoid, np.tanh, lambda v: v * act.sigmoid(v), np.exp])
@pytest.mark.parametrize("in_dtype,out_dtype", [(np.int8, np.int8), (np.uint8, np.uint8),
                                                (np.int8, np.uint8)])
def test_lut_matches_the_function(fn, in_dtype, out_dtype):
    out_scale, out_zp = (1 / 255, 0) if out_dtype == np.uint8 else (1 / 127, 0)
    if fn is np.exp:
        out_scale = 2.5 / 127 if out_dtype == np.int8 else 2.5 / 255
    in_zp = 0 if in_dtype == np.int8 else 128
    table = ik.make_lut(fn, 0.03, in_zp, out_scale, out_zp, out_dtype, in_storage=in_dtype)
    assert table.shape == (256,) and table.dtype == out_dtype
    lo, hi = np.iinfo(in_dtype).min, np.iinfo(in_dtype).max
    x = np.arange(lo, hi + 1).astype(in_dtype)
    want = _q(fn(np.float32(0.03) * (x.astype(np.float64) - in_zp)), out_scale, out_zp,
              out_dtype)
    assert (ik.lut(x, table) == want).all()


def test_quantize_dequantize():
    x = np.array([-1.25, -0.75, 0.25, 0.75, 100.0], np.float32)
    q = ik.quantize(x, 0.5, 0, np.int8)
    assert q.tolist() == [-3, -2, 1, 2, 127]  # ties away from zero, clamped
    assert q.tolist() == np.clip(round_half_away(x / 0.5), -128, 127).tolist()
    d = ik.dequantize(q, 0.5, 0)
    assert d.dtype == np.float32 and d.tolist() == [-1.5, -1.0, 0.5, 1.0, 63.5]


def test_int8_to_int16_requant():
    x = np.arange(-128, 128).astype(np.int8)
    m, s = quantize_multiplier(0.1 / 0.001)
    got = ik.requant(x, [m], [s], dtype=np.int16)
    assert got.dtype == np.int16
    assert (got == np.clip(x.astype(np.int64) * 100, -32768, 32767)).all()
