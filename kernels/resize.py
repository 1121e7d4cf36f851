"""Float reference kernel for ONNX ``Resize`` (opset 11-19 attribute semantics).

Any layout/rank: ``sizes`` is the full output shape. The resize is separable, so it is done one
axis at a time: per axis, a 1-D table of source coordinates is computed, turned into integer
index arrays plus weights, and applied with ``np.take`` and a weighted sum (2 taps for linear,
4 for cubic, 1 for nearest). No Python loop over pixels or channels.

Numerics follow onnxruntime's CPU kernel, so results match it bit-for-bit in index selection:

* coordinates are computed in float32 with the same operation order (half_pixel_symmetric and
  tf_crop_and_resize in mixed float64 where onnxruntime uses double);
* the per-axis scale is ``scales[i]`` when given (as float32), else ``sizes[i] / in[i]``;
* an axis whose scale is exactly 1 is copied unchanged (no coordinate transform), as onnxruntime
  does; this only matters for tf_half_pixel_for_nn and tf_crop_and_resize;
* nearest rounding treats a fraction within 1e-6 of .5 as a tie (as onnxruntime does);
* linear clamps the source coordinate to ``[0, in - 1]``; nearest clamps the index; cubic clamps
  tap indices to the edge (or drops and renormalizes them with ``exclude_outside``);
* with tf_crop_and_resize, outputs whose source coordinate leaves ``[0, in - 1]`` on any axis are
  ``extrapolation_value``.

Known difference: onnxruntime returns the input unchanged whenever the output shape equals the
input shape, even if a ``scales`` entry is not 1 (e.g. 1.1 on a dim of 5); this kernel applies
the given scale, as the ONNX spec says. The importer should derive ``sizes`` from ``scales`` the
way onnxruntime does, ``int(float32(scale) * float32(dim))``, to get the same output shape.

Not supported: ``antialias`` (opset 18); ``axes``/``keep_aspect_ratio_policy`` are the
importer's job (it passes the final full ``sizes`` and ``scales``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["resize", "resize_coordinates"]

_F = np.float32
_TIE_EPS = _F(1e-6)
_MODES = ("nearest", "linear", "cubic")
_COORD_MODES = (
    "half_pixel",
    "half_pixel_symmetric",
    "pytorch_half_pixel",
    "align_corners",
    "asymmetric",
    "tf_half_pixel_for_nn",
    "tf_crop_and_resize",
)
_NEAREST_MODES = ("round_prefer_floor", "round_prefer_ceil", "floor", "ceil")


def resize_coordinates(
    out_len: int,
    in_len: int,
    scale: float,
    coordinate_transformation_mode: str,
    roi_start: float = 0.0,
    roi_end: float = 1.0,
) -> np.ndarray:
    """Source coordinate (float32, shape ``(out_len,)``) of each output index along one axis."""
    xr = np.arange(out_len, dtype=_F)
    s, lo, lr = _F(scale), _F(in_len), _F(out_len)
    mode = coordinate_transformation_mode
    if mode == "half_pixel":
        return (xr + _F(0.5)) / s - _F(0.5)
    if mode == "pytorch_half_pixel":
        if out_len > 1:
            return (xr + _F(0.5)) / s - _F(0.5)
        return np.zeros(out_len, dtype=_F)
    if mode == "asymmetric":
        return xr / s
    if mode == "tf_half_pixel_for_nn":
        return (xr + _F(0.5)) / s
    if mode == "align_corners":
        if out_len == 1:
            return np.zeros(out_len, dtype=_F)
        return xr * (lo - _F(1)) / (lr - _F(1))
    if mode == "tf_crop_and_resize":
        r0, r1 = _F(roi_start), _F(roi_end)
        if out_len > 1:
            return r0 * (lo - _F(1)) + (xr * (r1 - r0) * (lo - _F(1))) / (lr - _F(1))
        return np.full(out_len, 0.5 * float(r0 + r1) * float(lo - _F(1)), dtype=_F)
    if mode == "half_pixel_symmetric":
        adjustment = lr / (s * lo)
        offset = (lo / _F(2)) * (_F(1) - adjustment)
        return (float(offset) + (xr.astype(np.float64) + 0.5) / float(s) - 0.5).astype(_F)
    raise ValueError(
        f"unknown coordinate_transformation_mode {mode!r}; expected one of {_COORD_MODES}"
    )


def _nearest_index(c: np.ndarray, nearest_mode: str) -> np.ndarray:
    fl = np.floor(c)
    frac = c - fl  # exact in float32
    # A float32 coordinate that is mathematically a tie (e.g. 2 / (4/7) = 3.5) can land an ulp
    # or two off .5; onnxruntime (since the fix for its issue #28291) treats fractions within
    # 1e-6 of .5 as ties, and so do we.
    tie = np.abs(frac - _F(0.5)) <= _TIE_EPS
    if nearest_mode == "round_prefer_floor":
        idx = fl + ((frac > 0.5) & ~tie)
    elif nearest_mode == "round_prefer_ceil":
        idx = fl + ((frac > 0.5) | tie)
    elif nearest_mode == "floor":
        idx = fl
    elif nearest_mode == "ceil":
        idx = np.ceil(c)
    else:
        raise ValueError(f"unknown nearest_mode {nearest_mode!r}; expected one of {_NEAREST_MODES}")
    return idx.astype(np.int64)


def _cubic_coeffs(s: np.ndarray, a: np.float32) -> np.ndarray:
    """Keys cubic weights for taps ``floor - 1 .. floor + 2``; ``s`` is the fraction."""
    s1, t, t1 = s + _F(1), _F(1) - s, _F(2) - s
    c0 = ((a * s1 - _F(5) * a) * s1 + _F(8) * a) * s1 - _F(4) * a
    c1 = ((a + _F(2)) * s - (a + _F(3))) * s * s + _F(1)
    c2 = ((a + _F(2)) * t - (a + _F(3))) * t * t + _F(1)
    c3 = ((a * t1 - _F(5) * a) * t1 + _F(8) * a) * t1 - _F(4) * a
    return np.stack([c0, c1, c2, c3], axis=1)  # (out_len, 4)


def _along(w: np.ndarray, axis: int, ndim: int) -> np.ndarray:
    shape = [1] * ndim
    shape[axis] = w.shape[0]
    return w.reshape(shape)


def _resize_axis(
    y: np.ndarray, axis: int, coords: np.ndarray, mode: str, nearest_mode: str,
    cubic_coeff_a: float, exclude_outside: bool,
) -> np.ndarray:
    n = y.shape[axis]
    if mode == "nearest":
        return np.take(y, np.clip(_nearest_index(coords, nearest_mode), 0, n - 1), axis=axis)
    if mode == "linear":
        c = np.clip(coords, _F(0), _F(n - 1))
        i0 = np.minimum(c.astype(np.int64), n - 1)
        i1 = np.minimum(i0 + 1, n - 1)
        f = _along((c - i0.astype(_F)).astype(y.dtype), axis, y.ndim)
        return np.take(y, i0, axis=axis) * (1 - f) + np.take(y, i1, axis=axis) * f
    fl = np.floor(coords)
    taps = fl.astype(np.int64)[:, None] + np.arange(-1, 3)[None, :]  # (out_len, 4)
    coeff = _cubic_coeffs(coords - fl, _F(cubic_coeff_a))
    if exclude_outside:
        coeff = np.where((taps < 0) | (taps >= n), _F(0), coeff)
        coeff = coeff / coeff.sum(axis=1, keepdims=True)
    taps = np.clip(taps, 0, n - 1)
    out = None
    for j in range(4):  # the four cubic taps
        term = np.take(y, taps[:, j], axis=axis) * _along(coeff[:, j].astype(y.dtype), axis, y.ndim)
        out = term if out is None else out + term
    return out


def resize(
    x: np.ndarray,
    *,
    sizes: Sequence[int],
    mode: str,
    coordinate_transformation_mode: str,
    nearest_mode: str,
    cubic_coeff_a: float = -0.75,
    exclude_outside: bool = False,
    extrapolation_value: float = 0.0,
    scales: Sequence[float] | None = None,
    roi: Sequence[float] | None = None,
) -> np.ndarray:
    """ONNX Resize of ``x`` (any rank) to the full shape ``sizes``.

    ``mode``: nearest | linear | cubic (n-D, separable). ``scales`` (full rank, optional) are
    the scales the importer used to derive ``sizes``; when given they drive the coordinate
    transform. ``roi`` (``[starts..., ends...]``, full rank) is only read by
    tf_crop_and_resize (default: the whole input). ``nearest_mode`` is ignored unless
    ``mode == "nearest"``. The float dtype is preserved (nearest also accepts integers).
    """
    x = np.asarray(x)
    nd = x.ndim
    sizes = [int(s) for s in sizes]
    if len(sizes) != nd or any(s < 1 for s in sizes):
        raise ValueError(f"sizes must be {nd} positive ints (the full output shape), got {sizes}")
    if mode not in _MODES:
        raise ValueError(f"unknown resize mode {mode!r}; expected one of {_MODES}")
    if coordinate_transformation_mode not in _COORD_MODES:
        raise ValueError(
            f"unknown coordinate_transformation_mode {coordinate_transformation_mode!r}; "
            f"expected one of {_COORD_MODES}"
        )
    if mode == "nearest" and nearest_mode not in _NEAREST_MODES:
        raise ValueError(f"unknown nearest_mode {nearest_mode!r}; expected one of {_NEAREST_MODES}")
    if mode != "nearest" and not np.issubdtype(x.dtype, np.floating):
        raise TypeError(f"{mode} resize takes floating-point arrays, got {x.dtype}")
    if scales is not None:
        scales = [float(s) for s in scales]
        if len(scales) != nd or any(s <= 0 for s in scales):
            raise ValueError(f"scales must be {nd} positive floats, got {scales}")
    crop = coordinate_transformation_mode == "tf_crop_and_resize"
    if roi is None or len(roi) == 0:
        roi = [0.0] * nd + [1.0] * nd
    if len(roi) != 2 * nd:
        raise ValueError(f"roi must have {2 * nd} entries [starts..., ends...], got {len(roi)}")

    # linear/cubic blend in float32 (float64 stays float64); nearest just gathers.
    if mode == "nearest" or x.dtype == np.float64:
        y = x
    else:
        y = x.astype(_F)
    outside = np.zeros((1,) * nd, dtype=bool)
    for axis in range(nd):
        n_in, n_out = x.shape[axis], sizes[axis]
        scale = _F(scales[axis]) if scales is not None else _F(n_out) / _F(n_in)
        if scale == 1:
            if n_out != n_in:
                raise ValueError(f"axis {axis}: scale 1 but size {n_in} -> {n_out}")
            continue
        coords = resize_coordinates(
            n_out, n_in, scale, coordinate_transformation_mode, roi[axis], roi[nd + axis]
        )
        if crop:
            outside = outside | _along((coords < 0) | (coords > n_in - 1), axis, nd)
        y = _resize_axis(y, axis, coords, mode, nearest_mode, cubic_coeff_a, exclude_outside)
    if crop and outside.any():
        y = np.where(outside, np.asarray(extrapolation_value).astype(y.dtype), y)
    return np.ascontiguousarray(y, dtype=x.dtype)
