"""npu ops on values: requant, add, mul, concat, lut and cast."""

from __future__ import annotations

import numpy as np

from ...compiler.attributes import DenseAttr
from ...compiler.opdef import OpDef, attr, op_error, tensor_type
from ...compiler.types import ScalarType, TensorType, UniformPerAxisType, UniformType
from ...kernels import integer as ik
from .common import check_broadcast, check_requant, check_same_shape, check_zp, int_tensor


class RequantOp(OpDef):
    """`out = clamp(round((x - input_zp) * M) + output_zp)`, M = multiplier * 2^-(31 + shift),
    per tensor (one multiplier) or per channel along `axis`; e.g. i32 -> i8, i8 -> i16."""

    NAME = "npu.requant"
    OPERANDS = ("input",)
    RESULTS = ("output",)
    ATTRS = {"multiplier": attr("ints"), "shift": attr("ints"), "axis": attr("int", default=1),
             "input_zp": attr("int", default=0), "output_zp": attr("int", default=0)}
    PURE = True

    def verify_(self) -> None:
        a = int_tensor(self, self.input, "input")
        r = int_tensor(self, self.output, "result")
        check_same_shape(self, a, r)
        channels = None
        if len(self.multiplier) > 1:  # per channel: the axis matters
            if not 0 <= self.axis < a.rank:
                raise op_error(self, f"axis {self.axis} is out of range for rank {a.rank}")
            channels = a.shape[self.axis]
        check_requant(self, self.multiplier, self.shift, channels)
        check_zp(self, a, self.input_zp, "input")
        check_zp(self, r, self.output_zp, "output")

    def compute(self, x):
        return ik.requant(x, self.multiplier, self.shift, axis=self.axis,
                          input_zp=self.input_zp, output_zp=self.output_zp,
                          dtype=self.output.type.scalar)


class AddOp(OpDef):
    """TFLite's quantized add: each input minus its zero point, shifted left by `left_shift`
    and requantized to a common int32 scale, summed, then requantized to the output."""

    NAME = "npu.add"
    OPERANDS = ("lhs", "rhs")
    RESULTS = ("output",)
    ATTRS = {"lhs_zp": attr("int", default=0), "rhs_zp": attr("int", default=0),
             "lhs_multiplier": attr("int"), "lhs_shift": attr("int"),
             "rhs_multiplier": attr("int"), "rhs_shift": attr("int"),
             "left_shift": attr("int", default=20),
             "output_multiplier": attr("int"), "output_shift": attr("int"),
             "output_zp": attr("int", default=0), "do_relu": attr("bool", default=False)}
    PURE = True
    COMMUTATIVE = False  # the attributes are per side

    def verify_(self) -> None:
        a = int_tensor(self, self.lhs, "lhs")
        b = int_tensor(self, self.rhs, "rhs")
        r = int_tensor(self, self.output, "result")
        check_broadcast(self, a, b, r)
        for side in ("lhs", "rhs", "output"):
            check_requant(self, (self.attr(f"{side}_multiplier"),),
                          (self.attr(f"{side}_shift"),), None, side)
        if not 0 <= self.left_shift <= 30:
            raise op_error(self, f"left_shift {self.left_shift} is not in [0, 30]")
        check_zp(self, a, self.lhs_zp, "lhs")
        check_zp(self, b, self.rhs_zp, "rhs")
        check_zp(self, r, self.output_zp, "output")

    def compute(self, a, b):
        names = ("lhs_zp", "rhs_zp", "lhs_multiplier", "lhs_shift", "rhs_multiplier",
                 "rhs_shift", "left_shift", "output_multiplier", "output_shift", "output_zp",
                 "do_relu")
        return ik.add(a, b, dtype=self.output.type.scalar,
                      **{n: self.attr(n) for n in names})


class MulOp(OpDef):
    """Quantized multiply of two tensors (broadcasting): `out = clamp(round((lhs - lhs_zp) *
    (rhs - rhs_zp) * M) + output_zp)`, M = multiplier * 2^-(31 + shift) = lhs_scale *
    rhs_scale / output_scale; the product is exact, the one rounding is requantize's."""

    NAME = "npu.mul"
    OPERANDS = ("lhs", "rhs")
    RESULTS = ("output",)
    ATTRS = {"lhs_zp": attr("int", default=0), "rhs_zp": attr("int", default=0),
             "multiplier": attr("int"), "shift": attr("int"),
             "output_zp": attr("int", default=0)}
    PURE = True
    COMMUTATIVE = False  # the zero points are per side

    def verify_(self) -> None:
        a = int_tensor(self, self.lhs, "lhs")
        b = int_tensor(self, self.rhs, "rhs")
        r = int_tensor(self, self.output, "result")
        check_broadcast(self, a, b, r)
        for t, what in ((a, "lhs"), (b, "rhs")):
            if t.scalar.bits > 16:
                raise op_error(self, f"{what} has {t.scalar.bits}-bit storage; npu.mul takes "
                                     "at most 16 bits")
        check_requant(self, (self.multiplier,), (self.shift,), None)
        check_zp(self, a, self.lhs_zp, "lhs")
        check_zp(self, b, self.rhs_zp, "rhs")
        check_zp(self, r, self.output_zp, "output")

    def compute(self, a, b):
        return ik.mul(a, b, lhs_zp=self.lhs_zp, rhs_zp=self.rhs_zp, multiplier=self.multiplier,
                      shift=self.shift, output_zp=self.output_zp,
                      dtype=self.output.type.scalar)


class ConcatOp(OpDef):
    """Concatenate along `axis`, each input requantized to the output's scale first (one
    zero point, multiplier and shift per input)."""

    NAME = "npu.concat"
    OPERANDS = ("inputs*",)
    RESULTS = ("output",)
    ATTRS = {"axis": attr("int"), "input_zps": attr("ints"), "multipliers": attr("ints"),
             "shifts": attr("ints"), "output_zp": attr("int", default=0)}
    PURE = True

    def verify_(self) -> None:
        types = [int_tensor(self, v, f"input #{i}") for i, v in enumerate(self.inputs)]
        r = int_tensor(self, self.output, "result")
        n = len(types)
        if n == 0:
            raise op_error(self, "needs at least one input")
        for name in ("input_zps", "multipliers", "shifts"):
            if len(self.attr(name)) != n:
                raise op_error(self, f"'{name}' needs {n} values, one per input")
        if not 0 <= self.axis < r.rank:
            raise op_error(self, f"axis {self.axis} is out of range for rank {r.rank}")
        for i, t in enumerate(types):
            if t.rank != r.rank or any(d != e for k, (d, e) in enumerate(zip(t.shape, r.shape))
                                       if k != self.axis):
                raise op_error(self, f"input #{i} shape {t.shape} does not match the result "
                                     f"{r.shape} outside axis {self.axis}")
            check_requant(self, (self.multipliers[i],), (self.shifts[i],), None, f"input #{i}")
            check_zp(self, t, self.input_zps[i], f"input #{i}")
        total = sum(t.shape[self.axis] for t in types)
        if r.shape[self.axis] != total:
            raise op_error(self, f"result has {r.shape[self.axis]} on axis {self.axis}, the "
                                 f"inputs {total}")
        check_zp(self, r, self.output_zp, "output")

    def compute(self, *arrays):
        return ik.concat(arrays, axis=self.axis, input_zps=self.input_zps,
                         multipliers=self.multipliers, shifts=self.shifts,
                         output_zp=self.output_zp, dtype=self.output.type.scalar)


class LutOp(OpDef):
    """Table lookup, one entry per input code from the input storage's minimum: 256 for
    i8/u8, 2^bits for 9 to 16 bits; built by kernels.integer.make_lut. The table is the
    `table` attribute (dense, for 8-bit inputs) or the `values` operand (a weight, for the
    wider tables). At 16 bits it holds the correctly rounded value of the function for every
    input: the exact treatment of nonlinear ops."""

    NAME = "npu.lut"
    OPERANDS = ("input", "values?")
    RESULTS = ("output",)
    ATTRS = {"table": attr("dense", default=None)}
    PURE = True

    def verify_(self) -> None:
        a = int_tensor(self, self.input, "input")
        r = int_tensor(self, self.output, "result")
        check_same_shape(self, a, r)
        lo, hi = a.scalar.int_range
        if hi - lo + 1 > 1 << 16:
            raise op_error(self, f"input storage must have at most 16 bits, got {a.scalar}")
        table: DenseAttr | None = self.attributes.get("table")
        if (table is None) == (self.values is None):
            raise op_error(self, "needs exactly one of the 'table' attribute and the values "
                                 "operand")
        t = table.type if table is not None else tensor_type(self, self.values, "values")
        if t.shape != (hi - lo + 1,):
            raise op_error(self, f"table must have {hi - lo + 1} entries (one per {a.scalar} "
                                 f"code), got shape {t.shape}")
        if t.scalar != r.scalar:
            raise op_error(self, f"table element {t.scalar} differs from the result "
                                 f"storage {r.scalar}")

    def compute(self, x, values=None):
        table = self.attributes["table"].array if values is None else values
        return ik.lut(x, table, self.input.type.scalar.int_range[0])


def _quant_params(t: TensorType) -> tuple[np.ndarray, np.ndarray]:
    """(scale, zero point) of a quantized tensor, shaped to broadcast against it."""
    el = t.element
    if isinstance(el, UniformType):
        return np.asarray(el.scale), np.asarray(el.zp)
    shape = [1] * t.rank
    shape[el.axis] = -1
    zps = el.zero_points or (0,) * len(el.scales)
    return np.asarray(el.scales).reshape(shape), np.asarray(zps).reshape(shape)


class CastOp(OpDef):
    """Quantize (float -> !quant.uniform, round half away from zero and clamp), dequantize
    (!quant.uniform -> float, f32), with the scale and zero point of the quantized type
    (per tensor or per axis); float -> float (f32 <-> f16 / bf16, round to nearest even); or
    integer -> integer (e.g. i8 <-> i16), which takes
    `multiplier`/`shift` and the zero points like npu.requant (per tensor)."""

    NAME = "npu.cast"
    OPERANDS = ("input",)
    RESULTS = ("output",)
    ATTRS = {"multiplier": attr("ints", default=()), "shift": attr("ints", default=()),
             "input_zp": attr("int", default=0), "output_zp": attr("int", default=0)}
    PURE = True

    def _mode(self) -> str:
        a, r = self.input.type.element, self.output.type.element
        quant = (UniformType, UniformPerAxisType)
        if isinstance(a, ScalarType) and a.is_float and isinstance(r, quant):
            return "quantize"
        if isinstance(a, quant) and isinstance(r, ScalarType) and r.is_float:
            return "dequantize"
        if isinstance(a, ScalarType) and isinstance(r, ScalarType) and a.is_float and \
                r.is_float:
            return "float"
        return "requant"

    def verify_(self) -> None:
        a = tensor_type(self, self.input, "input")
        r = tensor_type(self, self.output, "result")
        check_same_shape(self, a, r)
        mode = self._mode()
        has_requant = any(n in self.attributes for n in self.ATTRS)
        if mode == "float":
            if has_requant:
                raise op_error(self, "a cast between float types takes no attributes")
            return
        if mode != "requant":
            if has_requant:
                raise op_error(self, f"a {mode} cast takes its scale and zero point from the "
                                     "quantized type, not from attributes")
            if mode == "dequantize" and r.scalar.name != "f32":
                raise op_error(self, f"dequantize produces f32, got {r.scalar}")
            return
        int_tensor(self, self.input, "input")
        int_tensor(self, self.output, "result")
        if not self.multiplier:
            raise op_error(self, "an integer cast needs 'multiplier' and 'shift' (or cast "
                                 "between a float and a !quant.uniform type)")
        check_requant(self, self.multiplier, self.shift, None)
        check_zp(self, a, self.input_zp, "input")
        check_zp(self, r, self.output_zp, "output")

    def compute(self, x):
        mode = self._mode()
        if mode == "quantize":
            scale, zp = _quant_params(self.output.type)
            return ik.quantize(x, scale, zp, self.output.type.scalar)
        if mode == "dequantize":
            scale, zp = _quant_params(self.input.type)
            return ik.dequantize(x, scale, zp, np.float32)
        if mode == "float":  # round to nearest even, as numpy / ml_dtypes convert
            return np.asarray(x).astype(self.output.type.scalar.numpy_dtype)
        return ik.requant(x, self.multiplier, self.shift, input_zp=self.input_zp,
                          output_zp=self.output_zp, dtype=self.output.type.scalar)


__all__ = ["AddOp", "CastOp", "ConcatOp", "LutOp", "MulOp", "RequantOp"]
