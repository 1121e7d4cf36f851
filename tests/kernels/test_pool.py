"""kiln.kernels.pool against onnxruntime MaxPool / AveragePool / Global*Pool."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from kiln.kernels.pool import (
    avg_pool,
    global_avg_pool,
    global_max_pool,
    max_pool,
    pool_output_shape,
)
from ort_single_node import run_node

TOL = {"rtol": 1e-4, "atol": 1e-5}

_PADS = {"nopad": (0, 0, 0, 0), "sym": (1, 1, 1, 1), "asym": (1, 0, 0, 1), "asym2": (0, 2, 1, 0)}
# (kernel, strides): onnxruntime requires every pad < kernel.
_WINDOWS = {"k2s2": ((2, 2), (2, 2)), "k3s1": ((3, 3), (1, 1)), "k3s2": ((3, 3), (2, 2)),
            "k3x4s2x3": ((3, 4), (2, 3)), "k5s3": ((5, 5), (3, 3))}
_CASES = [
    pytest.param(*_WINDOWS[wn], _PADS[pn], ceil, id=f"{wn}-{pn}-ceil{ceil}")
    for wn, pn, ceil in itertools.product(_WINDOWS, _PADS, (0, 1))
    if not (wn == "k2s2" and pn == "asym2")
]


def _x(rng: np.random.Generator, *shape: int) -> np.ndarray:
    return rng.standard_normal(shape).astype(np.float32)


def _attrs(kernel, strides, pads, ceil):
    return {
        "kernel_shape": list(kernel),
        "strides": list(strides),
        "pads": list(pads),
        "ceil_mode": ceil,
    }


@pytest.mark.parametrize(("kernel", "strides", "pads", "ceil"), _CASES)
@pytest.mark.parametrize("dilation", [1, 2])
def test_max_pool(kernel, strides, pads, ceil, dilation):
    x = _x(np.random.default_rng(0), 2, 3, 11, 12)
    attrs = dict(_attrs(kernel, strides, pads, ceil), dilations=[dilation, dilation])
    (ref,) = run_node("MaxPool", [x], attrs, opset=12)
    got = max_pool(x, **attrs)
    assert got.dtype == np.float32 and got.shape == ref.shape
    np.testing.assert_array_equal(got, ref)


@pytest.mark.parametrize(("kernel", "strides", "pads", "ceil"), _CASES)
@pytest.mark.parametrize("include", [0, 1])
def test_avg_pool(kernel, strides, pads, ceil, include):
    x = _x(np.random.default_rng(1), 2, 3, 11, 12)
    attrs = dict(_attrs(kernel, strides, pads, ceil), count_include_pad=include)
    (ref,) = run_node("AveragePool", [x], attrs)
    got = avg_pool(x, **attrs)
    assert got.dtype == np.float32 and got.shape == ref.shape
    np.testing.assert_allclose(got, ref, **TOL)


@pytest.mark.parametrize("include", [0, 1])
@pytest.mark.parametrize("ceil", [0, 1])
def test_avg_pool_dilated_opset19(include, ceil):
    x = _x(np.random.default_rng(2), 1, 2, 9, 10)
    attrs = dict(_attrs((3, 2), (1, 2), (1, 0, 1, 1), ceil), dilations=[2, 2],
                 count_include_pad=include)
    (ref,) = run_node("AveragePool", [x], attrs, opset=19)
    np.testing.assert_allclose(avg_pool(x, **attrs), ref, **TOL)


@pytest.mark.parametrize(
    ("shape", "kernel", "strides", "pads"),
    [((2, 3, 13), (3,), (2,), (1, 0)), ((1, 2, 10), (4,), (3,), (0, 2)),
     ((1, 2, 5, 6, 7), (2, 3, 2), (2, 1, 2), (1, 0, 1, 0, 1, 1))],
    ids=["1d", "1d-b", "3d"],
)
@pytest.mark.parametrize("ceil", [0, 1])
def test_pool_1d_3d(shape, kernel, strides, pads, ceil):
    x = _x(np.random.default_rng(3), *shape)
    attrs = _attrs(kernel, strides, pads, ceil)
    (ref_max,) = run_node("MaxPool", [x], attrs)
    np.testing.assert_array_equal(max_pool(x, **attrs), ref_max)
    for include in (0, 1):
        (ref_avg,) = run_node("AveragePool", [x], dict(attrs, count_include_pad=include))
        np.testing.assert_allclose(avg_pool(x, **attrs, count_include_pad=include), ref_avg, **TOL)


@pytest.mark.parametrize("dtype", [np.int8, np.uint8])
def test_max_pool_int8(dtype):
    info = np.iinfo(dtype)
    x = np.random.default_rng(4).integers(info.min, info.max, (1, 3, 7, 8), endpoint=True)
    x = x.astype(dtype)
    attrs = _attrs((3, 3), (2, 2), (1, 1, 1, 1), 1)
    (ref,) = run_node("MaxPool", [x], attrs, opset=12)
    got = max_pool(x, **attrs)
    assert got.dtype == dtype
    np.testing.assert_array_equal(got, ref)


def test_ceil_mode_drops_window_starting_in_end_padding():
    # ceil((5 + 6 - 4) / 3) + 1 = 4, but the 4th window would start at 9 >= 5 + 3: dropped.
    assert pool_output_shape([5], [4], [3], [3, 3], ceil_mode=True) == [3]
    assert pool_output_shape([5], [4], [3], [3, 3], ceil_mode=False) == [3]
    assert pool_output_shape([6, 7], [3, 2], [2, 2], [0, 0, 0, 0], [1, 2], True) == [3, 3]
    x = _x(np.random.default_rng(5), 1, 1, 5, 5)
    attrs = _attrs((4, 4), (3, 3), (3, 3, 3, 3), 1)
    (ref,) = run_node("MaxPool", [x], attrs)
    np.testing.assert_array_equal(max_pool(x, **attrs), ref)
    (ref,) = run_node("AveragePool", [x], dict(attrs, count_include_pad=1))
    np.testing.assert_allclose(avg_pool(x, **attrs, count_include_pad=True), ref, **TOL)


@pytest.mark.parametrize("shape", [(2, 3, 5, 6), (1, 4, 7), (1, 2, 3, 4, 5)])
def test_global_pools(shape):
    x = _x(np.random.default_rng(6), *shape)
    (ref,) = run_node("GlobalAveragePool", [x], {})
    np.testing.assert_allclose(global_avg_pool(x), ref, **TOL)
    (ref,) = run_node("GlobalMaxPool", [x], {})
    np.testing.assert_array_equal(global_max_pool(x), ref)


def test_dtypes_and_errors():
    x = _x(np.random.default_rng(7), 1, 2, 6, 6)
    attrs = _attrs((2, 2), (2, 2), (0, 0, 0, 0), 0)
    assert avg_pool(x.astype(np.float64), **attrs).dtype == np.float64
    assert avg_pool(x.astype(np.float16), **attrs).dtype == np.float16
    assert global_avg_pool(x.astype(np.float16)).dtype == np.float16
    with pytest.raises(ValueError, match="pads must have 4"):
        max_pool(x, kernel_shape=[2, 2], strides=[1, 1], pads=[0, 0])
    with pytest.raises(ValueError, match="strides entries"):
        avg_pool(x, kernel_shape=[2, 2], strides=[0, 1], pads=[0, 0, 0, 0])
    with pytest.raises(ValueError, match="smaller than the dilated window"):
        max_pool(x, kernel_shape=[7, 2], strides=[1, 1], pads=[0, 0, 0, 0])
    with pytest.raises(ValueError, match="spatial"):
        max_pool(x[0, 0], kernel_shape=[2], strides=[1], pads=[0, 0])
    with pytest.raises(TypeError):
        avg_pool(x.astype(np.int32), **attrs)


@pytest.mark.parametrize(
    ("kernel", "strides", "pads"),
    [((5, 5), (1, 1), (2, 2, 2, 2)), ((3, 3), (2, 2), (1, 1, 1, 1)), ((1, 1), (1, 1), (0,) * 4),
     ((1, 3), (3, 1), (0, 1, 0, 1)), ((2, 2), (3, 3), (0,) * 4)],
    ids=["sppf-5x5", "resnet-3x3s2", "1x1", "1x3-s3x1", "stride>kernel"],
)
def test_separable_pools_on_network_shapes(kernel, strides, pads):
    """The axis-by-axis reduction on the windows networks use; the result is a fresh array
    (never a view of the input, even for a 1x1 window) and the input is left as it was."""
    x = _x(np.random.default_rng(8), 1, 16, 20, 21)
    before = x.copy()
    attrs = _attrs(kernel, strides, pads, 0)
    (ref_max,) = run_node("MaxPool", [x], attrs)
    got = max_pool(x, **attrs)
    np.testing.assert_array_equal(got, ref_max)
    assert got.flags.c_contiguous and not np.shares_memory(got, x)
    (ref_avg,) = run_node("AveragePool", [x], dict(attrs, count_include_pad=0))
    got = avg_pool(x, **attrs)
    np.testing.assert_allclose(got, ref_avg, **TOL)
    assert got.flags.c_contiguous and not np.shares_memory(got, x)
    np.testing.assert_array_equal(x, before)
