"""Float reference kernels for ONNX pooling (MaxPool, AveragePool, GlobalAverage/MaxPool).

Layout ``(N, C, *spatial)`` with any number of spatial dims. ``kernel_shape``, ``strides`` and
``dilations`` have one entry per spatial dim; ``pads`` is ONNX order
``[x1_begin, x2_begin, ..., x1_end, x2_end]``; resolve ``auto_pad`` beforehand (for example with
``kiln.kernels.conv.resolve_auto_pad``). Window pools are separable: the padded input is
reduced one spatial axis at a time, ``k - 1`` whole-array ``maximum``/``add`` calls per axis on
shifted strided views (far faster than reducing a window view over its tiny window axes); no
Python loop over pixels or channels.

``ceil_mode`` follows onnxruntime/PyTorch: the output size is rounded up, but a last window
that would *start* beyond the begin-padded input (``(out - 1) * s >= in + pad_begin``) is
dropped. Windows that run past the padded input read nothing there.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["avg_pool", "global_avg_pool", "global_max_pool", "max_pool", "pool_output_shape",
           "sum_pool", "window_counts"]


def _ints(name: str, values: Sequence[int], n: int, minimum: int) -> list[int]:
    out = [int(v) for v in values]
    if len(out) != n:
        raise ValueError(f"{name} must have {n} entries, got {len(out)}: {out}")
    if any(v < minimum for v in out):
        raise ValueError(f"{name} entries must be >= {minimum}, got {out}")
    return out


def pool_output_shape(
    in_spatial: Sequence[int],
    kernel_shape: Sequence[int],
    strides: Sequence[int],
    pads: Sequence[int],
    dilations: Sequence[int] | None = None,
    ceil_mode: bool = False,
) -> list[int]:
    """Spatial output shape of an ONNX pool: ``floor|ceil((in + pb + pe - eff) / s) + 1``.

    ``eff = (k - 1) * d + 1``. With ``ceil_mode`` a last window starting at or after
    ``in + pad_begin`` is dropped (onnxruntime behaviour).
    """
    nd = len(in_spatial)
    kernel_shape = _ints("kernel_shape", kernel_shape, nd, 1)
    strides = _ints("strides", strides, nd, 1)
    pads = _ints("pads", pads, 2 * nd, 0)
    dilations = [1] * nd if dilations is None else _ints("dilations", dilations, nd, 1)
    out = []
    for i in range(nd):
        eff = (kernel_shape[i] - 1) * dilations[i] + 1
        span = in_spatial[i] + pads[i] + pads[i + nd] - eff
        if span < 0:
            raise ValueError(
                f"spatial dim {i}: padded input {in_spatial[i] + pads[i] + pads[i + nd]} is "
                f"smaller than the dilated window {eff}"
            )
        if ceil_mode:
            o = -(-span // strides[i]) + 1
            if (o - 1) * strides[i] >= in_spatial[i] + pads[i]:
                o -= 1
        else:
            o = span // strides[i] + 1
        out.append(o)
    return out


def _geometry(x: np.ndarray, kernel_shape: Sequence[int], strides: Sequence[int],
              pads: Sequence[int], dilations: Sequence[int] | None,
              ceil_mode: bool) -> tuple[list[int], list[int]]:
    """The output spatial shape and the dilations (ones when not given)."""
    if x.ndim < 3:
        raise ValueError(f"x must be (N, C, *spatial) with >= 1 spatial dim, got {x.shape}")
    nd = x.ndim - 2
    dil = [1] * nd if dilations is None else _ints("dilations", dilations, nd, 1)
    return pool_output_shape(x.shape[2:], kernel_shape, strides, pads, dil, bool(ceil_mode)), dil


def _padded(x: np.ndarray, out: list[int], kernel_shape: Sequence[int], strides: Sequence[int],
            pads: Sequence[int], dil: list[int], fill: float) -> np.ndarray:
    """``x`` padded with ``fill``, the end far enough for every window (ceil_mode windows may
    run past the pads); ``x`` itself when nothing is padded."""
    nd = x.ndim - 2
    widths = [(int(pads[i]), max(int(pads[i + nd]), (out[i] - 1) * int(strides[i])
                                 + (int(kernel_shape[i]) - 1) * dil[i] + 1
                                 - x.shape[2 + i] - int(pads[i])))
              for i in range(nd)]
    if not any(map(any, widths)):
        return x
    shape = x.shape[:2] + tuple(n + a + b for n, (a, b) in zip(x.shape[2:], widths))
    xp = np.full(shape, fill, dtype=x.dtype)
    xp[(slice(None),) * 2 + tuple(slice(a, a + n) for n, (a, _) in zip(x.shape[2:], widths))] = x
    return xp


def _separable(x: np.ndarray, ufunc: np.ufunc, out: list[int], kernel_shape: Sequence[int],
               strides: Sequence[int], dil: list[int]) -> np.ndarray:
    """Reduce the windows with ``ufunc`` one spatial axis at a time (a box max or sum is the
    max or sum along each axis in turn): ``k - 1`` whole-array ufunc calls per axis on strided
    views, instead of a reduction over tiny window axes. Returns a fresh array."""
    nd = x.ndim - 2
    cur, fresh = x, False
    for i in reversed(range(nd)):  # the innermost axis first: shifted views stay contiguous
        axis, k, s, d, o = 2 + i, int(kernel_shape[i]), int(strides[i]), dil[i], out[i]

        def tap(t: int, src: np.ndarray = cur, axis: int = axis, s: int = s, d: int = d,
                o: int = o) -> np.ndarray:
            return src[(slice(None),) * axis + (slice(t * d, t * d + (o - 1) * s + 1, s),)]

        if k == 1:
            cur = tap(0)
        else:
            nxt = ufunc(tap(0), tap(1))
            for t in range(2, k):
                ufunc(nxt, tap(t), out=nxt)
            cur, fresh = nxt, True
    return np.ascontiguousarray(cur) if fresh else cur.copy()


def _window_reduce(x: np.ndarray, ufunc, fill, kernel_shape, strides, pads, dilations,
                   ceil_mode) -> np.ndarray:
    """`ufunc` over every pooling window of `x`, the padding filled with `fill`."""
    out, dil = _geometry(x, kernel_shape, strides, pads, dilations, ceil_mode)
    xp = _padded(x, out, kernel_shape, strides, pads, dil, fill)
    return _separable(xp, ufunc, out, kernel_shape, strides, dil)


def max_pool(
    x: np.ndarray,
    *,
    kernel_shape: Sequence[int],
    strides: Sequence[int],
    pads: Sequence[int],
    dilations: Sequence[int] | None = None,
    ceil_mode: bool = False,
) -> np.ndarray:
    """ONNX MaxPool (values only, no Indices). ``x``: ``(N, C, *S)`` -> ``(N, C, *O)``.

    Padding never wins the max (it is -inf, or the dtype minimum for integer inputs, which
    ONNX allows for int8/uint8). The dtype is preserved.
    """
    x = np.asarray(x)
    if np.issubdtype(x.dtype, np.floating):
        fill: float | int = -np.inf
    elif np.issubdtype(x.dtype, np.integer):
        fill = int(np.iinfo(x.dtype).min)
    else:
        raise TypeError(f"max_pool takes float or integer arrays, got {x.dtype}")
    return _window_reduce(x, np.maximum, fill, kernel_shape, strides, pads, dilations, ceil_mode)


def _axis_counts(
    n: int, pb: int, pe: int, o: int, k: int, s: int, d: int, include: bool
) -> np.ndarray:
    """Per-output-position count of window taps inside the input (or the padded input)."""
    pos = np.arange(o)[:, None] * s + np.arange(k)[None, :] * d  # padded coordinates
    lo, hi = (0, n + pb + pe) if include else (pb, pb + n)
    return ((pos >= lo) & (pos < hi)).sum(axis=1)


def sum_pool(
    x: np.ndarray,
    *,
    kernel_shape: Sequence[int],
    strides: Sequence[int],
    pads: Sequence[int],
    dilations: Sequence[int] | None = None,
    ceil_mode: bool = False,
) -> np.ndarray:
    """Window sums of ``x`` ``(N, C, *S)`` -> ``(N, C, *O)``, padding adding 0, in ``x``'s dtype
    (an integer dtype must be wide enough for every sum: the integer kernels pick it)."""
    return _window_reduce(np.asarray(x), np.add, 0, kernel_shape, strides, pads, dilations,
                          ceil_mode)


def window_counts(
    spatial: Sequence[int],
    *,
    kernel_shape: Sequence[int],
    strides: Sequence[int],
    pads: Sequence[int],
    dilations: Sequence[int] | None = None,
    ceil_mode: bool = False,
    count_include_pad: bool = False,
) -> np.ndarray:
    """The divisor of each output position of an average pool (int64, output spatial shape):
    the window taps inside the input, or inside the padded input with ``count_include_pad``;
    taps past the padded input added by ``ceil_mode`` never count."""
    nd = len(spatial)
    dil = [1] * nd if dilations is None else _ints("dilations", dilations, nd, 1)
    out = pool_output_shape(spatial, kernel_shape, strides, pads, dil, bool(ceil_mode))
    count = np.ones((), dtype=np.int64)
    for i in range(nd):
        ci = _axis_counts(int(spatial[i]), int(pads[i]), int(pads[i + nd]), out[i],
                          int(kernel_shape[i]), int(strides[i]), dil[i], bool(count_include_pad))
        count = count[..., None] * ci
    return count


def avg_pool(
    x: np.ndarray,
    *,
    kernel_shape: Sequence[int],
    strides: Sequence[int],
    pads: Sequence[int],
    ceil_mode: bool = False,
    count_include_pad: bool = False,
    dilations: Sequence[int] | None = None,
) -> np.ndarray:
    """ONNX AveragePool. ``x``: ``(N, C, *S)`` -> ``(N, C, *O)``; float dtype preserved.

    The divisor counts the window taps inside the input (``count_include_pad=False``) or inside
    the explicitly padded input (``True``); taps past the padded input added by ``ceil_mode``
    never count. A window holding no counted tap yields 0. ``dilations`` is opset 19.
    """
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        raise TypeError(f"avg_pool takes floating-point arrays, got {x.dtype}")
    cdt = np.float64 if x.dtype == np.float64 else np.float32
    total = sum_pool(x.astype(cdt, copy=False), kernel_shape=kernel_shape, strides=strides,
                     pads=pads, dilations=dilations, ceil_mode=ceil_mode)
    count = window_counts(x.shape[2:], kernel_shape=kernel_shape, strides=strides, pads=pads,
                          dilations=dilations, ceil_mode=ceil_mode,
                          count_include_pad=count_include_pad)
    y = total / np.maximum(count, 1).astype(cdt)
    return y.astype(x.dtype, copy=False)


def global_avg_pool(x: np.ndarray) -> np.ndarray:
    """ONNX GlobalAveragePool: mean over all spatial axes of ``(N, C, *S)``, kept as size 1."""
    x = np.asarray(x)
    if x.ndim < 3:
        raise ValueError(f"x must be (N, C, *spatial), got {x.shape}")
    cdt = np.float64 if x.dtype == np.float64 else np.float32
    y = x.mean(axis=tuple(range(2, x.ndim)), keepdims=True, dtype=cdt)
    return y.astype(x.dtype, copy=False)


def global_max_pool(x: np.ndarray) -> np.ndarray:
    """ONNX GlobalMaxPool: max over all spatial axes of ``(N, C, *S)``, kept as size 1."""
    x = np.asarray(x)
    if x.ndim < 3:
        raise ValueError(f"x must be (N, C, *spatial), got {x.shape}")
    return x.max(axis=tuple(range(2, x.ndim)), keepdims=True)
