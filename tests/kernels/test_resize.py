"""kiln.kernels.resize against onnxruntime Resize (opset 19) on single-node models."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from kiln.kernels.resize import resize, resize_coordinates
from ort_single_node import run_node

TOL = {"rtol": 1e-4, "atol": 1e-5}
OPSET = 19
COORD_MODES = ["half_pixel", "half_pixel_symmetric", "pytorch_half_pixel", "align_corners",
               "asymmetric", "tf_half_pixel_for_nn"]
NEAREST_MODES = ["round_prefer_floor", "round_prefer_ceil", "floor", "ceil"]
SHAPE = (2, 3, 5, 7)
# ("scales", full scales) goes through Resize's scales input; ("sizes", full shape) through sizes.
SCALINGS = {
    "up2": ("scales", (1, 1, 2.0, 2.0)),
    "up_frac": ("scales", (1, 1, 1.5, 1.7)),
    "down2": ("scales", (1, 1, 0.5, 0.5)),
    "down_frac": ("scales", (1, 1, 0.6, 0.45)),
    "mixed": ("scales", (1, 1, 0.75, 2.3)),
    "sizes_up": ("sizes", (2, 3, 9, 10)),
    "sizes_down": ("sizes", (2, 3, 3, 4)),
}


def _x(shape, seed=0, dtype=np.float32):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def _ort_sizes(shape, scales):
    # onnxruntime: static_cast<int64_t>(float(scale) * float(dim)).
    return [int(np.float32(s) * np.float32(n)) for s, n in zip(scales, shape)]


def _check(x, kind, value, attrs, roi=None, tol=TOL):
    """Run onnxruntime with scales or sizes, then the kernel with what the importer would pass."""
    roi_arr = None if roi is None else np.asarray(roi, np.float32)
    if kind == "scales":
        scales = np.asarray(value, np.float32)
        (ref,) = run_node("Resize", [x, roi_arr, scales], attrs, opset=OPSET, initializers=[1, 2])
        kw = {"sizes": _ort_sizes(x.shape, value), "scales": list(value)}
    else:
        sizes = np.asarray(value, np.int64)
        (ref,) = run_node("Resize", [x, roi_arr, None, sizes], attrs, opset=OPSET,
                          initializers=[1, 3])
        kw = {"sizes": list(value)}
    full = {"mode": "nearest", "coordinate_transformation_mode": "half_pixel",
                "nearest_mode": "round_prefer_floor"}
    full.update(attrs)
    got = resize(x, **full, **kw, roi=roi)
    assert got.shape == ref.shape and got.dtype == x.dtype
    if np.issubdtype(x.dtype, np.floating) and attrs.get("mode") != "nearest":
        np.testing.assert_allclose(got, ref, **tol)
    else:
        np.testing.assert_array_equal(got, ref)


@pytest.mark.parametrize("scaling", SCALINGS)
@pytest.mark.parametrize("nearest_mode", NEAREST_MODES)
@pytest.mark.parametrize("ctm", COORD_MODES)
def test_nearest(ctm, nearest_mode, scaling):
    attrs = {"mode": "nearest", "coordinate_transformation_mode": ctm, "nearest_mode": nearest_mode}
    _check(_x(SHAPE), *SCALINGS[scaling], attrs)


@pytest.mark.parametrize("scaling", SCALINGS)
@pytest.mark.parametrize("ctm", COORD_MODES)
def test_linear(ctm, scaling):
    attrs = {"mode": "linear", "coordinate_transformation_mode": ctm}
    _check(_x(SHAPE, 1), *SCALINGS[scaling], attrs)


@pytest.mark.parametrize(("exclude", "a"), [(0, -0.75), (1, -0.75), (0, -0.5), (1, -0.5)])
@pytest.mark.parametrize("scaling", SCALINGS)
@pytest.mark.parametrize("ctm", COORD_MODES)
def test_cubic(ctm, scaling, exclude, a):
    attrs = {"mode": "cubic", "coordinate_transformation_mode": ctm, "cubic_coeff_a": a,
                 "exclude_outside": exclude}
    _check(_x(SHAPE, 2), *SCALINGS[scaling], attrs)


_CROP = [
    pytest.param(mode, roi, scaling, id=f"{mode}-{rn}-{scaling}")
    for mode, (rn, roi), scaling in itertools.product(
        ["nearest", "linear", "cubic"],
        [
            ("inside", (0, 0, 0.2, 0.1, 1, 1, 0.8, 0.7)),
            ("outside", (0, 0, -0.3, 0.4, 1, 1, 1.2, 1.5)),
        ],
        ["up_frac", "down_frac", "sizes_up"],
    )
]


@pytest.mark.parametrize(("mode", "roi", "scaling"), _CROP)
def test_tf_crop_and_resize(mode, roi, scaling):
    attrs = {"mode": mode, "coordinate_transformation_mode": "tf_crop_and_resize",
                 "extrapolation_value": -7.5}
    _check(_x(SHAPE, 3), *SCALINGS[scaling], attrs, roi=roi)


@pytest.mark.parametrize(
    ("shape", "kind", "value", "mode"),
    [
        ((4, 6), "scales", (1.5, 0.5), "linear"),  # 2-D bilinear
        ((5, 6), "sizes", (8, 3), "cubic"),  # 2-D bicubic
        ((1, 2, 3, 4, 5), "scales", (1, 1, 2.0, 1.5, 0.6), "linear"),  # trilinear
        ((1, 2, 3, 4, 5), "scales", (1, 1, 2.0, 1.5, 0.6), "nearest"),
        ((2, 4, 6), "scales", (1.5, 0.5, 1.7), "nearest"),  # N and C resized too
        ((3, 4, 5, 6), "sizes", (2, 7, 5, 9), "nearest"),
        ((7,), "sizes", (12,), "nearest"),
    ],
    ids=["2d-linear", "2d-cubic", "5d-linear", "5d-nearest", "3d-all-axes", "4d-nc", "1d"],
)
@pytest.mark.parametrize("ctm", ["half_pixel", "align_corners", "asymmetric"])
def test_other_ranks(shape, kind, value, mode, ctm):
    attrs = {"mode": mode, "coordinate_transformation_mode": ctm}
    _check(_x(shape, 4), kind, value, attrs)


@pytest.mark.parametrize("dtype", [np.uint8, np.int8])
@pytest.mark.parametrize("scaling", ["up_frac", "down_frac"])
def test_nearest_integer(dtype, scaling):
    x = np.random.default_rng(5).integers(-100, 100, SHAPE).astype(dtype)
    attrs = {
        "mode": "nearest",
        "coordinate_transformation_mode": "asymmetric",
        "nearest_mode": "floor",
    }
    _check(x, *SCALINGS[scaling], attrs)


def test_float16_and_float64_preserved():
    x = _x(SHAPE, 6)
    common = {
        "sizes": [2, 3, 8, 9],
        "mode": "linear",
        "coordinate_transformation_mode": "half_pixel",
        "nearest_mode": "floor",
    }
    y32 = resize(x, **common)
    assert resize(x.astype(np.float16), **common).dtype == np.float16
    y64 = resize(x.astype(np.float64), **common)
    assert y64.dtype == np.float64
    np.testing.assert_allclose(y64, y32, **TOL)


def test_coordinates():
    np.testing.assert_array_equal(resize_coordinates(4, 2, 2.0, "asymmetric"), [0, 0.5, 1, 1.5])
    np.testing.assert_array_equal(resize_coordinates(4, 2, 2.0, "half_pixel"),
                                  [-0.25, 0.25, 0.75, 1.25])
    np.testing.assert_array_equal(resize_coordinates(3, 2, 1.5, "align_corners"), [0, 0.5, 1])
    np.testing.assert_array_equal(resize_coordinates(1, 5, 0.2, "pytorch_half_pixel"), [0])


@pytest.mark.parametrize(
    ("kw", "exc", "match"),
    [
        ({"sizes": [2, 3, 10]}, ValueError, "sizes must be 4"),
        ({"mode": "bilinear"}, ValueError, "unknown resize mode"),
        ({"coordinate_transformation_mode": "corners"}, ValueError, "coordinate_transformation"),
        ({"nearest_mode": "round"}, ValueError, "nearest_mode"),
        ({"scales": [1, 1, 2]}, ValueError, "scales must be 4"),
        ({"roi": [0, 1]}, ValueError, "roi must have 8"),
    ],
)
def test_errors(kw, exc, match):
    args = {
        "sizes": [2, 3, 10, 14],
        "mode": "nearest",
        "coordinate_transformation_mode": "half_pixel",
        "nearest_mode": "floor",
    }
    args.update(kw)
    with pytest.raises(exc, match=match):
        resize(_x(SHAPE), **args)


def test_linear_rejects_integers():
    with pytest.raises(TypeError):
        resize(np.zeros(SHAPE, np.int8), sizes=[2, 3, 10, 14], mode="linear",
               coordinate_transformation_mode="half_pixel", nearest_mode="floor")


@pytest.mark.parametrize(("n", "o", "ctm"), [(20, 6, "half_pixel"), (7, 4, "asymmetric"),
                                             (10, 6, "tf_half_pixel_for_nn")])
@pytest.mark.parametrize("nearest_mode", ["round_prefer_ceil", "round_prefer_floor"])
def test_nearest_exact_ties(n, o, ctm, nearest_mode):
    # The float32 coordinate of a mathematical .5 tie lands an ulp off (onnxruntime issue #28291).
    x = np.arange(n, dtype=np.float32).reshape(1, 1, 1, n)
    attrs = {"mode": "nearest", "coordinate_transformation_mode": ctm, "nearest_mode": nearest_mode}
    _check(x, "sizes", (1, 1, 1, o), attrs)
