"""Normalization kernels against onnxruntime single-node models."""

from __future__ import annotations

import math

import numpy as np
import pytest
from kiln.kernels import normalization as N
from ort_single_node import ort

RNG = np.random.default_rng(2)



def close(got: np.ndarray, want: np.ndarray) -> None:
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    assert got.shape == want.shape, (got.shape, want.shape)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def rand(shape: tuple[int, ...], scale: float = 1.0, offset: float = 0.0) -> np.ndarray:
    return (RNG.standard_normal(shape) * scale + offset).astype(np.float32)


@pytest.mark.parametrize("shape", [(2, 3), (2, 3, 5), (1, 4, 3, 3), (2, 2, 2, 3, 2)], ids=str)
@pytest.mark.parametrize("epsilon", [1e-5, 1e-3])
def test_batch_norm(shape, epsilon):
    c = shape[1]
    x = rand(shape, 3.0, 1.0)
    scale, bias, mean = rand((c,)), rand((c,)), rand((c,))
    var = RNG.uniform(0.1, 2.0, c).astype(np.float32)
    got = N.batch_norm(x, scale, bias, mean, var, epsilon=epsilon)
    close(
        got, ort("BatchNormalization", [x, scale, bias, mean, var], {"epsilon": epsilon}, opset=15)
    )


def test_batch_norm_errors():
    x = rand((2, 3, 4))
    ok = np.ones(3, np.float32)
    with pytest.raises(ValueError, match="mean"):
        N.batch_norm(x, ok, ok, np.ones(4, np.float32), ok)
    with pytest.raises(ValueError, match="rank"):
        N.batch_norm(rand((3,)), ok, ok, ok, ok)


@pytest.mark.parametrize(
    "shape,axis",
    [((4, 8), -1), ((2, 3, 8), -1), ((2, 3, 8), 1), ((2, 3, 4, 5), 2), ((2, 3, 4), 0), ((6,), 0)],
    ids=str,
)
@pytest.mark.parametrize("with_bias", [True, False])
def test_layer_norm(shape, axis, with_bias):
    x = rand(shape, 2.0, 5.0)
    norm_shape = shape[axis % len(shape) :]
    scale = rand(norm_shape)
    bias = rand(norm_shape) if with_bias else None
    got = N.layer_norm(x, scale, bias, axis=axis, epsilon=1e-5)
    want = ort("LayerNormalization", [x, scale, bias], {"axis": axis, "epsilon": 1e-5})
    close(got, want)


def test_layer_norm_broadcast_scale_and_large_offset():
    x = rand((2, 3, 16), 1.0, 1000.0)  # a large mean must not cost precision
    scale = rand((16,))
    bias = np.array([0.5], np.float32)
    got = N.layer_norm(x, scale, bias, axis=1)
    close(
        got,
        ort(
            "LayerNormalization",
            [x, np.broadcast_to(scale, (3, 16)).copy(), np.full((3, 16), 0.5, np.float32)],
            {"axis": 1},
        ),
    )
    with pytest.raises(ValueError, match="scale"):
        N.layer_norm(x, np.ones(5, np.float32), axis=-1)


@pytest.mark.parametrize("shape", [(2, 3, 5), (1, 4, 3, 3), (2, 2, 2, 3, 2)], ids=str)
def test_instance_norm(shape):
    x = rand(shape, 2.0, -3.0)
    scale, bias = rand((shape[1],)), rand((shape[1],))
    got = N.instance_norm(x, scale, bias, epsilon=1e-5)
    close(got, ort("InstanceNormalization", [x, scale, bias], {"epsilon": 1e-5}))


@pytest.mark.parametrize("p", [1, 2])
@pytest.mark.parametrize("axis", [0, 1, -1])
def test_lp_normalization(axis, p):
    x = rand((3, 4, 5))
    x[0, 0, :] = 0  # an all-zero slice stays zero, as in onnxruntime
    x[:, 0, 0] = 0
    got = N.lp_normalization(x, axis=axis, p=p)
    close(got, ort("LpNormalization", [x], {"axis": axis, "p": p}))
    with pytest.raises(ValueError, match="p must"):
        N.lp_normalization(x, p=3)


def lrn_by_the_spec(x: np.ndarray, size: int, alpha: float, beta: float,
                    bias: float) -> np.ndarray:
    """The ONNX LRN formula, one channel at a time, in float64. (onnx's own reference
    evaluator loops over the batch instead of the channels, so it is no oracle.)"""
    x64 = x.astype(np.float64)
    out = np.empty_like(x64)
    channels = x.shape[1]
    for c in range(channels):
        lo = max(0, c - (size - 1) // 2)
        hi = min(channels - 1, c + math.ceil((size - 1) / 2))
        square_sum = np.sum(x64[:, lo:hi + 1] ** 2, axis=1)
        out[:, c] = x64[:, c] / (bias + alpha / size * square_sum) ** beta
    return out.astype(x.dtype)


@pytest.mark.parametrize("size", [1, 3, 5, 7])
def test_lrn(size):
    x = rand((2, 6, 4, 5), scale=2.0)
    attrs = {"size": size, "alpha": 0.05, "beta": 0.75, "bias": 2.0}
    got = N.lrn(x, size=size, alpha=0.05, beta=0.75, bias=2.0)
    close(got, ort("LRN", [x], attrs, opset=13))


@pytest.mark.parametrize("size", [2, 3, 4])
@pytest.mark.parametrize("shape", [(1, 5, 3), (1, 3, 2, 2, 2), (2, 6, 3, 3)])
def test_lrn_even_sizes_and_other_ranks(shape, size):
    """onnxruntime takes 4-D inputs and odd sizes only: the formula is the oracle here (the
    window is c - floor((size-1)/2) .. c + ceil((size-1)/2))."""
    x = rand(shape, scale=2.0)
    attrs = {"size": size, "alpha": 0.05, "beta": 0.75, "bias": 2.0}
    close(N.lrn(x, **attrs), lrn_by_the_spec(x, **attrs))
    if len(shape) == 4 and size % 2:
        close(lrn_by_the_spec(x, **attrs), ort("LRN", [x], attrs, opset=13))


def test_lrn_defaults_and_errors():
    x = rand((1, 8, 3, 3), scale=10.0)
    close(N.lrn(x, size=5), ort("LRN", [x], {"size": 5}, opset=13))
    with pytest.raises(ValueError, match="size must be >= 1"):
        N.lrn(x, size=0)
    with pytest.raises(ValueError, match="rank >= 2"):
        N.lrn(np.zeros(3, np.float32), size=3)
