"""top ops: activations (kernels/activation.py).

Relu and Sigmoid live in base.py. Every activation keeps its input's shape and float element
type (Shrink: any numeric type). Softmax and LogSoftmax have the opset-13 semantics (normalize
along one axis); the importer lowers the older "coerce to 2-D at axis" form to reshapes around
them. `top.silu` (x * sigmoid(x)) has no ONNX op: a fusion pass forms it from sigmoid + mul.
"""

from __future__ import annotations

import numpy as np

from ...compiler.opdef import OpDef, attr, op_error, tensor_type
from ...compiler.types import BOOL
from ...kernels import activation as act
from .base import UnaryOp
from .math import check_axis, check_element, check_like_input


class _Activation(UnaryOp):
    """Float in, same shape and float type out."""

    def verify_(self) -> None:
        a, _ = check_like_input(self, self.input)
        check_element(self, "operand", a, float_only=True)


class LeakyReluOp(_Activation):
    NAME = "top.leaky_relu"
    ATTRS = {"alpha": attr("float", default=0.01)}

    def compute(self, x):
        return act.leaky_relu(x, alpha=self.alpha)


class PReluOp(OpDef):
    """x if x >= 0 else slope * x; `slope` broadcasts to the input (a per-channel NCHW slope
    is [C, 1, 1])."""

    NAME = "top.prelu"
    OPERANDS = ("input", "slope")
    RESULTS = ("output",)
    PURE = True

    def verify_(self) -> None:
        x, _ = check_like_input(self, self.input, "input")
        check_element(self, "input", x, float_only=True)
        s = tensor_type(self, self.slope, "slope")
        if x.is_static and s.is_static:
            try:
                ok = np.broadcast_shapes(s.shape, x.shape) == x.shape
            except ValueError:
                ok = False
            if not ok:
                raise op_error(self, f"slope shape {s.shape} does not broadcast to the input "
                                     f"shape {x.shape}")

    def compute(self, x, slope):
        return act.prelu(x, slope)


class ClipOp(_Activation):
    """Clamp to [min, max]; a missing bound is unbounded (ONNX's min/max inputs, which must be
    static, become these attributes)."""

    NAME = "top.clip"
    ATTRS = {"min": attr("float", default=None), "max": attr("float", default=None)}

    def verify_(self) -> None:
        check_like_input(self, self.input)  # integer inputs are allowed too

    def compute(self, x):
        return act.clip(x, self.min, self.max)


class HardSigmoidOp(_Activation):
    NAME = "top.hard_sigmoid"
    ATTRS = {"alpha": attr("float", default=0.2), "beta": attr("float", default=0.5)}

    def compute(self, x):
        return act.hard_sigmoid(x, alpha=self.alpha, beta=self.beta)


class HardSwishOp(_Activation):
    NAME = "top.hard_swish"

    def compute(self, x):
        return act.hard_swish(x)


class GeluOp(_Activation):
    """0.5 x (1 + erf(x / sqrt 2)), or the tanh approximation (ONNX Gelu-20)."""

    NAME = "top.gelu"
    ATTRS = {"approximate": attr("string", default="none", choices=("none", "tanh"))}

    def compute(self, x):
        return act.gelu(x, approximate=self.approximate)


class TanhOp(_Activation):
    NAME = "top.tanh"

    def compute(self, x):
        return act.tanh(x)


class SoftplusOp(_Activation):
    NAME = "top.softplus"

    def compute(self, x):
        return act.softplus(x)


class MishOp(_Activation):
    NAME = "top.mish"

    def compute(self, x):
        return act.mish(x)


class EluOp(_Activation):
    NAME = "top.elu"
    ATTRS = {"alpha": attr("float", default=1.0)}

    def compute(self, x):
        return act.elu(x, alpha=self.alpha)


class SeluOp(_Activation):
    NAME = "top.selu"
    ATTRS = {"alpha": attr("float", default=act.SELU_ALPHA),
             "gamma": attr("float", default=act.SELU_GAMMA)}

    def compute(self, x):
        return act.selu(x, alpha=self.alpha, gamma=self.gamma)


class SoftsignOp(_Activation):
    NAME = "top.softsign"

    def compute(self, x):
        return act.softsign(x)


class ShrinkOp(_Activation):
    """x + bias if x < -lambd, x - bias if x > lambd, else 0; any numeric element type."""

    NAME = "top.shrink"
    ATTRS = {"bias": attr("float", default=0.0), "lambd": attr("float", default=0.5)}

    def verify_(self) -> None:
        a, _ = check_like_input(self, self.input)
        if a.expressed == BOOL:
            raise op_error(self, "operand must be numeric, got bool")

    def compute(self, x):
        return act.shrink(x, bias=self.bias, lambd=self.lambd)


class SiluOp(_Activation):
    """x * sigmoid(x) (swish); made by fusion, not imported."""

    NAME = "top.silu"

    def compute(self, x):
        return act.silu(x)


class _AxisActivation(_Activation):
    """An activation normalizing along one (non-negative) axis."""

    ATTRS = {"axis": attr("int")}

    def verify_(self) -> None:
        super().verify_()
        check_axis(self, self.axis, self.input.type.rank)


class SoftmaxOp(_AxisActivation):
    NAME = "top.softmax"

    def compute(self, x):
        return act.softmax(x, axis=self.axis)


class LogSoftmaxOp(_AxisActivation):
    NAME = "top.log_softmax"

    def compute(self, x):
        return act.log_softmax(x, axis=self.axis)


__all__ = [name for name, obj in list(globals().items())
           if isinstance(obj, type) and issubclass(obj, OpDef) and obj.NAME
           and obj.__module__ == __name__]
