"""Builders for elementwise math, comparison, logic, Where and Cast (top ops in math.py).

Add/Sub/Mul/Div are in ops_core.py. ONNX's variadic Min, Max and Sum become a chain of binary
top.min / top.max / top.add, static inputs first so that they fold together; Mean is that Sum
divided by the number of inputs.
"""

from __future__ import annotations

import numpy as np
import onnx

from ...compiler.types import ScalarType, scalar_type_of
from ...dialects import top
from .importer import ImportContext, TensorRef
from .registry import onnx_op


def f32_attr(value: float) -> float:
    """An ONNX float attribute (a float32) as the shortest decimal that reads back to the same
    float32: `alpha = 0.01` rather than `0.009999999776482582` in the IR."""
    return float(str(np.float32(value)))


def same_tensor(ctx: ImportContext, ref: TensorRef) -> TensorRef:
    """The current node's output as `ref` itself (Identity-like builders). A new TensorRef for
    the same value: the importer empties the example array of an input's ref after its last
    consumer, which must not empty the output's too when that is still to be used."""
    if ref.static:
        return ref
    return TensorRef(ctx.out_name, ref.array, ref.value)


_UNARY = {
    "Sqrt": top.SqrtOp, "Exp": top.ExpOp, "Log": top.LogOp, "Neg": top.NegOp,
    "Abs": top.AbsOp, "Reciprocal": top.ReciprocalOp, "Floor": top.FloorOp,
    "Ceil": top.CeilOp, "Round": top.RoundOp, "Sign": top.SignOp, "Erf": top.ErfOp,
    "Not": top.NotOp,
}

_BINARY = {
    "Pow": top.PowOp, "Equal": top.EqualOp, "Less": top.LessOp,
    "LessOrEqual": top.LessOrEqualOp, "Greater": top.GreaterOp,
    "GreaterOrEqual": top.GreaterOrEqualOp, "And": top.AndOp, "Or": top.OrOp,
    "Xor": top.XorOp,
}


@onnx_op(*_UNARY)
def unary(ctx: ImportContext, node: onnx.NodeProto, x: TensorRef) -> TensorRef:
    return ctx.emit(_UNARY[node.op_type], [x])


@onnx_op(*_BINARY)
def binary(ctx: ImportContext, node: onnx.NodeProto, a: TensorRef, b: TensorRef) -> TensorRef:
    return ctx.emit(_BINARY[node.op_type], [a, b])


@onnx_op("Mod")
def mod(ctx: ImportContext, node: onnx.NodeProto, a: TensorRef, b: TensorRef, *,
        fmod: int = 0) -> TensorRef:
    if not fmod and np.dtype(a.dtype).kind == "f":
        raise ValueError("Mod of float inputs requires fmod=1 (ONNX)")
    return ctx.emit(top.ModOp, [a, b], fmod=bool(fmod))


def _chain(ctx: ImportContext, node: onnx.NodeProto, op_class: type,
           inputs: tuple[TensorRef | None, ...], last_loc: str | None = None) -> TensorRef:
    """`inputs` combined left to right by a binary op (multidirectional broadcasting), the
    static inputs first so that they fold into one constant; the last op gets `last_loc`
    (default: the node's output name), the others `<output>_<k>`."""
    if not inputs or any(x is None for x in inputs):
        raise ValueError(f"{node.op_type} needs one or more inputs, none of them empty")
    ordered = sorted(inputs, key=lambda r: not r.static)  # stable: static ones first
    acc = same_tensor(ctx, ordered[0]) if len(ordered) == 1 else ordered[0]
    for i, ref in enumerate(ordered[1:], start=1):
        loc = last_loc if i == len(ordered) - 1 else ctx.sub_loc(str(i))
        acc = ctx.emit(op_class, [acc, ref], loc=loc)
    return acc


@onnx_op("Min", "Max")
def min_max(ctx: ImportContext, node: onnx.NodeProto, *inputs: TensorRef | None) -> TensorRef:
    """Min and max are associative and commutative (NaN included): a chain of binary ops."""
    return _chain(ctx, node, top.MinOp if node.op_type == "Min" else top.MaxOp, inputs)


@onnx_op("Sum")
def sum_(ctx: ImportContext, node: onnx.NodeProto, *inputs: TensorRef | None) -> TensorRef:
    """A chain of top.add (for floats the order of additions may differ from another
    runtime's by rounding only)."""
    return _chain(ctx, node, top.AddOp, inputs)


@onnx_op("Mean")
def mean(ctx: ImportContext, node: onnx.NodeProto, *inputs: TensorRef | None) -> TensorRef:
    """The Sum chain, then one top.div by the number of inputs (float types only, as ONNX)."""
    if inputs and len(inputs) == 1 and inputs[0] is not None:
        return same_tensor(ctx, inputs[0])
    total = _chain(ctx, node, top.AddOp, inputs, last_loc=ctx.sub_loc("sum"))
    if np.dtype(total.dtype).kind != "f":
        raise ValueError(f"Mean of {total.dtype} inputs is not supported (ONNX: floats only)")
    count = ctx.constant(np.array(len(inputs), dtype=total.dtype), name=ctx.sub_loc("count"))
    return ctx.emit(top.DivOp, [total, count])


@onnx_op("Where")
def where(ctx: ImportContext, node: onnx.NodeProto, cond: TensorRef, x: TensorRef,
          y: TensorRef) -> TensorRef:
    return ctx.emit(top.WhereOp, [cond, x, y])


def element_type(onnx_type: int) -> ScalarType:
    """The kiln element type of an ONNX TensorProto data type; ValueError if there is none."""
    try:
        name = onnx.TensorProto.DataType.Name(onnx_type)
    except ValueError:
        name = str(onnx_type)
    try:
        dtype = np.dtype(onnx.helper.tensor_dtype_to_np_dtype(onnx_type))
    except (KeyError, TypeError, ValueError):
        raise ValueError(f"element type {name} is not supported") from None
    if dtype.kind not in "biuf":
        raise ValueError(f"element type {name} is not supported")
    return scalar_type_of(dtype)


@onnx_op("Cast")
def cast(ctx: ImportContext, node: onnx.NodeProto, x: TensorRef, *, to: int,
         saturate: int = 1) -> TensorRef:
    """`saturate` only concerns float8 targets, which are not supported anyway."""
    if np.dtype(x.dtype).kind not in "biuf":
        raise ValueError(f"Cast from {x.dtype} is not supported")
    return ctx.emit(top.CastOp, [x], to=element_type(to))


@onnx_op("CastLike")
def cast_like(ctx: ImportContext, node: onnx.NodeProto, x: TensorRef, target: TensorRef, *,
              saturate: int = 1) -> TensorRef:
    """Cast to the element type of `target` (only its type is used, never its value)."""
    if np.dtype(x.dtype).kind not in "biuf":
        raise ValueError(f"CastLike from {x.dtype} is not supported")
    return ctx.emit(top.CastOp, [x], to=scalar_type_of(target.dtype))
