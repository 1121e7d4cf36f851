"""Output-aware weight rounding (`run_calibration --weight_rounding output`, the default).

Rounding each weight to its nearest grid point minimizes the weight error, not the error of
the layer's output: the errors of one output channel's weights add up over its input
patches. Here each conv / matmul chooses its integer weights on the target's own grid (the
per-channel scales model_deploy's lowering gives them) to minimize E ||x (W - Q)||^2 over
the layer's float inputs x, the way GPTQ (Frantar et al., 2022) does: weights are rounded one
input column at a time, and each rounding error is pushed onto the columns not yet rounded,
weighted by the inverse of the inputs' second moment H = E[x x^T] (through its Cholesky
factor). The largest weight of each channel keeps its nearest rounding, so the lowering
recomputes the same scale from the new weights and finds the chosen integers exactly.

Convolutions of any group count (a depthwise conv has one H per channel) and matmuls with a
constant right-hand side are handled; H is gathered from up to `max_rows` random output
positions per sample, and a layer with fewer than MIN_ROWS_PER_COLUMN rows per column keeps
its nearest rounding. The chosen weights (float values on the grid) are new weights named by
the op's `kiln.rounded_weight` attribute, beside its float weight: the IR still computes the
float model, lower-to-npu takes the rounded weight for an integer layer, and a layer the
qtable leaves in a float mode keeps its float weight. The user's files are never touched.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from ..compiler.attributes import SymbolRef
from ..compiler.interpreter import run_function, tensor_name
from ..compiler.ir import Module, Operation
from ..compiler.weights import WeightStore
from ..passes.fusion.match import const_array
from ..passes.lower_to_npu import ROUNDED_WEIGHT_ATTR
from ..passes.lowering.scheme import QScheme

DAMP = 0.01  # relative diagonal damping of H, as GPTQ
ACT_ORDER = True
BLOCK = 128  # columns rounded before the columns after them are updated (one matmul)
# a layer needs this many input rows per column of H: an SE block's convs see one row per
# sample (a 1x1 map), and rounded on 16 rows for 200 columns they fit those samples (their
# output error fell 100x on them) and lost accuracy on others
MIN_ROWS_PER_COLUMN = 8


@dataclass
class _Layer:
    op: Operation
    input_name: str
    weight: np.ndarray           # the float weight as stored
    rows: np.ndarray             # (groups, M/groups, K): output channels x input columns
    hessian: np.ndarray          # (groups, K, K) accumulated x x^T, one per group
    count: int = 0


def _rows(op: Operation, w: np.ndarray) -> np.ndarray | None:
    """The weight as (groups, rows, K): one row per output channel."""
    if op.name == "top.conv" and w.ndim == 4:
        g = int(op.attributes.get("group", 1))
        return w.reshape(g, w.shape[0] // g, -1).astype(np.float64)
    if op.name == "top.matmul" and w.ndim == 2:
        return w.T[None].astype(np.float64)
    return None


def _patches(op: Operation, x: np.ndarray, positions: np.ndarray | None) -> np.ndarray:
    """Input patches (P, groups, K) of a conv at output `positions` (all when None), or the
    rows (P, 1, K) of a matmul's input."""
    if op.name == "top.matmul":
        flat = x.reshape(-1, x.shape[-1])
        return (flat if positions is None else flat[positions])[:, None, :]
    kh, kw = op.operands[1].type.shape[2:]
    (sh, sw), (dh, dw) = op.attributes["strides"], op.attributes["dilations"]
    t, left, b, r = op.attributes["pads"]
    xp = np.pad(x, ((0, 0), (0, 0), (t, b), (left, r)))
    n, c = x.shape[:2]
    oh, ow = op.results[0].type.shape[2:]
    if positions is None:
        positions = np.arange(n * oh * ow)
    pn, rest = np.divmod(positions, oh * ow)
    py, px = np.divmod(rest, ow)
    ys = py[:, None] * sh + np.arange(kh)[None] * dh
    xs = px[:, None] * sw + np.arange(kw)[None] * dw
    patch = xp[pn[:, None, None, None], np.arange(c)[None, :, None, None],
               ys[:, None, :, None], xs[:, None, None, :]]  # (P, C, kh, kw)
    g = int(op.attributes.get("group", 1))
    return patch.reshape(len(positions), g, -1)


def _positions(op: Operation, x: np.ndarray, max_rows: int, rng) -> np.ndarray | None:
    total = (int(np.prod(x.shape[:-1])) if op.name == "top.matmul"
             else x.shape[0] * int(np.prod(op.results[0].type.shape[2:])))
    if total <= max_rows:
        return None
    return np.sort(rng.choice(total, max_rows, replace=False))


def _layers(module: Module) -> list[_Layer]:
    func = module.main
    out = []
    for op in module.walk():
        if op.name not in ("top.conv", "top.matmul") or not op.loc or len(op.operands) < 2:
            continue
        w = const_array(op.operands[1], module)
        name = tensor_name(op.operands[0], func)
        rows = None if w is None else _rows(op, w)
        if rows is None or name is None or not op.results[0].type.is_static:
            continue
        g, _, k = rows.shape
        out.append(_Layer(op, name, w, rows, np.zeros((g, k, k))))
    return out


def round_columns(rows: np.ndarray, hessian: np.ndarray, scales: np.ndarray, qmax: int,
                  pinned: np.ndarray, _ordered: bool = False) -> np.ndarray:
    """Integers for `rows` (R, K) on per-row `scales`, minimizing sum over rows of
    (w - q s) H (w - q s)^T; `hessian` (K, K) shared or (R, K, K) one per row. `pinned` (R,)
    is the column of each row whose nearest rounding is kept (the row's largest weight).
    With a shared H the columns go in order of decreasing H diagonal (GPTQ's act-order:
    the inputs that carry the most energy are rounded first, while the most columns are
    left to take their error)."""
    if hessian.ndim == 2 and ACT_ORDER and not _ordered:
        order = np.argsort(-np.diag(hessian), kind="stable")
        back = np.argsort(order)
        q = round_columns(rows[:, order], hessian[np.ix_(order, order)], scales, qmax,
                          back[pinned], _ordered=True)
        return q[:, back]
    w = rows.astype(np.float64).copy()
    r, k = w.shape
    h = np.broadcast_to(hessian, (r, k, k)) if hessian.ndim == 3 else hessian[None]
    h = np.array(h, np.float64)
    diag = np.einsum("rii->ri", h)
    dead = diag <= 0
    damp = DAMP * np.maximum(diag.mean(axis=1, keepdims=True), 1e-12)
    idx = np.arange(k)
    h[:, idx, idx] += damp + dead
    upper = np.linalg.cholesky(np.linalg.inv(h)).transpose(0, 2, 1)  # H^-1 = U^T U
    s = scales.astype(np.float64)
    nearest = np.clip(np.sign(rows) * np.floor(np.abs(rows) / s[:, None] + 0.5), -qmax, qmax)
    q = np.zeros((r, k))
    for b0 in range(0, k, BLOCK):  # GPTQ's lazy batches: the rest is updated once per block
        b1 = min(b0 + BLOCK, k)
        block = w[:, b0:b1]
        errs = np.zeros((r, b1 - b0))
        for j in range(b1 - b0):
            i = b0 + j
            col = block[:, j]
            qi = np.clip(np.sign(col) * np.floor(np.abs(col) / s + 0.5), -qmax, qmax)
            keep = pinned == i
            qi[keep] = nearest[keep, i]
            q[:, i] = qi
            err = (col - qi * s) / upper[:, i, i]
            block[:, j + 1:] -= err[:, None] * upper[:, i, i + 1:b1]
            errs[:, j] = err
        if b1 < k:
            if upper.shape[0] == 1:
                w[:, b1:] -= errs @ upper[0, b0:b1, b1:]
            else:
                w[:, b1:] -= np.einsum("rb,rbk->rk", errs, upper[:, b0:b1, b1:])
    return q


def round_weights(module: Module, samples: Iterable[Mapping[str, np.ndarray]],
                  scheme: QScheme, *, weight_bits: int = 8, max_rows: int = 2048,
                  seed: int = 0) -> list[str]:
    """Replace each conv / matmul weight by its output-aware rounding; returns their locs."""
    func = module.main
    layers = _layers(module)
    rng = np.random.default_rng(seed)
    for sample in samples:
        _, every = run_function(func, sample, weights=module.weights, keep_all=True)
        for layer in layers:
            x = np.asarray(every[layer.input_name], np.float64)
            p = _patches(layer.op, x, _positions(layer.op, x, max_rows, rng))
            pg = p.transpose(1, 0, 2)  # (groups, P, K): one BLAS product per group
            layer.hessian += pg.transpose(0, 2, 1) @ pg
            layer.count += p.shape[0]
    qmax = (1 << (weight_bits - 1)) - 1
    done = []
    for layer in layers:
        if layer.count < MIN_ROWS_PER_COLUMN * layer.rows.shape[2]:
            continue  # too few input rows to estimate H: the rounding would fit the samples
        new = _rounded(layer, scheme, weight_bits, qmax)
        if new is not None:
            _attach(module, layer.op, new)
            done.append(layer.op.loc)
    return done


def _rounded(layer: _Layer, scheme: QScheme, bits: int, qmax: int) -> np.ndarray | None:
    op, w = layer.op, layer.weight
    axis = 0 if op.name == "top.conv" else 1
    _, scales = scheme.weights(w, axis, bits)
    g, m, _ = layer.rows.shape
    per_row = scales.reshape(g, m)
    if m == 1:  # depthwise: one row per group, all groups at once with their own H
        rows = layer.rows[:, 0]
        pinned = np.argmax(np.abs(rows), axis=1)
        q = round_columns(rows, layer.hessian, per_row[:, 0], qmax, pinned)[:, None]
    else:
        q = np.zeros_like(layer.rows)
        for gi in range(g):
            rows = layer.rows[gi]
            pinned = np.argmax(np.abs(rows), axis=1)
            q[gi] = round_columns(rows, layer.hessian[gi], per_row[gi], qmax, pinned)
    real = q * per_row[..., None]
    if op.name == "top.matmul":
        return real[0].T.astype(np.float32)
    return real.reshape(w.shape).astype(np.float32)


def _attach(module: Module, op: Operation, new: np.ndarray) -> None:
    """Name the rounded weight on the op (`kiln.rounded_weight`); its float weight stays, so
    the IR still computes the float model and a layer a qtable leaves float keeps it."""
    if module.weights is None:  # an IR with its weights inline (top.constant)
        module.weights = WeightStore()
    name = module.weights.unique_name(f"{op.loc}_rounded_weight")
    module.weights.add(name, new)
    op.attributes[ROUNDED_WEIGHT_ATTR] = SymbolRef(name)
