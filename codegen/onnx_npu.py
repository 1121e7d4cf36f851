"""QDQ ONNX emitters of the `npu` ops: dequantize the operands, run the float ONNX op,
quantize to the result's scale and zero point.

The scales come from the `!quant.uniform` types. Where a type carries none (a plain integer
tensor, e.g. an `i32` accumulator or an `i8` filter written without a scale), the missing
scale is derived from the op's fixed-point multipliers, which fix every ratio of scales, so
the ONNX graph still computes what kiln's integer kernel approximates.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..compiler.ir import Operation, Value
from ..compiler.types import ScalarType, TensorType
from .onnx_graph import Graph, QParams, export_error, is_quantized, onnx_dtype, storage_dtype

DQ_TYPES = tuple(np.dtype(t) for t in (np.int8, np.uint8, np.int16, np.uint16, np.int32))


def real_multiplier(multiplier, shift) -> np.ndarray:
    """The real factor of fixed-point (multiplier, shift) pairs: m * 2^-(31 + s)."""
    m = np.atleast_1d(np.asarray(multiplier, np.float64))
    s = np.atleast_1d(np.asarray(shift, np.float64))
    return m * np.exp2(-(31.0 + s))


def params(v: Value) -> QParams | None:
    """The Q/DQ parameters of a quantized value, None for a plain integer one."""
    return QParams.of_type(v.type) if is_quantized(v.type) else None


def _scalar_scale(op: Operation, p: QParams, what: str) -> float:
    if p.axis is not None:
        raise export_error(op, f"{what} must be quantized per tensor")
    return p.scale[0]


def _nonzero(op: Operation, m: np.ndarray) -> np.ndarray:
    if np.any(m <= 0):
        raise export_error(op, "a zero multiplier leaves the result scale undefined; give the "
                               "result a !quant.uniform type")
    return m


def _quantize_result(g: Graph, op: Operation, x: str, p: QParams, relu: bool = False) -> None:
    if relu:
        x = g.node("Relu", [x])
    r: TensorType = op.results[0].type
    g.q(x, p, r.scalar, g.result, r.rank)


# -- conv and matmul -----------------------------------------------------------------------------
def _linear(g: Graph, op: Operation, w: Value, b: Value | None, n: int, w_axis: int,
            out_axis: int) -> tuple[str, str, str, QParams]:
    """(x, w, b) dequantized for a conv / matmul with `n` output channels, and the result's
    parameters."""
    m = np.broadcast_to(real_multiplier(op.multiplier, op.shift), (n,))
    px = params(op.input) or QParams.make(1.0, op.input_zp)
    s_in = _scalar_scale(op, px, "the input")
    po = params(op.output)
    if is_quantized(w.type):
        pw = QParams.of_type(w.type)
        ws = np.broadcast_to(np.asarray(pw.scale, np.float64), (n,))
    else:
        s_out = _scalar_scale(op, po, "the result") if po is not None else None
        ws = m * s_out / s_in if s_out is not None else np.ones(n)
        pw = QParams.make(ws, 0, w_axis)
    if po is None:
        po = QParams.make(s_in * ws / _nonzero(op, m), op.output_zp, out_axis)
    bias = ""
    if b is not None:
        pb = params(b) or QParams.make(np.float32(s_in) * ws.astype(np.float32), 0, 0)
        bias = _dequantize_bias(g, g.name(b), pb, n)
    return g.dq(g.name(op.input), px), g.dq(g.name(w), pw), bias, po


def _dequantize_bias(g: Graph, b: str, p: QParams, n: int) -> str:
    """DequantizeLinear reads up to 32-bit integers; a wider (i64) bias is cast to float and
    scaled instead."""
    if g.dtypes[b] in DQ_TYPES:
        return g.dq(b, p)
    scale = np.broadcast_to(np.asarray(p.scale, np.float32), (n,))
    zp = np.broadcast_to(np.asarray(p.zero_point, np.float32), (n,))
    real = g.node("Cast", [b], to=onnx_dtype(np.float32))
    if np.any(zp):
        real = g.node("Sub", [real, g.const(zp, "bias_zero_point")])
    return g.node("Mul", [real, g.const(scale, "bias_scale")])


def conv2d(g: Graph, op: Operation) -> None:
    w = op.filter
    x, wf, bias, po = _linear(g, op, w, op.bias, w.type.shape[0], 0, 1)
    y = g.node("Conv", [x, wf, bias] if bias else [x, wf],
               kernel_shape=list(w.type.shape[2:]), strides=list(op.strides),
               pads=list(op.pads), dilations=list(op.dilations), group=op.group)
    _quantize_result(g, op, y, po, op.do_relu)


def deconv2d(g: Graph, op: Operation) -> None:
    w = op.filter
    x, wf, bias, po = _linear(g, op, w, op.bias, w.type.shape[1], 1, 1)
    y = g.node("ConvTranspose", [x, wf, bias] if bias else [x, wf],
               kernel_shape=list(w.type.shape[2:]), strides=list(op.strides),
               pads=list(op.pads), dilations=list(op.dilations),
               output_padding=list(op.output_padding))
    _quantize_result(g, op, y, po, op.do_relu)


def matmul(g: Graph, op: Operation) -> None:
    w = op.weight
    x, wf, bias, po = _linear(g, op, w, op.bias, w.type.shape[1], 1,
                              op.output.type.rank - 1)
    y = g.node("MatMul", [x, wf])
    if bias:
        y = g.node("Add", [y, bias])
    _quantize_result(g, op, y, po, op.do_relu)


# -- add and concat ------------------------------------------------------------------------------
def _inputs_and_output(op: Operation, values: list[Value], ratios: list[float],
                       zps: list[int], out_zp: int) -> tuple[list[QParams], QParams]:
    """Parameters of inputs i (real_i = ratio_i * real_out units) and of the result, from
    the types where they say, derived through the ratios where they do not."""
    given = [params(v) for v in values]
    po = params(op.results[0])
    if po is None:
        s_out = 1.0
        for p, ratio in zip(given, ratios):
            if p is not None:
                s_out = _scalar_scale(op, p, "an input") / float(_nonzero(op, np.array([ratio]))[0])
                break
        po = QParams.make(s_out, out_zp)
    s_out = _scalar_scale(op, po, "the result")
    ins = [p or QParams.make(ratio * s_out, z) for p, ratio, z in zip(given, ratios, zps)]
    return ins, po


def add(g: Graph, op: Operation) -> None:
    out = float(real_multiplier(op.output_multiplier, op.output_shift)[0]) * 2.0 ** op.left_shift
    ratios = [float(real_multiplier(op.attr(f"{side}_multiplier"),
                                    op.attr(f"{side}_shift"))[0]) * out
              for side in ("lhs", "rhs")]
    ins, po = _inputs_and_output(op, [op.lhs, op.rhs], ratios, [op.lhs_zp, op.rhs_zp],
                                 op.output_zp)
    y = g.node("Add", [g.dq(g.name(op.lhs), ins[0]), g.dq(g.name(op.rhs), ins[1])])
    _quantize_result(g, op, y, po, op.do_relu)


def mul(g: Graph, op: Operation) -> None:
    """The types carry both inputs' scales (the multiplier only holds their product)."""
    real = float(real_multiplier(op.multiplier, op.shift)[0])
    pa = params(op.lhs) or QParams.make(1.0, op.lhs_zp)
    pb = params(op.rhs) or QParams.make(1.0, op.rhs_zp)
    po = params(op.output) or QParams.make(
        _scalar_scale(op, pa, "lhs") * _scalar_scale(op, pb, "rhs") / real, op.output_zp)
    y = g.node("Mul", [g.dq(g.name(op.lhs), pa), g.dq(g.name(op.rhs), pb)])
    _quantize_result(g, op, y, po)


def concat(g: Graph, op: Operation) -> None:
    ratios = [float(r) for r in real_multiplier(op.multipliers, op.shifts)]
    ins, po = _inputs_and_output(op, list(op.inputs), ratios, list(op.input_zps), op.output_zp)
    y = g.node("Concat", [g.dq(g.name(v), p) for v, p in zip(op.inputs, ins)], axis=op.axis)
    _quantize_result(g, op, y, po)


# -- pools ---------------------------------------------------------------------------------------
def max_pool(g: Graph, op: Operation) -> None:
    """On 8-bit storage the max is taken on the integers (exact, as onnxruntime runs a
    DQ -> MaxPool -> Q group anyway); wider storage goes through float."""
    attrs = {"kernel_shape": list(op.kernel_shape), "strides": list(op.strides),
             "pads": list(op.pads)}
    if storage_dtype(op.input.type) in (np.int8, np.uint8):
        g.node("MaxPool", [g.name(op.input)], g.result, **attrs)
        return
    p = params(op.input) or QParams.make(1.0, 0)
    y = g.node("MaxPool", [g.dq(g.name(op.input), p)], **attrs)
    _quantize_result(g, op, y, params(op.output) or p)


def avg_pool(g: Graph, op: Operation) -> None:
    ratio = float(real_multiplier(op.multiplier[:1], op.shift[:1])[0])
    (px,), po = _inputs_and_output(op, [op.input], [ratio], [op.input_zp], op.output_zp)
    y = g.node("AveragePool", [g.dq(g.name(op.input), px)],
               kernel_shape=list(op.kernel_shape), strides=list(op.strides),
               pads=list(op.pads), count_include_pad=int(op.count_include_pad))
    _quantize_result(g, op, y, po)


# -- requantization, casts, tables ---------------------------------------------------------------
def _requant(g: Graph, op: Operation, axis: int) -> None:
    """Integer -> integer: DQ with the input's parameters, Q with the result's."""
    m = real_multiplier(op.multiplier, op.shift)
    px, po = params(op.input), params(op.output)
    if px is None and po is None:
        px = QParams.make(1.0, op.input_zp)
    if po is None:
        s_in = _scalar_scale(op, px, "the input")
        po = QParams.make(s_in / _nonzero(op, m), op.output_zp, axis)
    if px is None:
        s_out = _scalar_scale(op, po, "the result")
        px = QParams.make(m * s_out, op.input_zp, axis)
    _quantize_result(g, op, g.dq(g.name(op.input), px), po)


def requant(g: Graph, op: Operation) -> None:
    _requant(g, op, op.axis)


def cast(g: Graph, op: Operation) -> None:
    a, r = op.input.type, op.output.type
    x = g.name(op.input)
    a_float = isinstance(a.element, ScalarType) and a.element.is_float
    r_float = isinstance(r.element, ScalarType) and r.element.is_float
    if a_float and is_quantized(r):
        if storage_dtype(a) != np.float32:
            x = g.node("Cast", [x], to=onnx_dtype(np.float32))
        _quantize_result(g, op, x, QParams.of_type(r))
    elif is_quantized(a) and r_float:
        if storage_dtype(r) == np.float32:
            g.dq(x, QParams.of_type(a), g.result)
        else:
            g.node("Cast", [g.dq(x, QParams.of_type(a))], g.result,
                   to=onnx_dtype(storage_dtype(r)))
    elif a_float and r_float:
        g.node("Cast", [x], g.result, to=onnx_dtype(storage_dtype(r)))
    elif a.scalar.is_integer and r.scalar.is_integer:
        _requant(g, op, 0)
    else:
        raise export_error(op, f"no ONNX form for a cast from {a.scalar} to {r.scalar}")


def lut(g: Graph, op: Operation) -> None:
    """Exact: the input integer, shifted so the storage minimum is 0, indexes the table (the
    `table` attribute, or the `values` operand for wide tables)."""
    lo, hi = op.input.type.scalar.int_range
    if len(op.operands) > 1:
        table, shape = g.name(op.operands[1]), op.operands[1].type.shape
    else:
        array = op.attributes["table"].array
        table, shape = g.const(array, "table"), array.shape
    if tuple(shape) != (hi - lo + 1,):
        raise export_error(op, f"a table for {op.input.type.scalar} inputs needs {hi - lo + 1} "
                               f"entries, got shape {tuple(shape)}")
    index = g.node("Cast", [g.name(op.input)], to=onnx_dtype(np.int32))
    if lo:
        index = g.node("Sub", [index, g.const(np.asarray(lo, np.int32), "storage_min")])
    g.node("Gather", [table, index], g.result, axis=0)


EMITTERS: dict[str, Callable[[Graph, Operation], None]] = {
    "npu.conv2d": conv2d, "npu.deconv2d": deconv2d, "npu.matmul": matmul, "npu.add": add,
    "npu.mul": mul,
    "npu.concat": concat,
    "npu.max_pool": max_pool, "npu.avg_pool": avg_pool, "npu.requant": requant,
    "npu.cast": cast, "npu.lut": lut,
}
