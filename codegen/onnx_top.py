"""ONNX emitters of the `top` ops (the inverse of frontend/onnx/ops_*.py), for the QDQ
export. Each emitter writes the op's result into `g.result`; static attributes that ONNX takes
as inputs (shapes, pads, axes, bounds) become int64 initializers.

Ops that only move values (MOVE_OPS, nearest resize) run on the integer storage of a
`!quant.uniform` operand, as kiln's interpreter runs them; any other top op must read float
(or plain integer) values.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..compiler.ir import Operation
from .onnx_graph import Graph, QParams, export_error, is_quantized, onnx_dtype, storage_dtype

Emitter = Callable[[Graph, Operation], None]

# ops that only move (or select) values: valid on the integer storage of a quantized tensor
MOVE_OPS = {"top.reshape", "top.transpose", "top.slice", "top.concat", "top.tile",
            "top.expand", "top.pad", "top.gather", "top.gather_elements", "top.gather_nd",
            "top.depth_to_space", "top.space_to_depth"}
# moves whose onnxruntime kernels take 8-bit integers but not 16-bit ones: on other storage
# they run between a DequantizeLinear and a QuantizeLinear with the input's parameters, which
# gives back the same integers
FLOAT_FOR_WIDE = {"top.pad", "top.depth_to_space", "top.space_to_depth", "top.resize"}


def _inputs(g: Graph, op: Operation) -> list[str]:
    names = [g.name(v) for v in op.operands]
    while names and not names[-1]:
        names.pop()
    return names


def _attr_value(value):
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, tuple):
        return [_attr_value(v) for v in value]
    return value


def simple(onnx_type: str, **renames: str) -> Emitter:
    """One ONNX node on the operands; `renames` maps ONNX attribute -> kiln attribute."""

    def emit(g: Graph, op: Operation) -> None:
        attrs = {onnx_name: _attr_value(op.attr(kiln_name))
                 for onnx_name, kiln_name in renames.items()}
        g.node(onnx_type, _inputs(g, op), g.result, **attrs)

    return emit


def _same(*names: str) -> dict[str, str]:
    return {n: n for n in names}


# ops that are one ONNX node with no attribute
PLAIN = {"relu": "Relu", "sigmoid": "Sigmoid", "tanh": "Tanh", "sqrt": "Sqrt", "exp": "Exp",
         "log": "Log", "neg": "Neg", "abs": "Abs", "reciprocal": "Reciprocal",
         "floor": "Floor", "ceil": "Ceil", "round": "Round", "sign": "Sign", "erf": "Erf",
         "not": "Not", "softplus": "Softplus", "softsign": "Softsign", "mish": "Mish",
         "hard_swish": "HardSwish", "prelu": "PRelu", "where": "Where",
         "global_average_pool": "GlobalAveragePool", "global_max_pool": "GlobalMaxPool",
         "matmul": "MatMul", "add": "Add", "sub": "Sub", "mul": "Mul", "div": "Div",
         "pow": "Pow", "min": "Min", "max": "Max", "equal": "Equal", "less": "Less",
         "less_or_equal": "LessOrEqual", "greater": "Greater",
         "greater_or_equal": "GreaterOrEqual", "and": "And", "or": "Or", "xor": "Xor"}
# ops that are one ONNX node with attributes: kiln op -> (ONNX op, ONNX attr -> kiln attr)
WITH_ATTRS: dict[str, tuple[str, dict[str, str]]] = {
    "elu": ("Elu", _same("alpha")),
    "selu": ("Selu", _same("alpha", "gamma")),
    "leaky_relu": ("LeakyRelu", _same("alpha")),
    "hard_sigmoid": ("HardSigmoid", _same("alpha", "beta")),
    "shrink": ("Shrink", _same("bias", "lambd")),
    "gelu": ("Gelu", _same("approximate")),
    "softmax": ("Softmax", _same("axis")),
    "log_softmax": ("LogSoftmax", _same("axis")),
    "mod": ("Mod", _same("fmod")),
    "transpose": ("Transpose", _same("perm")),
    "concat": ("Concat", _same("axis")),
    "gather": ("Gather", _same("axis")),
    "gather_elements": ("GatherElements", _same("axis")),
    "gather_nd": ("GatherND", _same("batch_dims")),
    "depth_to_space": ("DepthToSpace", _same("blocksize", "mode")),
    "space_to_depth": ("SpaceToDepth", _same("blocksize")),
    "einsum": ("Einsum", _same("equation")),
    "gemm": ("Gemm", {"alpha": "alpha", "beta": "beta", "transA": "trans_a",
                      "transB": "trans_b"}),
    "conv_transpose": ("ConvTranspose", _same("strides", "pads", "dilations",
                                              "output_padding", "group")),
    "max_pool": ("MaxPool", _same("kernel_shape", "strides", "pads", "dilations",
                                  "ceil_mode")),
    "average_pool": ("AveragePool", _same("kernel_shape", "strides", "pads", "dilations",
                                          "ceil_mode", "count_include_pad")),
    "batch_normalization": ("BatchNormalization", _same("epsilon")),
    "instance_normalization": ("InstanceNormalization", _same("epsilon")),
    "layer_normalization": ("LayerNormalization", _same("axis", "epsilon")),
    "lp_normalization": ("LpNormalization", _same("axis", "p")),
    "lrn": ("LRN", _same("size", "alpha", "beta", "bias")),
    "arg_max": ("ArgMax", _same("axis", "keepdims", "select_last_index")),
    "arg_min": ("ArgMin", _same("axis", "keepdims", "select_last_index")),
}


# -- ops that need more than one node or inputs made from attributes -----------------------------
def _conv(g: Graph, op: Operation) -> None:
    ins = _inputs(g, op)
    kernel = list(op.filter.type.shape[2:])
    y = g.node("Conv", ins, None if op.do_relu else g.result, kernel_shape=kernel,
               strides=list(op.strides), pads=list(op.pads), dilations=list(op.dilations),
               group=op.group)
    if op.do_relu:
        g.node("Relu", [y], g.result)


def _silu(g: Graph, op: Operation) -> None:
    x = g.name(op.input)
    g.node("Mul", [x, g.node("Sigmoid", [x])], g.result)


def _clip(g: Graph, op: Operation) -> None:
    dtype = storage_dtype(op.input.type)
    bounds = ["" if v is None else g.const(np.asarray(v).astype(dtype), name)
              for v, name in ((op.min, "min"), (op.max, "max"))]
    while bounds and not bounds[-1]:
        bounds.pop()
    g.node("Clip", [g.name(op.input), *bounds], g.result)


def _cast(g: Graph, op: Operation) -> None:
    g.node("Cast", [g.name(op.input)], g.result, to=onnx_dtype(op.to.numpy_dtype))


# reductions over no axis (`axes = []`, the importer's noop_with_empty_axes): elementwise
_EMPTY_REDUCE = {"top.reduce_l1": "Abs", "top.reduce_l2": "Abs"}


def _reduce(onnx_type: str) -> Emitter:
    def emit(g: Graph, op: Operation) -> None:
        x = g.name(op.input)
        if not op.axes:
            if op.name == "top.reduce_sum_square":
                g.node("Mul", [x, x], g.result)
            else:
                g.node(_EMPTY_REDUCE.get(op.name, "Identity"), [x], g.result)
            return
        g.node(onnx_type, [x, g.ints(op.axes, "axes")], g.result,
               keepdims=int(op.keepdims))

    return emit


def _reshape(g: Graph, op: Operation) -> None:
    g.node("Reshape", [g.name(op.input), g.ints(op.shape, "shape")], g.result, allowzero=1)


def _slice(g: Graph, op: Operation) -> None:
    rank = len(op.starts)
    g.node("Slice", [g.name(op.input), g.ints(op.starts, "starts"), g.ints(op.ends, "ends"),
                     g.ints(range(rank), "axes"), g.ints(op.steps, "steps")], g.result)


def _with_ints(onnx_type: str, attr: str) -> Emitter:
    def emit(g: Graph, op: Operation) -> None:
        g.node(onnx_type, [g.name(op.input), g.ints(op.attr(attr), attr)], g.result)

    return emit


def _pad(g: Graph, op: Operation) -> None:
    ins = [g.name(op.input), g.ints(op.pads, "pads")]
    if op.mode == "constant":
        value = np.asarray(op.value).astype(storage_dtype(op.input.type))
        p = g.float_view.get(id(op.input))
        if p is not None:  # the integer value, dequantized
            value = np.float32((float(value) - p.zero_point[0]) * p.scale[0])
        ins.append(g.const(value, "value"))
    g.node("Pad", ins, g.result, mode=op.mode)


def _topk(index: int) -> Emitter:
    def emit(g: Graph, op: Operation) -> None:
        outs = [g.tmp("values"), g.tmp("indices")]
        outs[index] = g.result
        g.node("TopK", [g.name(op.input), g.ints([op.k], "k")], outputs=outs, axis=op.axis,
               largest=int(op.largest), sorted=int(op.sorted))

    return emit


def _cumsum(g: Graph, op: Operation) -> None:
    g.node("CumSum", [g.name(op.input), g.const(np.asarray(op.axis, np.int64), "axis")],
           g.result, exclusive=int(op.exclusive), reverse=int(op.reverse))


def _scatter_nd(g: Graph, op: Operation) -> None:
    reduction = None if op.reduction == "none" else op.reduction
    g.node("ScatterND", _inputs(g, op), g.result, reduction=reduction)


def _resize(g: Graph, op: Operation) -> None:
    """ONNX Resize takes scales or sizes: scales when they give kiln's sizes the way
    onnxruntime sizes the output, else sizes when they imply kiln's scales."""
    shape = op.input.type.shape
    f32 = np.float32
    scales = [f32(s) for s in op.scales]
    sizes = list(op.sizes)
    roi = g.const(np.asarray(op.roi, np.float32), "roi") if op.roi else ""
    if [int(s * f32(d)) for s, d in zip(scales, shape)] == sizes:
        ins = [g.name(op.input), roi, g.const(np.asarray(scales, np.float32), "scales")]
    elif [f32(n) / f32(d) for n, d in zip(sizes, shape)] == scales:
        ins = [g.name(op.input), roi, "", g.ints(sizes, "sizes")]
    else:
        raise export_error(op, f"scales {list(op.scales)} and sizes {sizes} cannot both hold "
                               "in an ONNX Resize")
    attrs = {"mode": op.mode, "coordinate_transformation_mode":
             op.coordinate_transformation_mode}
    if op.mode == "nearest":
        attrs["nearest_mode"] = op.nearest_mode
    if op.mode == "cubic":
        attrs.update(cubic_coeff_a=float(op.cubic_coeff_a),
                     exclude_outside=int(op.exclude_outside))
    if op.coordinate_transformation_mode == "tf_crop_and_resize":
        attrs["extrapolation_value"] = float(op.extrapolation_value)
    g.node("Resize", ins, g.result, **attrs)


EMITTERS: dict[str, Emitter] = {
    **{f"top.{k}": simple(v) for k, v in PLAIN.items()},
    **{f"top.{k}": simple(t, **renames) for k, (t, renames) in WITH_ATTRS.items()},
    "top.conv": _conv, "top.silu": _silu, "top.clip": _clip, "top.cast": _cast,
    **{f"top.reduce_{k}": _reduce(f"Reduce{v}") for k, v in {
        "mean": "Mean", "sum": "Sum", "max": "Max", "min": "Min", "prod": "Prod", "l1": "L1",
        "l2": "L2", "sum_square": "SumSquare", "log_sum_exp": "LogSumExp"}.items()},
    "top.reshape": _reshape, "top.slice": _slice, "top.tile": _with_ints("Tile", "repeats"),
    "top.expand": _with_ints("Expand", "shape"), "top.pad": _pad,
    "top.topk_values": _topk(0), "top.topk_indices": _topk(1), "top.cumsum": _cumsum,
    "top.scatter_nd": _scatter_nd, "top.resize": _resize,
}


def is_move(op: Operation) -> bool:
    """Does the op only move values (so it may run on quantized integers)?"""
    return op.name in MOVE_OPS or (op.name == "top.resize" and op.mode == "nearest")


def emit(g: Graph, op: Operation) -> None:
    """Emit a top op: float ops as their ONNX op; moves of a quantized tensor on its
    integers (as kiln's interpreter runs them), through float where onnxruntime lacks the
    integer kernel; any other top op reading a quantized operand is an error."""
    emitter = EMITTERS.get(op.name)
    if emitter is None:
        raise export_error(op, "has no ONNX mapping (no emitter for this op)")
    if not any(is_quantized(v.type) for v in op.operands):
        emitter(g, op)
        return
    if not is_move(op):
        raise export_error(op, "reads a !quant.uniform operand, but only ops that move "
                               "values (reshape, transpose, slice, nearest resize, ...) can "
                               "run on quantized integers; dequantize it first (npu.cast)")
    x = op.operands[0]
    if op.name not in FLOAT_FOR_WIDE or storage_dtype(x.type) in (np.int8, np.uint8):
        emitter(g, op)
        return
    p, stored, result = QParams.of_type(x.type), g.tensor_of[id(x)], g.result
    g.tensor_of[id(x)], g.float_view[id(x)], g.result = g.dq(stored, p), p, g.tmp("moved")
    try:
        emitter(g, op)
    finally:
        g.tensor_of[id(x)] = stored
        del g.float_view[id(x)]
    moved, g.result = g.result, result
    g.q(moved, p, x.type.scalar, result, x.type.rank)
