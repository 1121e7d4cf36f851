"""One function per top op: build its npu form before it and return the new integer value,
or None when the op does not fit (it then stays a float op). Each op reads its inputs and
writes its result at its own bit width (`kiln.mode`), in the target's scheme (L.scheme)."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from ...compiler.attributes import DenseAttr
from ...compiler.ir import Operation, Value
from ...compiler.types import TensorType, UniformType
from ...kernels.integer import add_params, make_lut
from .. import lower_to_npu as lw
from .scheme import mode_bits


def _el(v: Value):
    return v.type.element


def _weighted(L, op: Operation, x: Value, w: np.ndarray, axis: int, b: np.ndarray | None,
              weight_loc: str) -> tuple[list[Value], TensorType, tuple, tuple]:
    """Operands (input, weight, bias), result type and requant params of a conv or matmul."""
    bits = L.bits(op)
    qx = L.quantized(x, op)
    out = L.out_type(op, L.wide_output(op))
    wbits = L.scheme.weight_bits_for(bits)
    sx = _el(qx).scale
    wide = max(bits, qx.type.scalar.bits) > 8
    floor = None if b is None else lw.bias_weight_scale_floor(b, sx, wide)
    wq, ws = L.scheme.weights(w, axis, wbits, min_scales=floor)
    m, s = lw.channel_params(sx, ws, out.element.scale)
    operands = [qx, L.weight(op, wq, lw.weight_type(wq.shape, axis, ws, wbits), weight_loc)]
    shift = L.rounding_correction(op, qx, wq, ws, axis)
    if shift is not None:  # the input's mean rounding error, taken out of the bias
        b = (np.zeros(len(ws)) if b is None else np.asarray(b, np.float64)) - shift
    if b is not None:
        name = f"{op.loc}_bias_i{64 if wide else 32}"
        operands.append(L.weight(op, lw.quantize_bias(b, sx * ws, wide),
                                 lw.bias_type(len(ws), wide), name))
    return operands, out, m, s


def _filtered(L, op: Operation, w: np.ndarray | None, axis: int):
    """(operands, result type, multipliers, shifts) of a conv-like op whose filter `w` has
    its output channels on `axis`, or None when the filter or bias is not constant."""
    x, b_val = op.operands[0], op.bias
    if w is None or w.ndim != 4 or not L.act_in(x) or x.type.rank != 4:
        return None
    b = L.const(b_val) if b_val is not None else None
    if b_val is not None and b is None:
        return None
    return _weighted(L, op, x, w, axis, b, f"{op.loc}_filter_q")


def _window_attrs(op: Operation, operands, out, m, s, **window) -> dict:
    """The attributes of npu.conv2d / npu.deconv2d, in their declared order."""
    return {"strides": tuple(op.strides), "pads": tuple(op.pads),
            "dilations": tuple(op.dilations), **window, "input_zp": _el(operands[0]).zp,
            "multiplier": m, "shift": s, "output_zp": out.element.zp}


def _conv(L, op: Operation) -> Value | None:
    got = _filtered(L, op, L.weight_array(op), 0)
    if got is None:
        return None
    attrs = _window_attrs(op, *got, group=op.group) | {"do_relu": bool(op.do_relu)}
    return L.insert(op, "npu.conv2d", got[0], got[1], attrs, op.loc)


def _deconv(L, op: Operation) -> Value | None:
    """A transposed conv of group 1: weights per output channel (the filter's axis 1)."""
    got = _filtered(L, op, L.const(op.operands[1]), 1) if op.group == 1 else None
    if got is None:
        return None
    attrs = _window_attrs(op, *got, output_padding=tuple(op.output_padding))
    return L.insert(op, "npu.deconv2d", got[0], got[1], attrs, op.loc)


def _matmul_like(L, op: Operation, x: Value, w: np.ndarray, b: np.ndarray | None
                 ) -> Value | None:
    """x (..., K) @ w (K, N) + b (N,)."""
    operands, out, m, s = _weighted(L, op, x, w, 1, b, f"{op.loc}_weight_q")
    return L.insert(op, "npu.matmul", operands, out,
                    {"input_zp": _el(operands[0]).zp, "multiplier": m, "shift": s,
                     "output_zp": out.element.zp}, op.loc)


def _matmul(L, op: Operation) -> Value | None:
    w = L.weight_array(op)
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


def _feeds_integer(L, op: Operation) -> bool:
    """Whether some reader of `op` will be an integer op (a lowered pattern at an integer
    mode; a Concat the head rule leaves in float is not)."""
    for u in op.result.users:
        if u.name == "func.return" or not mode_bits(L.mode(u)) or u.name not in PATTERNS:
            continue
        if u.name == "top.concat" and L.concat_bits.get(id(u), 0) is None:
            continue
        return True
    return False


def _const_operand(L, op: Operation, c: np.ndarray) -> Value | None:
    """A constant operand of an elementwise op as a symmetric per-tensor integer tensor in
    the target's scheme: 8 bits for a single value (exact where scales are free: its code is
    +-127), 16 for several or under power-of-two scales."""
    c = np.asarray(c, np.float64)
    peak = float(np.max(np.abs(c))) if c.size else 0.0
    if not np.isfinite(peak) or peak == 0.0:
        return None
    bits = 8 if c.size == 1 and not L.scheme.power_of_two else 16
    codes, scales = L.scheme.weights(c.reshape(1, -1), 0, bits)
    storage = lw.I8 if bits == 8 else lw.I16
    el = UniformType(storage, lw.F32, float(scales[0]))
    return L.weight(op, codes.reshape(c.shape), TensorType(tuple(c.shape), el),
                    f"{op.loc}_const_q")


def _operands(L, op: Operation) -> tuple[Value, Value] | None:
    """Both operands of a binary elementwise op as integers: two activations, or an
    activation and a constant when the result feeds an integer op (a constant op right
    before the outputs, such as YOLO's box scaling, stays float: nothing is gained)."""
    a, b = op.operands
    if L.act_in(a) and L.act_in(b):
        return L.quantized(a, op), L.quantized(b, op)
    for act, other, first in ((a, b, True), (b, a, False)):
        c = L.const(other)
        if L.act_in(act) and c is not None and _feeds_integer(L, op):
            qc = _const_operand(L, op, c)
            if qc is None:
                return None
            qa = L.quantized(act, op)
            return (qa, qc) if first else (qc, qa)
    return None


def _binary(L, op: Operation) -> tuple[Value, Value, TensorType] | None:
    """The integer operands and the result type of a binary elementwise op."""
    got = _operands(L, op)
    return None if got is None else (*got, L.out_type(op))


def _add(L, op: Operation) -> Value | None:
    got = _binary(L, op)
    if got is None:
        return None
    qa, qb, out = got
    widest = max(L.bits(op), qa.type.scalar.bits, qb.type.scalar.bits)
    left_shift = min(20, 30 - widest)  # (x - zp) << left_shift stays below 2^30
    params = add_params(_el(qa).scale, _el(qb).scale, out.element.scale, left_shift)
    params.update(lhs_zp=_el(qa).zp, rhs_zp=_el(qb).zp, output_zp=out.element.zp)
    return L.insert(op, "npu.add", [qa, qb], out, params, op.loc)


def _mul(L, op: Operation) -> Value | None:
    got = _binary(L, op)
    if got is None:
        return None
    qa, qb, out = got
    m, s = lw.quantize_multiplier(_el(qa).scale * _el(qb).scale / out.element.scale)
    return L.insert(op, "npu.mul", [qa, qb], out,
                    {"lhs_zp": _el(qa).zp, "rhs_zp": _el(qb).zp, "multiplier": m, "shift": s,
                     "output_zp": out.element.zp}, op.loc)


def _concat(L, op: Operation) -> Value | None:
    if not all(L.act_in(v) for v in op.operands):
        return None
    bits = L.concat_bits.get(id(op), L.bits(op))
    if bits is None:
        return None
    qs = [L.quantized(v, op, bits) for v in op.operands]
    out = L.out_type(op, bits)
    m, s = lw.quantize_multipliers([_el(q).scale / out.element.scale for q in qs])
    return L.insert(op, "npu.concat", qs, out,
                    {"axis": op.axis, "input_zps": tuple(_el(q).zp for q in qs),
                     "multipliers": m, "shifts": s, "output_zp": out.element.zp}, op.loc)


def _plain_window(op: Operation) -> bool:
    return op.input.type.rank == 4 and not op.ceil_mode and all(d == 1 for d in op.dilations)


def _max_pool(L, op: Operation) -> Value | None:
    x = op.input
    if not L.act_in(x) or not _plain_window(op):
        return None
    qx = L.quantized(x, op)
    pooled = L.insert(op, "npu.max_pool", [qx], TensorType(op.result.type.shape, _el(qx)),
                      {"kernel_shape": tuple(op.kernel_shape), "strides": tuple(op.strides),
                       "pads": tuple(op.pads)}, op.loc)
    return L.requant_to(op, pooled, L.out_type(op), f"{op.loc}_requant")


def _avg(L, op: Operation, kernel, strides, pads, include_pad: bool) -> Value:
    qx = L.quantized(op.input, op)
    out = L.out_type(op)
    m, s = lw.avg_params(_el(qx).scale, out.element.scale, math.prod(kernel))
    return L.insert(op, "npu.avg_pool", [qx], out,
                    {"kernel_shape": tuple(kernel), "strides": tuple(strides),
                     "pads": tuple(pads), "count_include_pad": include_pad,
                     "input_zp": _el(qx).zp, "multiplier": m, "shift": s,
                     "output_zp": out.element.zp}, op.loc)


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
    src = L.produced.get(id(x))  # a table maps any code: read the producer's own type
    if src is not None and src.type.scalar.bits <= 16:
        qx = src
    else:  # a float producer: quantize at 16 bits when only tables read it
        wide = 16 if 16 in L.scheme.act_bits and L.table_readers(x) else None
        qx = L.quantized(x, op, wide)
    out = L.out_type(op)

    def fn(values: np.ndarray) -> np.ndarray:
        return op.compute(np.asarray(values, np.float32))

    ix, ox = _el(qx), out.element
    table = make_lut(fn, ix.scale, ix.zp, ox.scale, ox.zp, ox.storage, ix.storage)
    t = TensorType((table.shape[0],), ox.storage)
    if table.shape[0] <= 256:
        return L.insert(op, "npu.lut", [qx], out, {"table": DenseAttr(table, t)}, op.loc)
    values = L.weight(op, table, t, f"{op.loc}_table")
    return L.insert(op, "npu.lut", [qx, values], out, {}, op.loc)


def _move(L, op: Operation) -> Value | None:
    x = op.operands[0]
    if len(op.operands) != 1 or not L.act_in(x):
        return None
    qx = L.quantized(x, op)
    attrs = {k: v for k, v in op.attributes.items() if not k.startswith("kiln.")}
    moved = L.insert(op, op.name, [qx], TensorType(op.result.type.shape, _el(qx)), attrs,
                     op.loc)
    return L.requant_to(op, moved, L.out_type(op), f"{op.loc}_requant")


def _resize(L, op: Operation) -> Value | None:
    """Nearest-neighbour resize only picks input values: a move on the integer tensor."""
    if getattr(op, "mode", None) != "nearest" or len(op.operands) != 1:
        return None
    return _move(L, op)


PATTERNS: dict[str, Callable] = {
    "top.conv": _conv, "top.conv_transpose": _deconv, "top.matmul": _matmul, "top.gemm": _gemm,
    "top.add": _add,
    "top.mul": _mul,
    "top.concat": _concat, "top.max_pool": _max_pool, "top.average_pool": _average_pool,
    "top.global_average_pool": _global_average_pool, "top.resize": _resize,
    **{name: _lut for name in lw.LUT_OPS}, **{name: _move for name in lw.MOVE_OPS},
}
