"""Activation kernels against onnxruntime single-node models (and math for erf)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from kiln.kernels import activation as A
from ort_single_node import ort

RNG = np.random.default_rng(0)

SHAPES = [(7,), (2, 3, 4), (1, 3, 2, 2)]
# A grid through the interesting regions plus large magnitudes.
GRID = np.concatenate(
    [np.linspace(-8, 8, 161), [-100.0, -30.0, -0.0, 0.0, 30.0, 100.0, 1e-30, -1e-30]]
).astype(np.float32)



def close(got: np.ndarray, want: np.ndarray) -> None:
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    assert got.shape == want.shape, (got.shape, want.shape)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def rand(shape: tuple[int, ...], scale: float = 3.0) -> np.ndarray:
    return (RNG.standard_normal(shape) * scale).astype(np.float32)


# (kernel, ONNX op, ONNX attributes, kernel keyword arguments, opset)
UNARY = [
    (A.relu, "Relu", {}, {}, 17),
    (A.leaky_relu, "LeakyRelu", {"alpha": 0.1}, {"alpha": 0.1}, 17),
    (A.leaky_relu, "LeakyRelu", {}, {}, 17),
    (A.sigmoid, "Sigmoid", {}, {}, 17),
    (A.hard_sigmoid, "HardSigmoid", {}, {}, 17),
    (A.hard_sigmoid, "HardSigmoid", {"alpha": 0.3, "beta": 0.4}, {"alpha": 0.3, "beta": 0.4}, 17),
    (A.hard_swish, "HardSwish", {}, {}, 17),
    (A.gelu, "Gelu", {}, {}, 20),
    (A.gelu, "Gelu", {"approximate": "tanh"}, {"approximate": "tanh"}, 20),
    (A.erf, "Erf", {}, {}, 17),
    (A.tanh, "Tanh", {}, {}, 17),
    (A.softplus, "Softplus", {}, {}, 17),
    (A.mish, "Mish", {}, {}, 18),
    (A.elu, "Elu", {}, {}, 17),
    (A.elu, "Elu", {"alpha": 0.5}, {"alpha": 0.5}, 17),
    (A.selu, "Selu", {}, {}, 17),
    (A.selu, "Selu", {"alpha": 1.5, "gamma": 2.0}, {"alpha": 1.5, "gamma": 2.0}, 17),
    (A.softsign, "Softsign", {}, {}, 17),
]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize(
    "kernel,op,attrs,kwargs,opset", UNARY, ids=[f"{u[1]}{len(u[2])}" for u in UNARY]
)
def test_unary_vs_ort(kernel, op, attrs, kwargs, opset, shape):
    x = rand(shape)
    close(kernel(x, **kwargs), ort(op, [x], attrs, opset=opset))


@pytest.mark.parametrize(
    "kernel,op,attrs,kwargs,opset", UNARY, ids=[f"{u[1]}{len(u[2])}" for u in UNARY]
)
def test_unary_grid_vs_ort(kernel, op, attrs, kwargs, opset):
    close(kernel(GRID, **kwargs), ort(op, [GRID], attrs, opset=opset))


def test_float64_and_scalar_keep_dtype():
    x = np.linspace(-4, 4, 9)
    for fn in (A.relu, A.sigmoid, A.erf, A.gelu, A.softplus, A.mish, A.elu, A.silu):
        assert fn(x).dtype == np.float64
        assert fn(np.float32(0.5)).dtype == np.float32
        assert fn(np.float32(0.5)).shape == ()
    close(A.sigmoid(x), ort("Sigmoid", [x]))
    close(A.tanh(x), ort("Tanh", [x]))


def test_sigmoid_extremes():
    x = np.array([-100, -88, -20, 0, 20, 88, 100, np.inf, -np.inf], np.float32)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        y = A.sigmoid(x)
    want = 1.0 / (1.0 + np.exp(-x.astype(np.float64)))
    np.testing.assert_allclose(y, want, rtol=1e-6, atol=1e-37)
    assert y[0] > 0 and y[-2] == 1.0 and y[-1] == 0.0
    close(y, ort("Sigmoid", [x]))


def test_softplus_mish_extremes_are_stable():
    x = np.array([-1000, -100, -20, 0, 20, 100, 1000], np.float32)
    with np.errstate(over="raise"):
        sp = A.softplus(x)
        mi = A.mish(x)
    x64 = x.astype(np.float64)
    np.testing.assert_allclose(sp, np.logaddexp(0, x64), rtol=1e-6, atol=1e-37)
    np.testing.assert_allclose(mi, x64 * np.tanh(np.logaddexp(0, x64)), rtol=1e-6, atol=1e-37)


def test_silu_vs_ort_sigmoid():
    x = np.concatenate([rand((3, 5)).ravel(), GRID])
    close(A.silu(x), x * ort("Sigmoid", [x]))


def test_erf_against_math_on_dense_grid():
    """Relative error below 1e-6 everywhere, tails and tiny arguments included."""
    x = np.concatenate(
        [
            np.linspace(-12, 12, 48001),
            np.logspace(-37, 1.2, 2000),
            -np.logspace(-37, 1.2, 2000),
            [np.float32(np.finfo(np.float32).tiny), 0.0],
        ]
    ).astype(np.float32)
    ref = np.array([math.erf(float(v)) for v in x])
    got = A.erf(x).astype(np.float64)
    nz = ref != 0
    assert np.max(np.abs(got[nz] - ref[nz]) / np.abs(ref[nz])) < 1e-6
    assert np.all(got[~nz] == 0)
    # Internal float64 accuracy (what gelu uses), including erfc's far tail.
    x64 = np.linspace(-26, 26, 5201)
    ref64 = np.array([math.erf(v) for v in x64])
    refc = np.array([math.erfc(v) for v in x64])
    nz = ref64 != 0
    assert np.max(np.abs(A._erf64(x64)[nz] - ref64[nz]) / np.abs(ref64[nz])) < 1e-12
    ok = refc > 1e-290
    assert np.max(np.abs(A._erfc64(x64)[ok] - refc[ok]) / refc[ok]) < 1e-11


def test_erf_special_values():
    x = np.array([np.inf, -np.inf, np.nan, 0.0, -0.0], np.float32)
    y = A.erf(x)
    assert y[0] == 1 and y[1] == -1 and np.isnan(y[2]) and y[3] == 0
    assert np.signbit(y[4])
    close(A.erfc(np.array([0.0, 10.0, -10.0], np.float32)), np.array([1, 2.088e-45, 2], np.float32))


@pytest.mark.parametrize(
    "slope_shape", [(), (1,), (4,), (3, 1, 1), (1, 3, 1, 1), (2, 3, 2, 4)], ids=str
)
def test_prelu_broadcasting(slope_shape):
    x = rand((2, 3, 2, 4))
    slope = RNG.uniform(0, 0.5, slope_shape).astype(np.float32)
    close(A.prelu(x, slope), ort("PRelu", [x, slope]))


def test_prelu_rejects_channel_slope_on_nchw():
    with pytest.raises(ValueError, match="broadcast"):
        A.prelu(rand((1, 3, 2, 2)), np.ones(3, np.float32))


@pytest.mark.parametrize(
    "lo,hi", [(-1.0, 1.0), (None, 0.5), (-0.5, None), (None, None), (2.0, 1.0), (0.0, 0.0)]
)
def test_clip(lo, hi):
    x = np.concatenate([rand((10,)), [np.nan]]).astype(np.float32)
    lo_a = None if lo is None else np.array(lo, np.float32)
    hi_a = None if hi is None else np.array(hi, np.float32)
    close(A.clip(x, lo_a, hi_a), ort("Clip", [x, lo_a, hi_a], opset=13))
    close(A.clip(x, lo, hi), ort("Clip", [x, lo_a, hi_a], opset=13))


def test_clip_int():
    x = np.array([-5, 0, 3, 100], np.int64)
    lo, hi = np.array(-2, np.int64), np.array(50, np.int64)
    got = A.clip(x, lo, hi)
    np.testing.assert_array_equal(got, ort("Clip", [x, lo, hi], opset=13))
    assert got.dtype == np.int64
    out = A.clip(x)
    assert out is not x and np.array_equal(out, x)


@pytest.mark.parametrize("axis", [0, 1, 2, -1, -3])
@pytest.mark.parametrize("op", ["Softmax", "LogSoftmax"])
def test_softmax_axes(op, axis):
    x = rand((3, 4, 5))
    fn = A.softmax if op == "Softmax" else A.log_softmax
    close(fn(x, axis=axis), ort(op, [x], {"axis": axis}, opset=13))


@pytest.mark.parametrize("op", ["Softmax", "LogSoftmax"])
def test_softmax_large_values(op):
    x = np.array([[1000.0, 1001.0, 1002.0], [-1e4, 0.0, 1e4], [88.0, 89.0, -1000.0]], np.float32)
    fn = A.softmax if op == "Softmax" else A.log_softmax
    with np.errstate(over="raise", invalid="raise"):
        got = fn(x, axis=1)
    assert np.all(np.isfinite(got))
    close(got, ort(op, [x], {"axis": 1}, opset=13))


def test_log_softmax_stability_tiny_probabilities():
    x = np.array([[0.0, -200.0, 200.0]], np.float32)
    got = A.log_softmax(x)
    np.testing.assert_allclose(got, [[-200.0, -400.0, 0.0]], rtol=1e-6)
    close(got, ort("LogSoftmax", [x], {"axis": -1}, opset=13))


def test_softmax_empty_and_bad_axis():
    assert A.softmax(np.zeros((0, 3), np.float32), axis=1).shape == (0, 3)
    with pytest.raises(ValueError, match="axis"):
        A.softmax(np.zeros((2, 3), np.float32), axis=2)


def test_gelu_rejects_unknown_approximation():
    with pytest.raises(ValueError, match="approximate"):
        A.gelu(np.zeros(3, np.float32), approximate="fast")


def test_gelu_negative_tail_has_no_cancellation():
    x = np.array([-6.0, -8.0, -10.0], np.float64)
    want = np.array([0.5 * v * math.erfc(-v / math.sqrt(2)) for v in x])
    np.testing.assert_allclose(A.gelu(x), want, rtol=1e-10)


@pytest.mark.parametrize("attrs", [{}, {"bias": 1.5, "lambd": 1.5}, {"bias": -0.5, "lambd": 0.0},
                                   {"lambd": 2.0}])
def test_shrink_float(attrs):
    got = A.shrink(GRID, **attrs)
    close(got, ort("Shrink", [GRID], attrs, opset=13))


@pytest.mark.parametrize("dtype", [np.int8, np.int32, np.uint8, np.float64])
def test_shrink_other_types(dtype):
    """Integers truncate toward zero (a C++ cast), as onnxruntime computes them."""
    lo = 0 if np.dtype(dtype).kind == "u" else -9
    x = np.arange(lo, 10).astype(dtype)
    attrs = {"bias": 1.5, "lambd": 1.5}
    got = A.shrink(x, **attrs)
    want = ort("Shrink", [x], attrs, opset=13)
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)
