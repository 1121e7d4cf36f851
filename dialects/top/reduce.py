"""top ops: reductions and ArgMax/ArgMin (kernels/reduce.py).

One op per reduction kind, with `axes` (sorted, non-negative, explicit: "all axes" is spelled
out at import) and `keepdims`. `axes = []` reduces nothing: that is how the importer writes
ONNX's noop_with_empty_axes for the kinds that still transform each element (L1, L2,
SumSquare, LogSumExp); the other kinds are the identity then and emit no op at all.
"""

from __future__ import annotations

from ...compiler.opdef import OpDef, attr, op_error, tensor_type
from ...compiler.types import I64
from ...kernels import reduce as red
from .math import check_axis, check_same_element


def reduced_shape(shape: tuple[int, ...], axes: tuple[int, ...] | list[int],
                  keepdims: bool) -> tuple[int, ...]:
    """The shape after reducing `axes` (non-negative) of `shape`."""
    if keepdims:
        return tuple(1 if i in axes else d for i, d in enumerate(shape))
    return tuple(d for i, d in enumerate(shape) if i not in axes)


class _ReduceOp(OpDef):
    OPERANDS = ("input",)
    RESULTS = ("output",)
    ATTRS = {"axes": attr("ints"), "keepdims": attr("bool", default=True)}
    PURE = True
    KERNEL = None  # the kernels/reduce.py function

    def verify_(self) -> None:
        x = tensor_type(self, self.input, "input")
        r = tensor_type(self, self.output, "result")
        check_same_element(self, ("input", x), ("result", r))
        axes = list(self.axes)
        for a in axes:
            check_axis(self, a, x.rank, "axes")
        if axes != sorted(set(axes)):
            raise op_error(self, f"axes {axes} must be sorted and unique")
        expected = reduced_shape(x.shape, axes, self.keepdims)
        if x.is_static and r.is_static and expected != r.shape:
            raise op_error(self, f"result shape {r.shape} should be {expected}")

    def compute(self, x):
        return type(self).KERNEL(x, axes=tuple(self.axes), keepdims=self.keepdims)


class ReduceMeanOp(_ReduceOp):
    NAME = "top.reduce_mean"
    KERNEL = staticmethod(red.reduce_mean)


class ReduceSumOp(_ReduceOp):
    NAME = "top.reduce_sum"
    KERNEL = staticmethod(red.reduce_sum)


class ReduceMaxOp(_ReduceOp):
    NAME = "top.reduce_max"
    KERNEL = staticmethod(red.reduce_max)


class ReduceMinOp(_ReduceOp):
    NAME = "top.reduce_min"
    KERNEL = staticmethod(red.reduce_min)


class ReduceProdOp(_ReduceOp):
    NAME = "top.reduce_prod"
    KERNEL = staticmethod(red.reduce_prod)


class ReduceL1Op(_ReduceOp):
    NAME = "top.reduce_l1"
    KERNEL = staticmethod(red.reduce_l1)


class ReduceL2Op(_ReduceOp):
    NAME = "top.reduce_l2"
    KERNEL = staticmethod(red.reduce_l2)


class ReduceSumSquareOp(_ReduceOp):
    NAME = "top.reduce_sum_square"
    KERNEL = staticmethod(red.reduce_sum_square)


class ReduceLogSumExpOp(_ReduceOp):
    NAME = "top.reduce_log_sum_exp"
    KERNEL = staticmethod(red.reduce_log_sum_exp)


class _ArgReduceOp(OpDef):
    """The i64 index of the extreme value along `axis` (the first, or the last one with
    select_last_index)."""

    OPERANDS = ("input",)
    RESULTS = ("output",)
    ATTRS = {"axis": attr("int"), "keepdims": attr("bool", default=True),
             "select_last_index": attr("bool", default=False)}
    PURE = True
    KERNEL = None

    def verify_(self) -> None:
        x = tensor_type(self, self.input, "input")
        r = tensor_type(self, self.output, "result")
        check_axis(self, self.axis, x.rank)
        if r.expressed != I64:
            raise op_error(self, f"result element type must be i64, got {r.expressed}")
        expected = reduced_shape(x.shape, [self.axis], self.keepdims)
        if x.is_static and r.is_static and expected != r.shape:
            raise op_error(self, f"result shape {r.shape} should be {expected}")

    def compute(self, x):
        return type(self).KERNEL(x, axis=self.axis, keepdims=self.keepdims,
                                 select_last_index=self.select_last_index)


class ArgMaxOp(_ArgReduceOp):
    NAME = "top.arg_max"
    KERNEL = staticmethod(red.argmax)


class ArgMinOp(_ArgReduceOp):
    NAME = "top.arg_min"
    KERNEL = staticmethod(red.argmin)


__all__ = [name for name, obj in list(globals().items())
           if isinstance(obj, type) and issubclass(obj, OpDef) and obj.NAME
           and obj.__module__ == __name__]
