"""How :func:`kiln.kernels.conv.conv` computes: four strategies, picked by the problem's shape.

Every function here takes validated arrays already in the compute dtype (float32, or float64
for float64 inputs): ``x`` ``(N, C, *S)``, ``w`` ``(M, C // group, *K)``, ``b`` ``(M,)`` or
None, explicit ONNX-order ``pads``, and returns a fresh C-contiguous ``(N, M, *O)`` with the
bias added. The time goes into BLAS and into memory traffic, so each strategy avoids the
traffic it can:

* :func:`pointwise` -- 1x1 kernel, stride 1, no pads: one matmul straight into the output.
* :func:`shifted` -- stride 1, one group: one GEMM per kernel tap on a shifted 1-D window of
  the flattened padded image, accumulated; the windows are strided views that BLAS reads in
  place, so no column matrix is built. The padded columns this computes are dropped when the
  bias is added. Work is split into blocks of output rows that stay in the L2 cache. Best
  when the input has many more channels than the output.
* :func:`tiled_im2col` -- everything else with more than one input channel per group (strided,
  dilated, grouped): the column matrix of one block of output rows at a time (a few MiB, so
  it stays in cache), with a row of ones so the bias comes out of the same GEMM, which writes
  straight into the output.
* :func:`depthwise` -- one input channel per group: the columns of the whole image, then one
  matrix-vector product per channel (blocking would multiply the number of BLAS calls).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
from numpy.lib.stride_tricks import as_strided, sliding_window_view

__all__ = ["BLOCK_BYTES", "depthwise", "pointwise", "shifted", "tiled_im2col"]

# Bytes of working set per block of output rows: accumulators and windows of `shifted` (they
# should stay in a 2 MiB L2), columns of `tiled_im2col` (bigger: BLAS wants long products).
# Measured on YOLOv8n / ResNet-50 shapes; results do not depend on them.
BLOCK_BYTES = {"shifted": 1 << 20, "im2col": 4 << 20}


def _pad(x: np.ndarray, widths: list[tuple[int, int]]) -> np.ndarray:
    """Zero-pad (cheaper than ``np.pad``); always returns a fresh C-contiguous array."""
    out = np.zeros(tuple(n + a + b for n, (a, b) in zip(x.shape, widths)), dtype=x.dtype)
    out[tuple(slice(a, a + n) for n, (a, _) in zip(x.shape, widths))] = x
    return out


def _spatial_widths(pads: list[int], nd: int) -> list[tuple[int, int]]:
    return [(0, 0), (0, 0)] + [(pads[i], pads[i + nd]) for i in range(nd)]


def _add_bias(dst: np.ndarray, src: np.ndarray, bias: np.ndarray | None) -> None:
    """``dst[...] = src + bias`` in one pass (``bias`` already shaped to broadcast)."""
    if bias is None:
        np.copyto(dst, src)
    else:
        np.add(src, bias, out=dst)


def pointwise(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, group: int) -> np.ndarray:
    """1x1 kernel, stride 1, no pads: ``(G, Mg, Cg) @ (N, G, Cg, prod(S))``."""
    n, c = x.shape[:2]
    m = w.shape[0]
    size = math.prod(x.shape[2:])
    y = np.empty((n, m) + x.shape[2:], dtype=x.dtype)
    yv = y.reshape(n, group, m // group, size)
    np.matmul(w.reshape(group, m // group, c // group), x.reshape(n, group, c // group, size),
              out=yv)
    if b is not None:
        yv += b.reshape(group, m // group, 1)
    return y


def _row_block(rows: int, bytes_per_row: int, kind: str) -> int:
    return max(1, min(rows, BLOCK_BYTES[kind] // max(bytes_per_row, 1)))


def shifted(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, pads: list[int],
            dilations: list[int], out_sp: list[int]) -> np.ndarray:
    """Stride 1, group 1: sum over taps of ``W[:, :, tap] @ shifted window``, no columns."""
    nd = len(out_sp)
    n, c = x.shape[:2]
    m = w.shape[0]
    kernel = w.shape[2:]
    widths = _spatial_widths(pads, nd)
    if nd > 1:  # one more zero row keeps the last tap's window inside the image
        widths[2] = (pads[0], pads[nd] + 1)
    xp = _pad(x, widths)
    padded = xp.shape[2:]
    inner = math.prod(padded[1:])  # elements per output row, padded columns included
    xf = xp.reshape(n, c, -1)
    row_strides = [math.prod(padded[i + 1:]) for i in range(nd)]
    offsets = [sum(k * d * r for k, d, r in zip(tap, dilations, row_strides))
               for tap in itertools.product(*(range(k) for k in kernel))]
    wt = np.ascontiguousarray(w.reshape(m, c, -1).transpose(2, 0, 1))  # (T, M, C)
    rb = _row_block(out_sp[0], (c + 2 * m) * inner * x.itemsize, "shifted")
    acc = np.empty((m, rb * inner), dtype=x.dtype)
    tmp = np.empty_like(acc)
    y = np.empty((n, m) + tuple(out_sp), dtype=x.dtype)
    crop = (slice(None), slice(None)) + tuple(slice(o) for o in out_sp[1:])
    bias = None if b is None else b.reshape((m,) + (1,) * nd)
    for i in range(n):
        for r0 in range(0, out_sp[0], rb):
            r1 = min(out_sp[0], r0 + rb)
            lo, hi = r0 * inner, r1 * inner
            a, t = acc[:, :hi - lo], tmp[:, :hi - lo]
            for k, off in enumerate(offsets):
                np.matmul(wt[k], xf[i, :, off + lo:off + hi], out=t if k else a)
                if k:
                    a += t
            _add_bias(y[i, :, r0:r1], a.reshape((m, r1 - r0) + padded[1:])[crop], bias)
    return y


def tiled_im2col(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, strides: list[int],
                 pads: list[int], dilations: list[int], group: int,
                 out_sp: list[int]) -> np.ndarray:
    """General case: per block of output rows, columns ``(G, Cg*T [+1], rows*inner)`` and one
    batched GEMM into the output; the bias rides along as a row of ones."""
    nd = len(out_sp)
    n, c = x.shape[:2]
    m, cg = w.shape[:2]
    mg = m // group
    kernel = w.shape[2:]
    taps = list(itertools.product(*(range(k) for k in kernel)))
    ntap = len(taps)
    xp = _pad(x, _spatial_widths(pads, nd)) if any(pads) else x
    inner = math.prod(out_sp[1:])
    k_dim = cg * ntap + (b is not None)
    wm = w.reshape(group, mg, cg * ntap)
    if b is not None:
        wm = np.concatenate([wm, b.reshape(group, mg, 1)], axis=2)
    rb = _row_block(out_sp[0], c * ntap * inner * x.itemsize, "im2col")
    cols = np.empty((group, k_dim, rb * inner), dtype=x.dtype)
    if b is not None:
        cols[:, -1] = 1
    cols4 = cols[:, :cg * ntap].reshape(group, cg, ntap, rb * inner)
    y = np.empty((n, m) + tuple(out_sp), dtype=x.dtype)
    yv = y.reshape(n, group, mg, out_sp[0] * inner)
    inner_win = [tuple(slice(t * d, t * d + (o - 1) * s + 1, s) for t, d, s, o in
                       zip(tap[1:], dilations[1:], strides[1:], out_sp[1:])) for tap in taps]
    for i in range(n):
        for r0 in range(0, out_sp[0], rb):
            r1 = min(out_sp[0], r0 + rb)
            rows = r1 - r0
            for k, tap in enumerate(taps):
                start = tap[0] * dilations[0] + r0 * strides[0]
                win = xp[(i, slice(None), slice(start, start + (rows - 1) * strides[0] + 1,
                                                strides[0])) + inner_win[k]]
                dst = cols4[:, :, k, :rows * inner].reshape((group, cg, rows) + tuple(out_sp[1:]))
                dst[...] = win.reshape(dst.shape)
            np.matmul(wm, cols[:, :, :rows * inner], out=yv[i, :, :, r0 * inner:r1 * inner])
    return y


def depthwise(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, strides: list[int],
              pads: list[int], dilations: list[int], out_sp: list[int]) -> np.ndarray:
    """One input channel per group (channel multiplier ``M / C``): columns
    ``(N, C, T, grid)`` and a matrix-vector product per channel."""
    nd = len(out_sp)
    n, c = x.shape[:2]
    m = w.shape[0]
    kernel = list(w.shape[2:])
    if all(s == 1 for s in strides):
        cols, grid = _columns_flat(x, kernel, pads, dilations, out_sp)
    else:
        cols, grid = _columns_windows(x, kernel, pads, dilations, strides, out_sp)
    acc = np.matmul(w.reshape(c, m // c, -1), cols)  # (N, C, M/C, prod(grid))
    y = np.empty((n, m) + tuple(out_sp), dtype=x.dtype)
    block = acc.reshape((n, m) + grid)[(slice(None),) * 2 + tuple(slice(o) for o in out_sp)]
    _add_bias(y, block, None if b is None else b.reshape((m,) + (1,) * nd))
    return y


def _columns_windows(x: np.ndarray, kernel: list[int], pads: list[int], dilations: list[int],
                     strides: list[int], out_sp: list[int]) -> tuple[np.ndarray, tuple]:
    """``(N, C, prod(K), prod(O))`` from a strided window view; grid ``O``."""
    nd = len(kernel)
    n, c = x.shape[:2]
    if any(pads):
        x = _pad(x, _spatial_widths(pads, nd))
    eff = [(k - 1) * d + 1 for k, d in zip(kernel, dilations)]
    win = sliding_window_view(x, eff, axis=tuple(range(2, 2 + nd)))  # (N, C, *Ofull, *eff)
    win = win[(slice(None),) * 2 + tuple(slice(None, o * s, s) for o, s in zip(out_sp, strides))
              + tuple(slice(None, None, d) for d in dilations)]  # (N, C, *O, *K)
    perm = (0, 1) + tuple(range(2 + nd, 2 + 2 * nd)) + tuple(range(2, 2 + nd))
    return win.transpose(perm).reshape(n, c, -1, math.prod(out_sp)), tuple(out_sp)


def _columns_flat(x: np.ndarray, kernel: list[int], pads: list[int], dilations: list[int],
                  out_sp: list[int]) -> tuple[np.ndarray, tuple]:
    """Stride 1: every tap is one shifted 1-D window of the flattened padded image (long
    contiguous copies); the grid ``(O1, P2, ..., Pnd)`` has ``P - O`` extra inner columns."""
    nd = len(kernel)
    n, c = x.shape[:2]
    widths = _spatial_widths(pads, nd)
    if nd > 1:
        widths[2] = (pads[0], pads[nd] + 1)
    x = _pad(x, widths) if any(map(any, widths)) else np.ascontiguousarray(x)
    grid = (out_sp[0],) + tuple(x.shape[3:])
    view = as_strided(
        x,
        shape=(n, c, *kernel, math.prod(grid)),
        strides=(x.strides[0], x.strides[1],
                 *(d * st for d, st in zip(dilations, x.strides[2:])), x.strides[-1]),
        writeable=False,
    )
    return view.reshape(n, c, math.prod(kernel), -1), grid
