"""Reduction kernels against onnxruntime single-node models (opset 18: axes as an input)."""

from __future__ import annotations

import numpy as np
import pytest
from kiln.kernels import reduce as R
from ort_single_node import ort, same

RNG = np.random.default_rng(3)


REDUCTIONS = [
    (R.reduce_sum, "ReduceSum"),
    (R.reduce_mean, "ReduceMean"),
    (R.reduce_max, "ReduceMax"),
    (R.reduce_min, "ReduceMin"),
    (R.reduce_prod, "ReduceProd"),
    (R.reduce_l1, "ReduceL1"),
    (R.reduce_l2, "ReduceL2"),
    (R.reduce_sum_square, "ReduceSumSquare"),
    (R.reduce_log_sum_exp, "ReduceLogSumExp"),
]
AXES = [None, (0,), (1,), (2,), (0, 2), (1, 2), (-1,), (-3, -1), (0, 1, 2)]




def ort_reduce(op: str, x: np.ndarray, axes, keepdims: bool) -> np.ndarray:
    ax = None if axes is None else np.array(axes, np.int64)
    return ort(op, [x, ax], {"keepdims": int(keepdims)}, opset=18)


@pytest.mark.parametrize("keepdims", [True, False])
@pytest.mark.parametrize("axes", AXES, ids=str)
@pytest.mark.parametrize("kernel,op", REDUCTIONS, ids=[r[1] for r in REDUCTIONS])
def test_reduce_float(kernel, op, axes, keepdims):
    x = RNG.uniform(0.5, 1.5, (2, 3, 4)).astype(np.float32) * RNG.choice([-1, 1], (2, 3, 4))
    x = x.astype(np.float32)
    same(kernel(x, axes=axes, keepdims=keepdims), ort_reduce(op, x, axes, keepdims))


INT_REDUCTIONS = [
    r
    for r in REDUCTIONS
    if r[1]
    in (
        "ReduceSum",
        "ReduceMean",
        "ReduceMax",
        "ReduceMin",
        "ReduceProd",
        "ReduceL1",
        "ReduceSumSquare",
    )
]


@pytest.mark.parametrize("dtype", [np.int32, np.int64], ids=lambda d: d.__name__)
@pytest.mark.parametrize("axes", [None, (1,), (0, 2)], ids=str)
@pytest.mark.parametrize("kernel,op", INT_REDUCTIONS, ids=[r[1] for r in INT_REDUCTIONS])
def test_reduce_int(kernel, op, axes, dtype):
    hi = 3 if op == "ReduceProd" else 10  # products stay far from overflow
    x = RNG.integers(-hi + 1, hi, (2, 3, 4)).astype(dtype)
    same(kernel(x, axes=axes, keepdims=False), ort_reduce(op, x, axes, False))


def test_reduce_mean_int_truncates_toward_zero():
    x = np.array([[1, 2], [2, 2], [-3, -4], [-1, 0]], np.int64)
    got = R.reduce_mean(x, axes=(1,), keepdims=False)
    np.testing.assert_array_equal(got, [1, 2, -3, 0])
    same(got, ort_reduce("ReduceMean", x, (1,), False))


def test_reduce_int64_is_exact_and_wraps():
    """Integer reductions are exact in the input dtype and wrap on overflow.

    onnxruntime differs here: it accumulates integer ReduceSum/Prod/Mean/L1/SumSquare in
    double and saturates, so 2**60 + 2**60 - 5 comes back as 2**61 and an int32 overflow as
    INT32_MAX. Below 2**53 (and without overflow) both agree.
    """
    x = np.array([2**60, 2**60, -5], np.int64)
    assert int(R.reduce_sum(x, axes=None, keepdims=False)) == 2**61 - 5
    assert int(R.reduce_mean(x, axes=None, keepdims=False)) == (2**61 - 5) // 3
    big = np.array([2**31 - 1, 1, 5], np.int32)
    assert int(R.reduce_sum(big, axes=None, keepdims=False)) == -(2**31) + 5
    small = np.array([2**40, -(2**41), 12345], np.int64)
    same(
        R.reduce_sum(small, axes=None, keepdims=False), ort_reduce("ReduceSum", small, None, False)
    )


def test_reduce_empty_axes_tuple_is_noop():
    x = RNG.standard_normal((2, 3)).astype(np.float32)
    np.testing.assert_array_equal(R.reduce_sum(x, axes=(), keepdims=True), x)
    np.testing.assert_array_equal(R.reduce_max(x, axes=(), keepdims=False), x)


def test_reduce_max_min_empty_set():
    x = np.zeros((0, 3), np.float32)
    assert np.all(R.reduce_max(x, axes=(0,), keepdims=False) == -np.inf)
    assert np.all(R.reduce_min(x, axes=(0,), keepdims=False) == np.inf)
    xi = np.zeros((2, 0), np.int32)
    np.testing.assert_array_equal(R.reduce_max(xi, axes=(1,)), [[np.iinfo(np.int32).min]] * 2)


def test_log_sum_exp_large_values():
    x = np.array(
        [[1000.0, 1000.0, -1e4], [-np.inf, -np.inf, -np.inf], [88.0, 89.0, 1.0]], np.float32
    )
    with np.errstate(over="raise", invalid="raise"):
        got = R.reduce_log_sum_exp(x, axes=(1,), keepdims=False)
    want = [1000.0 + np.log(2.0), -np.inf, 89.0 + np.log1p(np.exp(-1.0) + np.exp(-88.0))]
    np.testing.assert_allclose(got, np.array(want, np.float32), rtol=1e-6)


def test_reduce_bad_axes():
    x = np.ones((2, 3), np.float32)
    with pytest.raises(ValueError, match="out of range"):
        R.reduce_sum(x, axes=(2,))
    with pytest.raises(ValueError, match="repeated"):
        R.reduce_sum(x, axes=(1, -1))


@pytest.mark.parametrize("select_last_index", [False, True])
@pytest.mark.parametrize("keepdims", [True, False])
@pytest.mark.parametrize("axis", [0, 1, 2, -1])
@pytest.mark.parametrize("kernel,op", [(R.argmax, "ArgMax"), (R.argmin, "ArgMin")])
@pytest.mark.parametrize("dtype", [np.float32, np.int32], ids=lambda d: d.__name__)
def test_arg_reduce(kernel, op, axis, keepdims, select_last_index, dtype):
    x = RNG.integers(0, 3, (3, 4, 5)).astype(dtype)  # many ties
    attrs = {"axis": axis, "keepdims": int(keepdims), "select_last_index": int(select_last_index)}
    got = kernel(x, axis=axis, keepdims=keepdims, select_last_index=select_last_index)
    assert got.dtype == np.int64
    same(got, ort(op, [x], attrs, opset=13))


def test_arg_reduce_empty_axis_raises():
    with pytest.raises(ValueError, match="empty"):
        R.argmax(np.zeros((0, 2), np.float32), axis=0)
