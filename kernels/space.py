"""Reference kernels for ONNX ``DepthToSpace`` and ``SpaceToDepth`` (NCHW, any dtype).

Both are a reshape, a transpose and a reshape; the result is a fresh contiguous array.
"""

from __future__ import annotations

import numpy as np

__all__ = ["depth_to_space", "space_to_depth"]


def _check(x: np.ndarray, blocksize: int, op: str) -> int:
    if x.ndim != 4:
        raise ValueError(f"{op} takes a 4-D (N, C, H, W) array, got shape {x.shape}")
    b = int(blocksize)
    if b < 1:
        raise ValueError(f"{op}: blocksize must be >= 1, got {blocksize}")
    return b


def depth_to_space(x: np.ndarray, *, blocksize: int, mode: str = "DCR") -> np.ndarray:
    """ONNX DepthToSpace: ``(N, C, H, W)`` -> ``(N, C / b^2, H * b, W * b)``.

    ``mode="DCR"`` (depth-column-row, the default) reads input channel ``(i * b + j) * C' + c``
    for output ``(c, h * b + i, w * b + j)``; ``"CRD"`` reads channel ``(c * b + i) * b + j``.
    """
    x = np.asarray(x)
    b = _check(x, blocksize, "depth_to_space")
    n, c, h, w = x.shape
    if c % (b * b):
        raise ValueError(f"depth_to_space: channels {c} not divisible by blocksize^2 = {b * b}")
    co = c // (b * b)
    m = str(mode).upper()
    if m == "DCR":
        y = x.reshape(n, b, b, co, h, w).transpose(0, 3, 4, 1, 5, 2)
    elif m == "CRD":
        y = x.reshape(n, co, b, b, h, w).transpose(0, 1, 4, 2, 5, 3)
    else:
        raise ValueError(f"depth_to_space: mode must be 'DCR' or 'CRD', got {mode!r}")
    return y.reshape(n, co, h * b, w * b)


def space_to_depth(x: np.ndarray, *, blocksize: int) -> np.ndarray:
    """ONNX SpaceToDepth: ``(N, C, H, W)`` -> ``(N, C * b^2, H / b, W / b)``.

    Output channel ``(i * b + j) * C + c`` holds input ``(c, h * b + i, w * b + j)`` (the inverse
    of DCR depth_to_space).
    """
    x = np.asarray(x)
    b = _check(x, blocksize, "space_to_depth")
    n, c, h, w = x.shape
    if h % b or w % b:
        raise ValueError(f"space_to_depth: H={h} and W={w} must be divisible by blocksize {b}")
    y = x.reshape(n, c, h // b, b, w // b, b).transpose(0, 3, 5, 1, 2, 4)
    return y.reshape(n, c * b * b, h // b, w // b)
