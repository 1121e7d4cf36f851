"""kiln.kernels.conv against onnxruntime Conv / ConvTranspose on single-node models."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from kiln.kernels import conv_paths
from kiln.kernels.conv import (
    conv,
    conv_output_shape,
    conv_transpose,
    conv_transpose_output_shape,
    resolve_auto_pad,
    resolve_conv_transpose_pads,
)
from ort_single_node import run_node

TOL = {"rtol": 1e-4, "atol": 1e-5}


def _rand(rng: np.random.Generator, *shape: int) -> np.ndarray:
    return rng.standard_normal(shape).astype(np.float32)


def _conv_attrs(strides, pads, dilations, group):
    return {
        "strides": list(strides),
        "pads": list(pads),
        "dilations": list(dilations),
        "group": group,
    }


# --- Conv 2-D: kernel x stride x pads x dilation x grouping -----------------------------------
# grouping: (C, M, group) -- plain, grouped, depthwise, depthwise with channel multiplier 2.
_GROUPINGS = {"g1": (4, 6, 1), "g2": (4, 6, 2), "dw": (8, 8, 8), "dw_x2": (6, 12, 6)}
_PADS = {"nopad": (0, 0, 0, 0), "sym": (1, 1, 1, 1), "asym": (2, 0, 1, 3)}
_CONV2D = [
    pytest.param(k, s, _PADS[p], d, _GROUPINGS[g], id=f"k{k}-s{s}-{p}-d{d}-{g}")
    for k, s, p, d, g in itertools.product((1, 3, 5), (1, 2), _PADS, (1, 2), _GROUPINGS)
    if not (k == 1 and d == 2)
]


@pytest.mark.parametrize(("k", "s", "pads", "d", "grouping"), _CONV2D)
def test_conv2d(k, s, pads, d, grouping):
    rng = np.random.default_rng(k * 100 + s * 10 + d)
    c, m, g = grouping
    x = _rand(rng, 2, c, 11, 10)
    w = _rand(rng, m, c // g, k, k)
    b = _rand(rng, m)
    attrs = _conv_attrs((s, s), pads, (d, d), g)
    (ref,) = run_node("Conv", [x, w, b], attrs)
    got = conv(x, w, b, **attrs)
    assert got.dtype == np.float32 and got.shape == ref.shape
    np.testing.assert_allclose(got, ref, **TOL)


@pytest.mark.parametrize(
    ("xshape", "wshape", "strides", "pads", "dilations", "group"),
    [
        ((1, 3, 13), (5, 3, 3), (1,), (1, 1), (1,), 1),
        ((2, 4, 17), (4, 2, 5), (2,), (2, 0), (2,), 2),
        ((1, 6, 9), (6, 1, 3), (3,), (0, 2), (1,), 6),
        ((1, 4, 8, 7), (5, 4, 3, 2), (2, 1), (0, 1, 1, 0), (1, 3), 1),  # non-square kernel
        ((1, 2, 6, 7, 5), (4, 2, 3, 3, 2), (1, 2, 1), (1, 0, 1, 1, 1, 0), (1, 1, 2), 1),  # 3-D
        ((1, 4, 5, 6, 6), (4, 1, 3, 3, 3), (2, 1, 2), (1, 1, 1, 1, 1, 1), (1, 1, 1), 4),  # 3-D dw
    ],
    ids=["1d", "1d-grouped", "1d-dw", "2d-rect", "3d", "3d-dw"],
)
def test_conv_1d_3d_and_rect(xshape, wshape, strides, pads, dilations, group):
    rng = np.random.default_rng(len(xshape) + group)
    x, w = _rand(rng, *xshape), _rand(rng, *wshape)
    attrs = _conv_attrs(strides, pads, dilations, group)
    (ref,) = run_node("Conv", [x, w], attrs)
    np.testing.assert_allclose(conv(x, w, **attrs), ref, **TOL)


@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("channels", [32, 96])
def test_conv_depthwise_many_channels(channels, stride):
    rng = np.random.default_rng(channels)
    x, w, b = _rand(rng, 1, channels, 12, 13), _rand(rng, channels, 1, 3, 3), _rand(rng, channels)
    attrs = _conv_attrs((stride, stride), (1, 1, 1, 1), (1, 1), channels)
    (ref,) = run_node("Conv", [x, w, b], attrs)
    np.testing.assert_allclose(conv(x, w, b, **attrs), ref, **TOL)


def test_conv_no_bias_and_initializer_weights():
    rng = np.random.default_rng(7)
    x, w = _rand(rng, 1, 3, 9, 9), _rand(rng, 4, 3, 3, 3)
    attrs = _conv_attrs((1, 1), (1, 1, 1, 1), (1, 1), 1)
    (ref,) = run_node("Conv", [x, w, None], attrs, initializers=[1])
    np.testing.assert_allclose(conv(x, w, None, **attrs), ref, **TOL)


@pytest.mark.parametrize("auto_pad", ["SAME_UPPER", "SAME_LOWER", "VALID", "NOTSET"])
@pytest.mark.parametrize(("n", "k", "s", "d"), [(9, 3, 1, 1), (10, 3, 2, 1), (11, 4, 3, 1),
                                                 (10, 3, 2, 2), (7, 2, 2, 3), (6, 1, 4, 1)])
def test_resolve_auto_pad_matches_ort(auto_pad, n, k, s, d):
    rng = np.random.default_rng(n * k)
    x, w = _rand(rng, 1, 2, n, n + 1), _rand(rng, 3, 2, k, k)
    pads = resolve_auto_pad(auto_pad, [n, n + 1], [k, k], [s, s], [d, d])
    if auto_pad.startswith("SAME") and d > 1:
        # onnxruntime rejects dilation with SAME_*; an explicitly dilated kernel is equivalent.
        w_ort = np.zeros((3, 2, (k - 1) * d + 1, (k - 1) * d + 1), np.float32)
        w_ort[:, :, ::d, ::d] = w
        (ref,) = run_node("Conv", [x, w_ort], {"auto_pad": auto_pad, "strides": [s, s]})
    else:
        attrs = {"auto_pad": auto_pad, "strides": [s, s], "dilations": [d, d]}
        (ref,) = run_node("Conv", [x, w], attrs)
    got = conv(x, w, strides=[s, s], pads=pads, dilations=[d, d], group=1)
    assert got.shape == ref.shape
    np.testing.assert_allclose(got, ref, **TOL)
    if auto_pad.startswith("SAME"):
        assert got.shape[2:] == (-(-n // s), -(-(n + 1) // s))


def test_resolve_auto_pad_notset_passes_pads_through():
    assert resolve_auto_pad("NOTSET", [5], [3], [1], [1], pads=[1, 2]) == [1, 2]
    assert resolve_auto_pad("", [5, 5], [3, 3], [1, 1], [1, 1]) == [0, 0, 0, 0]
    assert resolve_auto_pad("SAME_UPPER", [5], [2], [1], [1]) == [0, 1]
    assert resolve_auto_pad("SAME_LOWER", [5], [2], [1], [1]) == [1, 0]


# --- the strategies of kernels.conv_paths, each against onnxruntime ---------------------------
# (xshape, wshape, strides, pads, dilations, group): big enough for several row blocks.
_PATH_CASES = {
    "3x3": ((2, 6, 13, 12), (5, 6, 3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 1),
    "asym-dil": ((1, 4, 12, 11), (7, 4, 3, 2), (1, 1), (2, 0, 1, 3), (2, 3), 1),
    "5x5-nopad": ((1, 3, 14, 9), (4, 3, 5, 5), (1, 1), (0, 0, 0, 0), (1, 1), 1),
    "1d": ((2, 5, 30), (3, 5, 4), (1,), (2, 1), (2,), 1),
    "3d": ((1, 3, 6, 7, 5), (4, 3, 3, 2, 3), (1, 1, 1), (1, 0, 1, 1, 1, 0), (1, 2, 1), 1),
    "s2": ((2, 6, 13, 12), (5, 6, 3, 3), (2, 2), (1, 1, 1, 1), (1, 1), 1),
    "s2x3-grouped": ((1, 8, 15, 16), (6, 4, 3, 3), (2, 3), (0, 1, 2, 1), (1, 2), 2),
    "3d-s2": ((1, 4, 7, 6, 8), (2, 4, 2, 3, 3), (2, 1, 2), (1, 1, 0, 0, 1, 1), (1, 1, 1), 1),
}
_PATHS = {
    "shifted": lambda x, w, b, a: conv_paths.shifted(x, w, b, a["pads"], a["dilations"], a["o"]),
    "tiled_im2col": lambda x, w, b, a: conv_paths.tiled_im2col(
        x, w, b, a["strides"], a["pads"], a["dilations"], a["group"], a["o"]),
}


def _path_case(name, bias):
    xshape, wshape, strides, pads, dilations, group = _PATH_CASES[name]
    rng = np.random.default_rng(len(name))
    x, w = _rand(rng, *xshape), _rand(rng, *wshape)
    b = _rand(rng, wshape[0]) if bias else None
    attrs = _conv_attrs(strides, pads, dilations, group)
    (ref,) = run_node("Conv", [x, w, b], attrs)
    return x, w, b, dict(attrs, o=list(ref.shape[2:])), ref


def _applies(path: str, case: str) -> bool:
    _, _, strides, _, _, group = _PATH_CASES[case]
    return path != "shifted" or (set(strides) == {1} and group == 1)  # shifted: stride 1, G 1


@pytest.mark.parametrize("block", ["one-row", "whole"])
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize(("path", "case"),
                         [(p, c) for p in _PATHS for c in _PATH_CASES if _applies(p, c)])
def test_conv_paths(path, case, bias, block, monkeypatch):
    if block == "one-row":  # every block is one output row: exercises the block loop
        monkeypatch.setattr(conv_paths, "BLOCK_BYTES", {"shifted": 1, "im2col": 1})
    x, w, b, attrs, ref = _path_case(case, bias)
    x_before = x.copy()
    got = _PATHS[path](x, w, b, attrs)
    assert got.dtype == np.float32 and got.flags.c_contiguous
    np.testing.assert_allclose(got, ref, **TOL)
    np.testing.assert_array_equal(x, x_before)  # the input is never written


@pytest.mark.parametrize(("xshape", "wshape", "group"), [
    ((2, 6, 5, 7), (4, 6, 1, 1), 1),
    ((1, 6, 4, 4), (9, 2, 1, 1), 3),
    ((1, 4, 9), (2, 4, 1), 1),
])
def test_conv_pointwise_path(xshape, wshape, group):
    rng = np.random.default_rng(group)
    x, w, b = _rand(rng, *xshape), _rand(rng, *wshape), _rand(rng, wshape[0])
    nd = len(xshape) - 2
    attrs = _conv_attrs((1,) * nd, (0,) * (2 * nd), (1,) * nd, group)
    (ref,) = run_node("Conv", [x, w, b], attrs)
    np.testing.assert_allclose(conv_paths.pointwise(x, w, b, group), ref, **TOL)
    np.testing.assert_allclose(conv(x, w, b, **attrs), ref, **TOL)


@pytest.mark.parametrize(("c", "m", "hw", "path"), [
    (12, 4, (9, 10), "shifted"), (8, 8, (40, 41), "tiled_im2col"),
    (8, 24, (6, 7), "tiled_im2col"),
], ids=["c>=2m", "c=m", "c<m"])
def test_conv_dispatch_on_shapes(c, m, hw, path, monkeypatch):
    """`conv` on shapes that pick each stride-1 strategy, from a non-contiguous input."""
    used = []
    real = getattr(conv_paths, path)
    monkeypatch.setattr(conv_paths, path, lambda *a: used.append(path) or real(*a))
    rng = np.random.default_rng(c + m)
    x = _rand(rng, 1, hw[1], c, hw[0]).transpose(0, 2, 3, 1)  # a non-contiguous view
    w, b = _rand(rng, m, c, 3, 3), _rand(rng, m)
    attrs = _conv_attrs((1, 1), (1, 1, 1, 1), (1, 1), 1)
    (ref,) = run_node("Conv", [np.ascontiguousarray(x), w, b], attrs)
    np.testing.assert_allclose(conv(x, w, b, **attrs), ref, **TOL)
    assert used == [path]


# --- ConvTranspose --------------------------------------------------------------------------
_CT2D = [
    pytest.param(k, s, p, op, d, g, id=f"k{k}-s{s}-p{''.join(map(str, p))}-op{op}-d{d}-{g}")
    for k, s, p, op, d, g in itertools.product(
        (1, 2, 3), (1, 2, 3), ((0, 0, 0, 0), (1, 0, 0, 1)), (0, 1), (1, 2), ("g1", "g2", "dw")
    )
    if op < s and not (k == 1 and (d == 2 or p[0] > 0))
]


@pytest.mark.parametrize(("k", "s", "pads", "op", "d", "grouping"), _CT2D)
def test_conv_transpose2d(k, s, pads, op, d, grouping):
    rng = np.random.default_rng(k * 100 + s * 10 + d + op)
    c, mg, g = {"g1": (4, 3, 1), "g2": (4, 3, 2), "dw": (6, 1, 6)}[grouping]
    x = _rand(rng, 2, c, 5, 4)
    w = _rand(rng, c, mg, k, k)
    b = _rand(rng, mg * g)
    attrs = dict(_conv_attrs((s, s), pads, (d, d), g), output_padding=[op, op])
    (ref,) = run_node("ConvTranspose", [x, w, b], attrs)
    got = conv_transpose(x, w, b, **attrs)
    assert got.dtype == np.float32 and got.shape == ref.shape
    np.testing.assert_allclose(got, ref, **TOL)


@pytest.mark.parametrize(
    ("xshape", "wshape", "strides", "pads", "dilations", "group", "output_padding"),
    [
        ((1, 3, 7), (3, 2, 3), (2,), (1, 0), (1,), 1, (1,)),
        ((2, 4, 6), (4, 1, 4), (3,), (0, 2), (2,), 4, (2,)),
        ((1, 2, 5, 4), (2, 3, 3, 2), (2, 3), (1, 0, 0, 1), (1, 2), 1, (1, 2)),
        ((1, 2, 3, 4, 3), (2, 3, 2, 2, 3), (2, 1, 2), (0, 1, 0, 1, 0, 1), (1, 2, 1), 1, (1, 0, 0)),
    ],
    ids=["1d", "1d-dw", "2d-rect", "3d"],
)
def test_conv_transpose_1d_3d_and_rect(xshape, wshape, strides, pads, dilations, group,
                                       output_padding):
    rng = np.random.default_rng(len(xshape))
    x, w = _rand(rng, *xshape), _rand(rng, *wshape)
    attrs = dict(_conv_attrs(strides, pads, dilations, group), output_padding=list(output_padding))
    (ref,) = run_node("ConvTranspose", [x, w], attrs)
    np.testing.assert_allclose(conv_transpose(x, w, **attrs), ref, **TOL)


_CT_AUTO = [
    (auto_pad, *case)
    for auto_pad in ("NOTSET", "SAME_UPPER", "SAME_LOWER")
    for case in [(3, 2, 1, 0, None), (3, 2, 1, 1, None), (4, 2, 1, 0, (9, 8)),
                 (3, 2, 2, 1, (10, 9)), (2, 3, 1, 0, (13, 10)), (3, 1, 1, 0, None)]
    if auto_pad != "NOTSET" or case[-1] is not None  # NOTSET without output_shape: plain pads
]


@pytest.mark.parametrize(("auto_pad", "k", "s", "d", "op", "out"), _CT_AUTO)
def test_resolve_conv_transpose_pads_matches_ort(auto_pad, k, s, d, op, out):
    rng = np.random.default_rng(k + s + d)
    x, w = _rand(rng, 1, 2, 5, 4), _rand(rng, 2, 3, k, k)
    attrs = {
        "strides": [s, s],
        "dilations": [d, d],
        "output_padding": [op, op],
        "auto_pad": auto_pad,
        "output_shape": None if out is None else list(out),
    }
    (ref,) = run_node("ConvTranspose", [x, w], attrs)
    pads = resolve_conv_transpose_pads(auto_pad, [5, 4], [k, k], [s, s], [d, d], [op, op], out)
    got = conv_transpose(x, w, strides=[s, s], pads=pads, dilations=[d, d], group=1,
                         output_padding=[op, op])
    assert got.shape == ref.shape
    np.testing.assert_allclose(got, ref, **TOL)


def test_output_shape_helpers():
    assert conv_output_shape([10, 7], [3, 3], strides=[2, 1], pads=[1, 0, 1, 0],
                             dilations=[1, 2]) == [5, 3]
    assert conv_transpose_output_shape([5], [3], strides=[2], pads=[1, 0], dilations=[1],
                                       output_padding=[1]) == [11]
    assert resolve_conv_transpose_pads("VALID", [5], [3], [2], [1]) == [0, 0]
    assert resolve_conv_transpose_pads("NOTSET", [5], [3], [2], [1], pads=[1, 2]) == [1, 2]
    assert resolve_conv_transpose_pads("SAME_UPPER", [5], [3], [2], [1], [0]) == [0, 1]
    assert resolve_conv_transpose_pads("NOTSET", [5], [3], [2], [1], [0], [10]) == [1, 0]
    with pytest.raises(ValueError, match="output_padding"):
        resolve_conv_transpose_pads("NOTSET", [5], [3], [2], [1], [0], [12])


# --- dtypes and errors ---------------------------------------------------------------------
def test_dtypes_preserved():
    rng = np.random.default_rng(0)
    x, w = _rand(rng, 1, 2, 6, 6), _rand(rng, 2, 2, 3, 3)
    attrs = _conv_attrs((1, 1), (1, 1, 1, 1), (1, 1), 1)
    y32 = conv(x, w, **attrs)
    y64 = conv(x.astype(np.float64), w.astype(np.float64), **attrs)
    y16 = conv(x.astype(np.float16), w.astype(np.float16), **attrs)
    assert (y32.dtype, y64.dtype, y16.dtype) == (np.float32, np.float64, np.float16)
    np.testing.assert_allclose(y32, y64, **TOL)
    t_attrs = dict(attrs, output_padding=[0, 0])
    assert conv_transpose(x.astype(np.float64), w.astype(np.float64), **t_attrs).dtype == np.float64
    with pytest.raises(TypeError):
        conv(x.astype(np.int32), w, **attrs)


@pytest.mark.parametrize(
    ("xshape", "wshape", "kw", "match"),
    [
        ((1, 6, 5, 5), (4, 2, 3, 3), {"group": 4}, "divisible by group"),
        ((1, 6, 5, 5), (6, 3, 3, 3), {"group": 3}, r"w.shape\[1\]"),
        ((1, 4, 5, 5), (4, 4, 3, 3), {"pads": [1, 1]}, "pads must have 4"),
        ((1, 4, 5, 5), (4, 4, 3, 3), {"strides": [0, 1]}, "strides entries"),
        ((1, 4, 2, 2), (4, 4, 3, 3), {}, "smaller than the dilated kernel"),
        ((1, 4, 5, 5), (4, 4, 3), {}, "rank"),
        ((4, 5, 5), (4, 4, 3, 3), {}, "rank"),
    ],
)
def test_conv_errors(xshape, wshape, kw, match):
    attrs = dict(_conv_attrs((1, 1), (0, 0, 0, 0), (1, 1), 1), **kw)
    with pytest.raises(ValueError, match=match):
        conv(np.zeros(xshape, np.float32), np.zeros(wshape, np.float32), **attrs)


def test_conv_transpose_errors():
    attrs = dict(_conv_attrs((1, 1), (0, 0, 0, 0), (1, 1), 3), output_padding=[0, 0])
    with pytest.raises(ValueError, match="divisible by group"):
        conv_transpose(np.zeros((1, 4, 3, 3), np.float32), np.zeros((4, 1, 2, 2), np.float32),
                       **attrs)
    attrs = dict(attrs, group=1)
    with pytest.raises(ValueError, match="input channels"):
        conv_transpose(np.zeros((1, 4, 3, 3), np.float32), np.zeros((3, 1, 2, 2), np.float32),
                       **attrs)
    with pytest.raises(ValueError, match="bias"):
        conv_transpose(np.zeros((1, 4, 3, 3), np.float32), np.zeros((4, 2, 2, 2), np.float32),
                       np.zeros(3, np.float32), **attrs)
    with pytest.raises(ValueError, match="empty"):
        conv_transpose(np.zeros((1, 4, 1, 1), np.float32), np.zeros((4, 2, 1, 1), np.float32),
                       **dict(attrs, pads=[1, 0, 0, 0]))
