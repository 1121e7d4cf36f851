"""kiln.kernels.space against onnxruntime DepthToSpace / SpaceToDepth."""

from __future__ import annotations

import numpy as np
import pytest
from kiln.kernels.space import depth_to_space, space_to_depth
from ort_single_node import run_node


def _x(shape, dtype=np.float32):
    return np.arange(int(np.prod(shape))).reshape(shape).astype(dtype)


@pytest.mark.parametrize("mode", ["DCR", "CRD"])
@pytest.mark.parametrize(("shape", "b"), [((1, 4, 2, 3), 2), ((2, 8, 3, 2), 2), ((1, 18, 2, 2), 3),
                                          ((2, 3, 4, 5), 1)])
def test_depth_to_space(shape, b, mode):
    x = _x(shape)
    (ref,) = run_node("DepthToSpace", [x], {"blocksize": b, "mode": mode}, opset=13)
    got = depth_to_space(x, blocksize=b, mode=mode)
    assert got.dtype == x.dtype
    np.testing.assert_array_equal(got, ref)


@pytest.mark.parametrize(("shape", "b"), [((1, 1, 4, 6), 2), ((2, 3, 6, 6), 3), ((1, 2, 4, 2), 2)])
def test_space_to_depth(shape, b):
    x = _x(shape)
    (ref,) = run_node("SpaceToDepth", [x], {"blocksize": b}, opset=13)
    np.testing.assert_array_equal(space_to_depth(x, blocksize=b), ref)


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.float64])
def test_roundtrip_and_dtypes(dtype):
    x = _x((2, 3, 4, 6), dtype)
    y = space_to_depth(x, blocksize=2)
    assert y.dtype == dtype and y.shape == (2, 12, 2, 3)
    np.testing.assert_array_equal(depth_to_space(y, blocksize=2, mode="DCR"), x)


def test_errors():
    with pytest.raises(ValueError, match="divisible by blocksize"):
        depth_to_space(_x((1, 6, 2, 2)), blocksize=2, mode="DCR")
    with pytest.raises(ValueError, match="mode"):
        depth_to_space(_x((1, 4, 2, 2)), blocksize=2, mode="RDC")
    with pytest.raises(ValueError, match="divisible by blocksize"):
        space_to_depth(_x((1, 1, 3, 4)), blocksize=2)
    with pytest.raises(ValueError, match="4-D"):
        space_to_depth(_x((1, 4, 4)), blocksize=2)
    with pytest.raises(ValueError, match="blocksize"):
        space_to_depth(_x((1, 1, 4, 4)), blocksize=0)
