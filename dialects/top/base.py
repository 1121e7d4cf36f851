"""The `top` dialect: float ops with ONNX semantics and normalized attributes.

Attributes are normalized at import: axes are non-negative, pads are explicit (ONNX order
[x1_begin, x2_begin, ..., x1_end, x2_end]), kernel shapes and defaults are filled in, so passes
and kernels never re-derive them.
"""

from __future__ import annotations

import numpy as np

from ...compiler.attributes import DenseAttr
from ...compiler.opdef import OpDef, attr, op_error, tensor_type
from ...compiler.types import NoneType, ScalarType, TensorType
from ...kernels import activation as act
from ...kernels import conv as conv_kernels
from ...kernels import elementwise as ew


def broadcast_shapes(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...] | None:
    """Numpy/ONNX multidirectional broadcast of two static shapes; None if incompatible."""
    try:
        return tuple(np.broadcast_shapes(a, b))
    except ValueError:
        return None


def _show(t) -> str:
    from ...compiler.text.printer import format_type
    return format_type(t)


# -- sources of values -------------------------------------------------------------------------
class WeightOp(OpDef):
    """`%w = top.weight @"name" : tensor<...>`: a tensor stored in the module's weights file."""

    NAME = "top.weight"
    RESULTS = ("output",)
    ATTRS = {"ref": attr("symbol")}
    SYMBOL_ATTR = "ref"
    PURE = True

    def verify_(self) -> None:
        tensor_type(self, self.output, "weight")
        module = self.parent.parent.parent if self.parent and self.parent.parent else None
        store = getattr(module, "weights", None)
        if store is not None:
            store.check(self.ref.name, self.output.type, self)

    def evaluate(self, ctx, args):
        if ctx.weights is None:
            raise ValueError("the module has no weights file")
        return [ctx.weights.get(self.ref.name)]


class ConstantOp(OpDef):
    """`%c = top.constant {value = dense<...> : T} : T`: a small inline constant."""

    NAME = "top.constant"
    RESULTS = ("output",)
    ATTRS = {"value": attr("dense")}
    PURE = True

    def verify_(self) -> None:
        value: DenseAttr = self.attributes["value"]
        if value.type != self.output.type:
            raise op_error(self, f"value has type {_show(value.type)} but the result is "
                                 f"{_show(self.output.type)}")

    def compute(self):
        return self.attributes["value"].array


class NoneOp(OpDef):
    """`%n = top.none : none`: stands for an omitted optional operand."""

    NAME = "top.none"
    RESULTS = ("output",)
    PURE = True

    def verify_(self) -> None:
        if not isinstance(self.output.type, NoneType):
            raise op_error(self, "result must have type none")

    def evaluate(self, ctx, args):
        return [None]


# -- elementwise -------------------------------------------------------------------------------
class UnaryOp(OpDef):
    """A float op applied element by element: the result has the operand's shape."""

    OPERANDS = ("input",)
    RESULTS = ("output",)
    PURE = True

    def verify_(self) -> None:
        a = tensor_type(self, self.input, "operand")
        r = tensor_type(self, self.output, "result")
        if a.shape != r.shape:
            raise op_error(self, f"result shape {r.shape} differs from operand shape {a.shape}")


class BinaryOp(OpDef):
    """A two-operand op with multidirectional broadcasting."""

    OPERANDS = ("lhs", "rhs")
    RESULTS = ("output",)
    PURE = True

    def verify_(self) -> None:
        a = tensor_type(self, self.lhs, "lhs")
        b = tensor_type(self, self.rhs, "rhs")
        r = tensor_type(self, self.output, "result")
        if not (a.is_static and b.is_static):
            return
        shape = broadcast_shapes(a.shape, b.shape)
        if shape is None:
            raise op_error(self, f"operand shapes {a.shape} and {b.shape} do not broadcast")
        if r.is_static and shape != r.shape:
            raise op_error(self, f"result shape {r.shape} is not the broadcast shape {shape}")


class AddOp(BinaryOp):
    NAME = "top.add"
    COMMUTATIVE = True

    def compute(self, a, b):
        return ew.add(a, b)


class SubOp(BinaryOp):
    NAME = "top.sub"

    def compute(self, a, b):
        return ew.sub(a, b)


class MulOp(BinaryOp):
    NAME = "top.mul"
    COMMUTATIVE = True

    def compute(self, a, b):
        return ew.mul(a, b)


class DivOp(BinaryOp):
    NAME = "top.div"

    def compute(self, a, b):
        return ew.div(a, b)


class ReluOp(UnaryOp):
    NAME = "top.relu"

    def compute(self, x):
        return act.relu(x)


class SigmoidOp(UnaryOp):
    NAME = "top.sigmoid"

    def compute(self, x):
        return act.sigmoid(x)


# -- convolution -------------------------------------------------------------------------------
class ConvOp(OpDef):
    """N-D convolution, NC... layout; `pads` explicit in ONNX order."""

    NAME = "top.conv"
    OPERANDS = ("input", "filter", "bias?")
    RESULTS = ("output",)
    ATTRS = {"strides": attr("ints"), "pads": attr("ints"), "dilations": attr("ints"),
             "group": attr("int", default=1), "do_relu": attr("bool", default=False)}
    PURE = True

    def verify_(self) -> None:
        x = tensor_type(self, self.input, "input")
        w = tensor_type(self, self.filter, "filter")
        r = tensor_type(self, self.output, "result")
        spatial = x.rank - 2
        if spatial < 1 or w.rank != x.rank or r.rank != x.rank:
            raise op_error(self, f"input, filter and result must have the same rank >= 3; got "
                                 f"{x.rank}, {w.rank}, {r.rank}")
        for name in ("strides", "dilations"):
            if len(self.attributes[name]) != spatial:
                raise op_error(self, f"'{name}' needs {spatial} values")
        if len(self.attributes["pads"]) != 2 * spatial:
            raise op_error(self, f"'pads' needs {2 * spatial} values")
        group = self.group
        if group < 1 or w.shape[0] % group:
            raise op_error(self, f"filter has {w.shape[0]} output channels, not a multiple of "
                                 f"group {group}")
        if isinstance(r.element, ScalarType) and isinstance(x.element, ScalarType) and \
                r.element != x.element:
            raise op_error(self, f"result element type {_show(r.element)} differs from the "
                                 f"input's {_show(x.element)}")
        if x.shape[1] >= 0 and x.shape[1] != w.shape[1] * group:
            raise op_error(self, f"input has {x.shape[1]} channels but filter expects "
                                 f"{w.shape[1]} x group {group}")
        if self.bias is not None:
            b = tensor_type(self, self.bias, "bias")
            if b.shape != (w.shape[0],):
                raise op_error(self, f"bias shape {b.shape} must be ({w.shape[0]},)")
        expected = [x.shape[0], w.shape[0]]
        for i in range(spatial):
            k = (w.shape[2 + i] - 1) * self.dilations[i] + 1
            size = x.shape[2 + i] + self.pads[i] + self.pads[spatial + i]
            expected.append((size - k) // self.strides[i] + 1)
        if x.is_static and r.is_static and tuple(expected) != r.shape:
            raise op_error(self, f"result shape {r.shape} should be {tuple(expected)}")

    def compute(self, x, w, b=None):
        y = conv_kernels.conv(x, w, b, strides=self.strides, pads=self.pads,
                              dilations=self.dilations, group=self.group)
        if self.do_relu:  # the conv's result is fresh: rectify it in place (NaN propagates)
            np.maximum(y, y.dtype.type(0), out=y)
        return y


class ReshapeOp(OpDef):
    """Reshape to `shape` (static; ONNX's shape operand, 0 and -1 are resolved at import)."""

    NAME = "top.reshape"
    OPERANDS = ("input",)
    RESULTS = ("output",)
    ATTRS = {"shape": attr("ints")}
    PURE = True

    def verify_(self) -> None:
        a = tensor_type(self, self.input, "operand")
        r = tensor_type(self, self.output, "result")
        if a.is_static and r.is_static and a.num_elements != r.num_elements:
            raise op_error(self, f"cannot reshape {a.shape} ({a.num_elements} elements) to "
                                 f"{r.shape} ({r.num_elements} elements)")
        if tuple(self.shape) != r.shape:
            raise op_error(self, f"attribute shape {list(self.shape)} differs from the result "
                                 f"shape {r.shape}")

    def compute(self, x):
        return x.reshape(self.shape)


class TransposeOp(OpDef):
    NAME = "top.transpose"
    OPERANDS = ("input",)
    RESULTS = ("output",)
    ATTRS = {"perm": attr("ints")}
    PURE = True

    def verify_(self) -> None:
        a = tensor_type(self, self.input, "operand")
        r = tensor_type(self, self.output, "result")
        perm = self.perm
        if sorted(perm) != list(range(a.rank)):
            raise op_error(self, f"perm {list(perm)} is not a permutation of {a.rank} axes")
        if tuple(a.shape[p] for p in perm) != r.shape:
            raise op_error(self, f"result shape {r.shape} is not the permuted operand shape")

    def compute(self, x):
        return np.ascontiguousarray(np.transpose(x, self.perm))


__all__ = [name for name, obj in list(globals().items())
           if isinstance(obj, type) and issubclass(obj, OpDef) and obj is not OpDef]
_ = TensorType  # re-exported for dialect users
