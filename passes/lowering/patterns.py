"""One function per top op: build its npu form before it and return the new i8 value, or
None when the op does not fit (it then stays a float op)."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from ...compiler.ir import Operation, Value
from ...compiler.types import TensorType
from .. import lower_to_npu as lw


def _conv(L, op: Operation) -> Value | None:
    x, w_val, b_val = op.operands[0], op.operands[1], op.bias
    w = L.const(w_val)
    if w is None or w.ndim != 4 or not L.act_in(x) or x.type.rank != 4:
        return None
    b = L.const(b_val) if b_val is not None else None
    if b_val is not None and b is None:
        return None
    sx, sy = L.in_scale(x), L.out_scale(op)
    wq, ws = lw.quantize_weight(w, 0)
    m, s = lw.channel_params(sx, ws, sy)
    operands = [L.quantized(x, op),
                L.weight(op, wq, lw.weight_type(wq.shape, 0, ws), f"{op.loc}_filter_i8")]
    if b is not None:
        operands.append(L.weight(op, lw.quantize_bias(b, sx * ws), lw.bias_type(len(ws)),
                                 f"{op.loc}_bias_i32"))
    attrs = {"strides": tuple(op.strides), "pads": tuple(op.pads),
             "dilations": tuple(op.dilations), "group": op.group, "multiplier": m, "shift": s,
             "do_relu": bool(op.do_relu)}
    return L.insert(op, "npu.conv2d", operands, L.qtype(op.result.type.shape, sy), attrs,
                    op.loc)


def _matmul_like(L, op: Operation, x: Value, w: np.ndarray, b: np.ndarray | None
                 ) -> Value | None:
    """x (..., K) @ w (K, N) + b (N,)."""
    sx, sy = L.in_scale(x), L.out_scale(op)
    wq, ws = lw.quantize_weight(w, 1)
    m, s = lw.channel_params(sx, ws, sy)
    operands = [L.quantized(x, op),
                L.weight(op, wq, lw.weight_type(wq.shape, 1, ws), f"{op.loc}_weight_i8")]
    if b is not None:
        operands.append(L.weight(op, lw.quantize_bias(b, sx * ws), lw.bias_type(len(ws)),
                                 f"{op.loc}_bias_i32"))
    return L.insert(op, "npu.matmul", operands, L.qtype(op.result.type.shape, sy),
                    {"multiplier": m, "shift": s}, op.loc)


def _matmul(L, op: Operation) -> Value | None:
    w = L.const(op.rhs)
    if w is None or w.ndim != 2 or not L.act_in(op.lhs) or op.lhs.type.rank < 1:
        return None
    return _matmul_like(L, op, op.lhs, w, None)


def _gemm(L, op: Operation) -> Value | None:
    w = L.const(op.b)
    if w is None or op.trans_a or not L.act_in(op.a):
        return None
    w = (w.T if op.trans_b else w) * np.float64(op.alpha)
    b = None
    if op.c is not None:
        c = L.const(op.c)
        n = w.shape[1]
        if c is None or c.size not in (1, n) or (c.ndim == 2 and c.shape[0] != 1):
            return None
        b = np.broadcast_to(c.reshape(-1), (n,)) * np.float64(op.beta)
    return _matmul_like(L, op, op.a, w, b)


def _add(L, op: Operation) -> Value | None:
    a, b = op.operands
    if not (L.act_in(a) and L.act_in(b)):
        return None
    params = lw.add_attrs(L.in_scale(a), L.in_scale(b), L.out_scale(op))
    return L.insert(op, "npu.add", [L.quantized(a, op), L.quantized(b, op)],
                    L.qtype(op.result.type.shape, L.out_scale(op)), params, op.loc)


def _concat(L, op: Operation) -> Value | None:
    if not all(L.act_in(v) for v in op.operands):
        return None
    sy = L.out_scale(op)
    m, s = lw.quantize_multipliers([L.in_scale(v) / sy for v in op.operands])
    return L.insert(op, "npu.concat", [L.quantized(v, op) for v in op.operands],
                    L.qtype(op.result.type.shape, sy),
                    {"axis": op.axis, "input_zps": (0,) * len(m), "multipliers": m,
                     "shifts": s}, op.loc)


def _plain_window(op: Operation) -> bool:
    return op.input.type.rank == 4 and not op.ceil_mode and all(d == 1 for d in op.dilations)


def _max_pool(L, op: Operation) -> Value | None:
    x = op.input
    if not L.act_in(x) or not _plain_window(op):
        return None
    qx = L.quantized(x, op)
    pooled = L.insert(op, "npu.max_pool", [qx], TensorType(op.result.type.shape,
                                                           qx.type.element),
                      {"kernel_shape": tuple(op.kernel_shape), "strides": tuple(op.strides),
                       "pads": tuple(op.pads)}, op.loc)
    return L.requant_to(op, pooled, L.in_scale(x), L.out_scale(op), f"{op.loc}_requant")


def _avg(L, op: Operation, kernel, strides, pads, include_pad: bool) -> Value:
    sx, sy = L.in_scale(op.input), L.out_scale(op)
    m, s = lw.avg_params(sx, sy, math.prod(kernel))
    return L.insert(op, "npu.avg_pool", [L.quantized(op.input, op)],
                    L.qtype(op.result.type.shape, sy),
                    {"kernel_shape": tuple(kernel), "strides": tuple(strides),
                     "pads": tuple(pads), "count_include_pad": include_pad,
                     "multiplier": m, "shift": s}, op.loc)


def _average_pool(L, op: Operation) -> Value | None:
    if not L.act_in(op.input) or not _plain_window(op):
        return None
    return _avg(L, op, op.kernel_shape, op.strides, op.pads, bool(op.count_include_pad))


def _global_average_pool(L, op: Operation) -> Value | None:
    x = op.input
    if not L.act_in(x) or x.type.rank != 4 or not x.type.is_static:
        return None
    return _avg(L, op, x.type.shape[2:], (1, 1), (0, 0, 0, 0), False)


def _lut(L, op: Operation) -> Value | None:
    x = op.operands[0]
    if len(op.operands) != 1 or not L.act_in(x):
        return None

    def fn(values: np.ndarray) -> np.ndarray:
        return op.compute(np.asarray(values, np.float32))

    table = lw.lut_table(fn, L.in_scale(x), L.out_scale(op))
    return L.insert(op, "npu.lut", [L.quantized(x, op)],
                    L.qtype(op.result.type.shape, L.out_scale(op)), {"table": table}, op.loc)


def _move(L, op: Operation) -> Value | None:
    x = op.operands[0]
    if len(op.operands) != 1 or not L.act_in(x):
        return None
    qx = L.quantized(x, op)
    attrs = {k: v for k, v in op.attributes.items() if not k.startswith("kiln.")}
    moved = L.insert(op, op.name, [qx], TensorType(op.result.type.shape, qx.type.element),
                     attrs, op.loc)
    return L.requant_to(op, moved, L.in_scale(x), L.out_scale(op), f"{op.loc}_requant")


PATTERNS: dict[str, Callable] = {
    "top.conv": _conv, "top.matmul": _matmul, "top.gemm": _gemm, "top.add": _add,
    "top.concat": _concat, "top.max_pool": _max_pool, "top.average_pool": _average_pool,
    "top.global_average_pool": _global_average_pool,
    **{name: _lut for name in lw.LUT_OPS}, **{name: _move for name in lw.MOVE_OPS},
}
