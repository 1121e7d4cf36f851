"""Builders for Resize (opsets 10 to 19+) and the deprecated Upsample (opsets 7 to 9).

Both become one `top.resize` whose `sizes` (full output shape) and `scales` (full rank, the
ones the coordinate transform uses) are resolved here, following onnxruntime:

* from scales: `size = int(float32(scale) * float32(dim))` (also for tf_crop_and_resize, where
  onnxruntime ignores the roi when sizing the output; the ONNX spec would scale it by the roi
  extent);
* from sizes: `scale = float32(size) / float32(dim)`; with `keep_aspect_ratio_policy`
  not_larger / not_smaller one scale (the min / max of those over `axes`) is used for every
  axis in `axes` and `size = roundf(scale * dim)`;
* Resize-10 and Upsample use asymmetric coordinates and onnxruntime's "simple" nearest
  rounding: floor when upsampling an axis, ceil when downsampling it (an op mixing both is
  lowered to two resizes, one per direction, which is exact since nearest is separable).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ...dialects import top
from ...dialects.top.resize import COORD_MODES, MODES, NEAREST_MODES, resize_enum
from .registry import onnx_op

_F = np.float32
_POLICIES = ("stretch", "not_larger", "not_smaller")


def _shortest_f32(value: float) -> float:
    """A float32 value as the shortest Python float that reads back to it (prints nicely)."""
    return float(str(_F(value)))


def _given(ctx, ref, what: str) -> np.ndarray | None:
    """A static optional input, None when omitted or empty (ONNX's 'not given')."""
    if ref is None:
        return None
    array = ctx.static(ref, what)
    return None if array.size == 0 else array.reshape(-1)


def _normalize_axes(axes: Sequence[int] | None, rank: int) -> list[int]:
    if axes is None:
        return list(range(rank))
    out = [int(a) + rank if int(a) < 0 else int(a) for a in axes]
    if any(not 0 <= a < rank for a in out) or len(set(out)) != len(out):
        raise ValueError(f"axes {list(axes)} must be distinct axes of a rank-{rank} input")
    return out


def _sizes_from_scales(shape: tuple[int, ...], scales: list[float]) -> list[int]:
    sizes = [int(_F(s) * _F(d)) for s, d in zip(scales, shape)]
    if any(n < 1 for n in sizes):
        raise ValueError(f"scales {scales} give an empty output from input shape {shape}")
    return sizes


def _from_sizes(shape: tuple[int, ...], axes: list[int], given: np.ndarray,
                policy: str) -> tuple[list[int], list[float]]:
    """Full (sizes, scales) from a `sizes` input over `axes` and keep_aspect_ratio_policy."""
    if policy not in _POLICIES:
        raise ValueError(f"keep_aspect_ratio_policy must be one of {', '.join(_POLICIES)}, "
                         f"got {policy!r}")
    if any(int(v) < 1 for v in given):
        raise ValueError(f"Resize sizes must be positive, got {given.tolist()}")
    sizes, scales = list(shape), [1.0] * len(shape)
    ratios = [_F(int(v)) / _F(shape[a]) for a, v in zip(axes, given)]
    if policy == "stretch":
        for a, v, r in zip(axes, given, ratios):
            sizes[a], scales[a] = int(v), float(r)
        return sizes, scales
    scale = min(ratios) if policy == "not_larger" else max(ratios)
    for a in axes:
        sizes[a] = int(np.floor(scale * _F(shape[a]) + _F(0.5)))  # C roundf, values > 0
        scales[a] = float(scale)
    return sizes, scales


def _full_roi(roi: np.ndarray | None, axes: list[int], rank: int) -> tuple[float, ...]:
    full = [0.0] * rank + [1.0] * rank
    if roi is None:
        return tuple(full)
    if roi.size != 2 * len(axes):
        raise ValueError(f"roi has {roi.size} values; {2 * len(axes)} expected "
                         f"(starts and ends of {len(axes)} axes)")
    for k, a in enumerate(axes):
        full[a] = _shortest_f32(roi[k])  # the kernel reads roi as float32
        full[rank + a] = _shortest_f32(roi[len(axes) + k])
    return tuple(full)


def _emit_resize(ctx, x, sizes: list[int], scales: list[float], mode: str, coord: str,
                 loc: str | None = None, **extra):
    """Emit top.resize (attributes the mode does not read are left out)."""
    attrs = {"sizes": tuple(int(s) for s in sizes),
             "scales": tuple(_shortest_f32(s) for s in scales),
             "mode": resize_enum("mode", mode),
             "coordinate_transformation_mode": resize_enum("coordinate_transformation_mode",
                                                           coord)}
    if "nearest_mode" in extra:
        extra["nearest_mode"] = resize_enum("nearest_mode", extra["nearest_mode"])
    return ctx.emit(top.ResizeOp, [x], loc=loc, **attrs, **extra)


def _legacy_resize(ctx, x, scales: list[float], mode: str):
    """Resize-10 / Upsample: asymmetric coordinates, nearest floors when upsampling an axis
    and ceils when downsampling it."""
    if mode not in ("nearest", "linear"):
        raise ValueError(f"mode must be nearest or linear, got {mode!r}")
    if any(not s > 0 for s in scales):
        raise ValueError(f"scales must be positive, got {scales}")
    sizes = _sizes_from_scales(x.shape, scales)
    if mode == "linear":
        return _emit_resize(ctx, x, sizes, scales, "linear", "asymmetric")
    up = [_F(s) > 1 for s in scales]
    down = [_F(s) < 1 for s in scales]
    if not any(down) or not any(up):
        rounding = "ceil" if any(down) else "floor"
        return _emit_resize(ctx, x, sizes, scales, "nearest", "asymmetric",
                            nearest_mode=rounding)
    # Upsample the growing axes first (floor), then shrink the others (ceil).
    first_scales = [s if u else 1.0 for s, u in zip(scales, up)]
    first = _emit_resize(ctx, x, _sizes_from_scales(x.shape, first_scales), first_scales,
                         "nearest", "asymmetric", loc=ctx.sub_loc("up"), nearest_mode="floor")
    second_scales = [s if d else 1.0 for s, d in zip(scales, down)]
    return _emit_resize(ctx, first, sizes, second_scales, "nearest", "asymmetric",
                        nearest_mode="ceil")


@onnx_op("Resize")
def resize(ctx, node, x, roi=None, scales=None, sizes=None, *, antialias=0, axes=None,
           coordinate_transformation_mode="half_pixel", cubic_coeff_a=-0.75,
           exclude_outside=0, extrapolation_value=0.0, keep_aspect_ratio_policy="stretch",
           mode="nearest", nearest_mode="round_prefer_floor"):
    rank = len(x.shape)
    if ctx.opset < 11:  # Resize-10: (X, scales), no other attribute
        given = _given(ctx, roi, "Resize's scales")
        if given is None or given.size != rank:
            raise ValueError(f"Resize-10 needs {rank} scales")
        return _legacy_resize(ctx, x, [float(s) for s in given], mode)
    if antialias:
        raise ValueError("Resize with antialias=1 is not supported")
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    coord = coordinate_transformation_mode
    if coord not in COORD_MODES:
        raise ValueError(f"coordinate_transformation_mode must be one of "
                         f"{', '.join(COORD_MODES)}, got {coord!r}")
    if mode == "nearest" and nearest_mode not in NEAREST_MODES:
        raise ValueError(f"nearest_mode must be one of {', '.join(NEAREST_MODES)}, got "
                         f"{nearest_mode!r}")
    axes = _normalize_axes(axes, rank)
    scale_values = _given(ctx, scales, "Resize's scales")
    size_values = _given(ctx, sizes, "Resize's sizes")
    if (scale_values is None) == (size_values is None):
        raise ValueError("Resize needs exactly one of the scales and sizes inputs")
    given = scale_values if scale_values is not None else size_values
    if given.size != len(axes):
        what = "scales" if scale_values is not None else "sizes"
        raise ValueError(f"Resize's {what} has {given.size} values but there are {len(axes)} "
                         f"axes to resize")
    if scale_values is not None:
        full_scales = [1.0] * rank
        for a, s in zip(axes, scale_values):
            if not s > 0:
                raise ValueError(f"Resize scales must be positive, got {scale_values.tolist()}")
            full_scales[a] = float(s)
        full_sizes = _sizes_from_scales(x.shape, full_scales)
    else:
        full_sizes, full_scales = _from_sizes(x.shape, axes, size_values,
                                              keep_aspect_ratio_policy)
    extra: dict = {}
    if mode == "nearest":
        extra["nearest_mode"] = nearest_mode
    if mode == "cubic":
        extra["cubic_coeff_a"] = float(cubic_coeff_a)
        extra["exclude_outside"] = bool(exclude_outside)
    if coord == "tf_crop_and_resize":
        extra["roi"] = _full_roi(_given(ctx, roi, "Resize's roi"), axes, rank)
        extra["extrapolation_value"] = float(extrapolation_value)
    return _emit_resize(ctx, x, full_sizes, full_scales, mode, coord, **extra)


@onnx_op("Upsample")
def upsample(ctx, node, x, *rest, mode="nearest", scales=None):
    """Upsample-7/8 take `scales` as an attribute, Upsample-9 as an input."""
    if ctx.opset < 7:
        raise ValueError(f"Upsample of opset {ctx.opset} (before 7) is not supported")
    if rest and rest[0] is not None:
        values = ctx.static(rest[0], "Upsample's scales").reshape(-1).tolist()
    elif scales is not None:
        values = list(scales)
    else:
        raise ValueError("Upsample needs scales (an attribute before opset 9, then an input)")
    if len(values) != len(x.shape):
        raise ValueError(f"Upsample needs {len(x.shape)} scales, got {len(values)}")
    if any(_F(s) < 1 for s in values):
        raise ValueError(f"Upsample scales must be >= 1, got {values}")
    return _legacy_resize(ctx, x, [float(s) for s in values], mode)
