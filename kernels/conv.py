"""Float reference kernels for ONNX ``Conv`` and ``ConvTranspose`` (1-D, 2-D, 3-D; NC... layout).

Conventions shared by every function here (ONNX attribute semantics, already normalized):

* ``x`` is ``(N, C, *spatial)``; ``len(spatial)`` is the number of spatial dims ``nd``.
* ``strides`` and ``dilations`` have ``nd`` entries; ``pads`` has ``2 * nd`` entries in ONNX
  order ``[x1_begin, x2_begin, ..., x1_end, x2_end]``.
* ``auto_pad`` is not taken by the kernels: the importer resolves it with
  :func:`resolve_auto_pad` / :func:`resolve_conv_transpose_pads` first.

``conv`` validates and picks one of the strategies of :mod:`kiln.kernels.conv_paths` (a
matmul for 1x1 kernels, per-tap GEMMs on shifted views for stride-1 convolutions, im2col in
cache-sized blocks for the rest, a matrix-vector product per channel for depthwise ones); none
loops in Python over pixels or channels. ``conv_transpose`` is the adjoint: one batched matmul
producing columns, then a col2im scatter-add with one vectorized add per kernel tap.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

from . import conv_paths as paths

__all__ = [
    "conv",
    "conv_output_shape",
    "conv_transpose",
    "conv_transpose_output_shape",
    "resolve_auto_pad",
    "resolve_conv_transpose_pads",
]

_AUTO_PADS = ("NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID")


def _ints(name: str, values: Sequence[int], n: int, minimum: int) -> list[int]:
    out = [int(v) for v in values]
    if len(out) != n:
        raise ValueError(f"{name} must have {n} entries, got {len(out)}: {out}")
    if any(v < minimum for v in out):
        raise ValueError(f"{name} entries must be >= {minimum}, got {out}")
    return out


def _compute_dtype(*arrays: np.ndarray | None) -> tuple[np.dtype, np.dtype]:
    """(dtype to compute in, dtype to return): float64 stays float64, anything else float32."""
    dts = [a.dtype for a in arrays if a is not None]
    for dt in dts:
        if not np.issubdtype(dt, np.floating):
            raise TypeError(f"float kernels take floating-point arrays, got {dt}")
    out = np.result_type(*dts)
    return (np.dtype(np.float64) if out == np.float64 else np.dtype(np.float32)), out


def conv_output_shape(
    in_spatial: Sequence[int],
    kernel_spatial: Sequence[int],
    *,
    strides: Sequence[int],
    pads: Sequence[int],
    dilations: Sequence[int],
) -> list[int]:
    """Spatial output shape of ONNX Conv: ``(in + pb + pe - ((k - 1) * d + 1)) // s + 1``."""
    nd = len(in_spatial)
    out = []
    for i in range(nd):
        eff = (kernel_spatial[i] - 1) * dilations[i] + 1
        span = in_spatial[i] + pads[i] + pads[i + nd] - eff
        if span < 0:
            raise ValueError(
                f"spatial dim {i}: padded input {in_spatial[i] + pads[i] + pads[i + nd]} is "
                f"smaller than the dilated kernel {eff}"
            )
        out.append(span // strides[i] + 1)
    return out


def resolve_auto_pad(
    auto_pad: str,
    in_spatial: Sequence[int],
    kernel_spatial: Sequence[int],
    strides: Sequence[int],
    dilations: Sequence[int],
    pads: Sequence[int] | None = None,
) -> list[int]:
    """Explicit ONNX-order pads for Conv/pooling ``auto_pad``.

    ``SAME_UPPER``/``SAME_LOWER`` give ``out = ceil(in / stride)`` with the odd extra pad at the
    end (UPPER) or beginning (LOWER); ``VALID`` is no padding; ``NOTSET`` (or ``""``) returns
    ``pads`` (zeros if ``None``). The dilated kernel extent ``(k - 1) * d + 1`` is used, as Conv
    does (note: onnxruntime's pooling ops ignore dilation when resolving SAME pads).
    """
    nd = len(in_spatial)
    mode = auto_pad or "NOTSET"
    if mode not in _AUTO_PADS:
        raise ValueError(f"unknown auto_pad {auto_pad!r}; expected one of {_AUTO_PADS}")
    if mode == "NOTSET":
        return [0] * (2 * nd) if pads is None else _ints("pads", pads, 2 * nd, 0)
    if mode == "VALID":
        return [0] * (2 * nd)
    strides = _ints("strides", strides, nd, 1)
    dilations = _ints("dilations", dilations, nd, 1)
    begin, end = [], []
    for i in range(nd):
        out = -(-in_spatial[i] // strides[i])
        eff = (kernel_spatial[i] - 1) * dilations[i] + 1
        total = max(0, (out - 1) * strides[i] + eff - in_spatial[i])
        small, large = total // 2, total - total // 2
        begin.append(small if mode == "SAME_UPPER" else large)
        end.append(large if mode == "SAME_UPPER" else small)
    return begin + end


def conv_transpose_output_shape(
    in_spatial: Sequence[int],
    kernel_spatial: Sequence[int],
    *,
    strides: Sequence[int],
    pads: Sequence[int],
    dilations: Sequence[int],
    output_padding: Sequence[int],
) -> list[int]:
    """Spatial output of ConvTranspose: ``s * (in - 1) + op + (k - 1) * d + 1 - pb - pe``."""
    nd = len(in_spatial)
    return [
        strides[i] * (in_spatial[i] - 1)
        + output_padding[i]
        + (kernel_spatial[i] - 1) * dilations[i]
        + 1
        - pads[i]
        - pads[i + nd]
        for i in range(nd)
    ]


def resolve_conv_transpose_pads(
    auto_pad: str,
    in_spatial: Sequence[int],
    kernel_spatial: Sequence[int],
    strides: Sequence[int],
    dilations: Sequence[int],
    output_padding: Sequence[int] | None = None,
    output_shape: Sequence[int] | None = None,
    pads: Sequence[int] | None = None,
) -> list[int]:
    """Explicit ONNX-order pads for ConvTranspose given ``auto_pad`` and/or ``output_shape``.

    ``output_shape`` holds the spatial dims (a full ``(N, C, *spatial)`` shape is accepted too).
    When it is given, or ``auto_pad`` is SAME_* (target ``in * stride``), the total padding is
    ``s * (in - 1) + op + (k - 1) * d + 1 - target``; SAME_UPPER puts the odd extra pad at the
    end, NOTSET and SAME_LOWER at the beginning (ONNX spec and onnxruntime >= 1.17 agree).
    Otherwise ``VALID`` is zeros and ``NOTSET`` is ``pads`` (zeros if ``None``). Feed the
    result, with ``output_padding`` unchanged, to :func:`conv_transpose`.
    """
    nd = len(in_spatial)
    mode = auto_pad or "NOTSET"
    if mode not in _AUTO_PADS:
        raise ValueError(f"unknown auto_pad {auto_pad!r}; expected one of {_AUTO_PADS}")
    op = [0] * nd if output_padding is None else _ints("output_padding", output_padding, nd, 0)
    if output_shape is not None:
        target = [int(v) for v in output_shape][-nd:]
        if len(output_shape) not in (nd, nd + 2):
            raise ValueError(f"output_shape {list(output_shape)} does not match {nd} spatial dims")
    elif mode in ("SAME_UPPER", "SAME_LOWER"):
        target = [int(in_spatial[i]) * int(strides[i]) for i in range(nd)]
    elif mode == "VALID":
        return [0] * (2 * nd)
    else:
        return [0] * (2 * nd) if pads is None else _ints("pads", pads, 2 * nd, 0)
    full = conv_transpose_output_shape(
        in_spatial, kernel_spatial, strides=strides, pads=[0] * (2 * nd),
        dilations=dilations, output_padding=op,
    )
    begin, end = [], []
    for i in range(nd):
        total = full[i] - target[i]
        if total < 0:
            raise ValueError(
                f"spatial dim {i}: output_shape {target[i]} exceeds the unpadded "
                f"ConvTranspose output {full[i]}; raise output_padding instead"
            )
        small, large = total // 2, total - total // 2
        begin.append(small if mode == "SAME_UPPER" else large)
        end.append(large if mode == "SAME_UPPER" else small)
    return begin + end


def _check_common(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, out_ch: int) -> int:
    if x.ndim < 3:
        raise ValueError(f"x must be (N, C, *spatial) with >= 1 spatial dim, got {x.shape}")
    if w.ndim != x.ndim:
        raise ValueError(f"w rank {w.ndim} ({w.shape}) does not match x rank {x.ndim}")
    if b is not None and b.shape != (out_ch,):
        raise ValueError(f"bias must have shape ({out_ch},), got {b.shape}")
    return x.ndim - 2


def conv(
    x: np.ndarray,
    w: np.ndarray,
    b: np.ndarray | None = None,
    *,
    strides: Sequence[int],
    pads: Sequence[int],
    dilations: Sequence[int],
    group: int,
) -> np.ndarray:
    """ONNX Conv. ``x``: ``(N, C, *S)``, ``w``: ``(M, C // group, *K)``, ``b``: ``(M,)``.

    Returns ``(N, M, *O)`` with ``O`` from :func:`conv_output_shape`. Output channel ``m``
    belongs to group ``m // (M // group)``. float32 in gives float32 out (float16 is computed in
    float32 and cast back, float64 stays float64).
    """
    x, w = np.asarray(x), np.asarray(w)
    b = None if b is None else np.asarray(b)
    nd = _check_common(x, w, b, w.shape[0])
    strides = _ints("strides", strides, nd, 1)
    dilations = _ints("dilations", dilations, nd, 1)
    pads = _ints("pads", pads, 2 * nd, 0)
    group = int(group)
    c = x.shape[1]
    m, cg = w.shape[:2]
    if group < 1 or c % group or m % group:
        raise ValueError(
            f"channels must be divisible by group: C={c}, M={m}, group={group}"
        )
    if cg != c // group:
        raise ValueError(f"w.shape[1]={cg} must equal C / group = {c} / {group}")
    kernel = list(w.shape[2:])
    out_sp = conv_output_shape(
        x.shape[2:], kernel, strides=strides, pads=pads, dilations=dilations
    )
    cdt, odt = _compute_dtype(x, w, b)

    x = x.astype(cdt, copy=False)
    w = w.astype(cdt, copy=False)
    b = None if b is None else b.astype(cdt, copy=False)
    if cg == 1 and group == c:
        y = paths.depthwise(x, w, b, strides, pads, dilations, out_sp)
    elif all(k == 1 for k in kernel) and all(s == 1 for s in strides) and not any(pads):
        y = paths.pointwise(x, w, b, group)
    elif group == 1 and all(s == 1 for s in strides) and _prefer_shifted(c, m):
        y = paths.shifted(x, w, b, pads, dilations, out_sp)
    else:
        y = paths.tiled_im2col(x, w, b, strides, pads, dilations, group, out_sp)
    return y.astype(odt, copy=False)


def _prefer_shifted(c: int, m: int) -> bool:
    """Per-tap GEMMs beat one GEMM on copied columns when copying the columns (``T * C``
    rows) costs more than accumulating the taps (``T * M`` rows). Otherwise the columns win,
    above all with several BLAS threads, which the short per-tap products and the
    single-threaded accumulation leave idle (measured on YOLOv8n, PP-OCR and ResNet-50
    shapes)."""
    return c >= 2 * m


def conv_transpose(
    x: np.ndarray,
    w: np.ndarray,
    b: np.ndarray | None = None,
    *,
    strides: Sequence[int],
    pads: Sequence[int],
    dilations: Sequence[int],
    group: int,
    output_padding: Sequence[int],
) -> np.ndarray:
    """ONNX ConvTranspose. ``x``: ``(N, C, *S)``, ``w``: ``(C, M // group, *K)``, ``b``: ``(M,)``.

    Returns ``(N, M, *O)`` with ``O`` from :func:`conv_transpose_output_shape`; ``pads`` crop
    the full (scatter) output at the beginning/end and ``output_padding`` extends it at the end.
    Resolve ``output_shape``/``auto_pad`` with :func:`resolve_conv_transpose_pads` first.
    """
    x, w = np.asarray(x), np.asarray(w)
    b = None if b is None else np.asarray(b)
    group = int(group)
    nd = _check_common(x, w, b, w.shape[1] * max(group, 1))
    strides = _ints("strides", strides, nd, 1)
    dilations = _ints("dilations", dilations, nd, 1)
    pads = _ints("pads", pads, 2 * nd, 0)
    output_padding = _ints("output_padding", output_padding, nd, 0)
    n, c = x.shape[:2]
    if group < 1 or c % group:
        raise ValueError(f"input channels must be divisible by group: C={c}, group={group}")
    if w.shape[0] != c:
        raise ValueError(f"w.shape[0]={w.shape[0]} must equal input channels C={c}")
    mg = w.shape[1]
    m = mg * group
    kernel = list(w.shape[2:])
    in_sp = list(x.shape[2:])
    out_sp = conv_transpose_output_shape(
        in_sp, kernel, strides=strides, pads=pads, dilations=dilations,
        output_padding=output_padding,
    )
    if any(o < 1 for o in out_sp):
        raise ValueError(f"pads {pads} leave an empty ConvTranspose output {out_sp}")
    cdt, odt = _compute_dtype(x, w, b)

    cg = c // group
    wt = w.astype(cdt, copy=False).reshape(group, cg, -1).transpose(0, 2, 1)  # (G, Mg*K, Cg)
    xm = x.astype(cdt, copy=False).reshape(n, group, cg, -1)  # (N, G, Cg, prod(S))
    cols = np.matmul(wt, xm).reshape((n, m) + tuple(kernel) + tuple(in_sp))  # (N, M, *K, *S)

    full = [s * (i - 1) + (k - 1) * d + 1 + op for s, i, k, d, op
            in zip(strides, in_sp, kernel, dilations, output_padding)]
    y = np.zeros((n, m) + tuple(full), dtype=cdt)
    lead = (slice(None), slice(None))
    for tap in itertools.product(*(range(k) for k in kernel)):  # col2im: one add per kernel tap
        dst = tuple(slice(t * d, t * d + s * (i - 1) + 1, s)
                    for t, d, s, i in zip(tap, dilations, strides, in_sp))
        y[lead + dst] += cols[lead + tap]
    y = y[lead + tuple(slice(pads[i], pads[i] + out_sp[i]) for i in range(nd))]
    if b is not None:
        y = y + b.astype(cdt, copy=False).reshape((m,) + (1,) * nd)
    return np.ascontiguousarray(y).astype(odt, copy=False)
