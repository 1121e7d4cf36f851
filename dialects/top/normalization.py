"""top ops: normalizations with inference semantics (kernels/normalization.py).

The parameters (scale, bias, mean, var) are operands, usually `top.weight`s, so a later pass
can fold BatchNormalization into a preceding convolution. Each op has the single result Y:
the importer rejects models that use LayerNormalization's Mean/InvStdDev outputs or the
training outputs of BatchNormalization.
"""

from __future__ import annotations

import numpy as np

from ...compiler.opdef import OpDef, attr, op_error, tensor_type
from ...compiler.types import TensorType
from ...kernels import normalization as norm
from .math import check_axis, check_element, check_like_input


def _check_per_channel(op: OpDef, x: TensorType, names: tuple[str, ...]) -> None:
    """Each named operand has shape (C,), C being dimension 1 of the N, C, ... input."""
    if x.rank < 2:
        raise op_error(op, f"input must be N, C, ... (rank >= 2), got shape {x.shape}")
    for name in names:
        t = tensor_type(op, getattr(op, name), name)
        if x.shape[1] >= 0 and t.shape != (x.shape[1],):
            raise op_error(op, f"{name} shape {t.shape} must be ({x.shape[1]},)")


def _check_epsilon(op: OpDef) -> None:
    if not op.epsilon >= 0:
        raise op_error(op, f"epsilon must be >= 0, got {op.epsilon}")


class BatchNormalizationOp(OpDef):
    """(x - mean) / sqrt(var + epsilon) * scale + bias, per channel (dimension 1)."""

    NAME = "top.batch_normalization"
    OPERANDS = ("input", "scale", "bias", "mean", "var")
    RESULTS = ("output",)
    ATTRS = {"epsilon": attr("float", default=1e-5)}
    PURE = True

    def verify_(self) -> None:
        x, _ = check_like_input(self, self.input, "input")
        check_element(self, "input", x, float_only=True)
        _check_per_channel(self, x, ("scale", "bias", "mean", "var"))
        _check_epsilon(self)

    def compute(self, x, scale, bias, mean, var):
        return norm.batch_norm(x, scale, bias, mean, var, epsilon=self.epsilon)


class LayerNormalizationOp(OpDef):
    """Normalize over dimensions axis..rank-1, then * scale + bias (both broadcast over the
    normalized shape); statistics in float64."""

    NAME = "top.layer_normalization"
    OPERANDS = ("input", "scale", "bias?")
    RESULTS = ("output",)
    ATTRS = {"axis": attr("int"), "epsilon": attr("float", default=1e-5)}
    PURE = True

    def verify_(self) -> None:
        x, _ = check_like_input(self, self.input, "input")
        check_element(self, "input", x, float_only=True)
        check_axis(self, self.axis, x.rank)
        _check_epsilon(self)
        normalized = x.shape[self.axis:]
        for name in ("scale", "bias"):
            v = getattr(self, name)
            if v is None:
                continue
            t = tensor_type(self, v, name)
            if not (x.is_static and t.is_static):
                continue
            try:
                ok = np.broadcast_shapes(t.shape, normalized) == normalized
            except ValueError:
                ok = False
            if not ok:
                raise op_error(self, f"{name} shape {t.shape} does not broadcast to the "
                                     f"normalized shape {normalized}")

    def compute(self, x, scale, bias=None):
        return norm.layer_norm(x, scale, bias, axis=self.axis, epsilon=self.epsilon)


class InstanceNormalizationOp(OpDef):
    """Normalize each (n, c) over the spatial dimensions, then per-channel scale and bias."""

    NAME = "top.instance_normalization"
    OPERANDS = ("input", "scale", "bias")
    RESULTS = ("output",)
    ATTRS = {"epsilon": attr("float", default=1e-5)}
    PURE = True

    def verify_(self) -> None:
        x, _ = check_like_input(self, self.input, "input")
        check_element(self, "input", x, float_only=True)
        _check_per_channel(self, x, ("scale", "bias"))
        _check_epsilon(self)

    def compute(self, x, scale, bias):
        return norm.instance_norm(x, scale, bias, epsilon=self.epsilon)


class LpNormalizationOp(OpDef):
    """x / ||x||_p along `axis`, p in {1, 2}; an all-zero slice stays zero."""

    NAME = "top.lp_normalization"
    OPERANDS = ("input",)
    RESULTS = ("output",)
    ATTRS = {"axis": attr("int"), "p": attr("int", default=2)}
    PURE = True

    def verify_(self) -> None:
        x, _ = check_like_input(self, self.input, "input")
        check_element(self, "input", x, float_only=True)
        check_axis(self, self.axis, x.rank)
        if self.p not in (1, 2):
            raise op_error(self, f"p must be 1 or 2, got {self.p}")

    def compute(self, x):
        return norm.lp_normalization(x, axis=self.axis, p=self.p)


class LRNOp(OpDef):
    """Local response normalization across channels (dimension 1):
    x / (bias + alpha / size * window sum of x^2) ** beta."""

    NAME = "top.lrn"
    OPERANDS = ("input",)
    RESULTS = ("output",)
    ATTRS = {"size": attr("int"), "alpha": attr("float", default=1e-4),
             "beta": attr("float", default=0.75), "bias": attr("float", default=1.0)}
    PURE = True

    def verify_(self) -> None:
        x, _ = check_like_input(self, self.input, "input")
        check_element(self, "input", x, float_only=True)
        if x.rank < 2:
            raise op_error(self, f"input must be N, C, ... (rank >= 2), got shape {x.shape}")
        if self.size < 1:
            raise op_error(self, f"size must be >= 1, got {self.size}")

    def compute(self, x):
        return norm.lrn(x, size=self.size, alpha=self.alpha, beta=self.beta, bias=self.bias)


__all__ = [name for name, obj in list(globals().items())
           if isinstance(obj, type) and issubclass(obj, OpDef) and obj.NAME
           and obj.__module__ == __name__]
