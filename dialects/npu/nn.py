"""npu ops over windows and matrices: conv2d, deconv2d, matmul, max_pool, avg_pool."""

from __future__ import annotations

import math

from ...compiler.opdef import OpDef, attr, op_error
from ...compiler.types import TensorType
from ...kernels import conv as conv_kernels
from ...kernels import integer as ik
from .common import check_bias, check_requant, check_weight, check_zp, int_tensor


def _check_window(op: OpDef, names: tuple[str, ...], minimum: int) -> None:
    for name in names:
        values = op.attr(name)
        if len(values) != 2 or any(v < minimum for v in values):
            raise op_error(op, f"'{name}' needs 2 values >= {minimum}, got {list(values)}")
    pads = op.attr("pads")
    if len(pads) != 4 or any(p < 0 for p in pads):
        raise op_error(op, f"'pads' needs 4 values >= 0, got {list(pads)}")


def _check_shape(op: OpDef, x: TensorType, r: TensorType, channels: int,
                 kernel: tuple[int, ...], dilations) -> None:
    if x.rank != 4 or r.rank != 4:
        raise op_error(op, f"input and result must be NCHW (rank 4), got ranks {x.rank}, "
                           f"{r.rank}")
    if not (x.is_static and r.is_static):
        return
    spatial = conv_kernels.conv_output_shape(x.shape[2:], list(kernel), strides=op.strides,
                                             pads=op.pads, dilations=dilations)
    expected = (x.shape[0], channels, *spatial)
    if r.shape != expected:
        raise op_error(op, f"result shape {r.shape} should be {expected}")


def _operands(op: OpDef, layout: str) -> tuple[TensorType, TensorType, TensorType]:
    """(input, filter, result) types of a quantized conv-like op, checked as far as the two
    ops agree: integer input and result, an integer symmetric rank-4 filter."""
    x = int_tensor(op, op.input, "input")
    w = op.filter.type
    if not isinstance(w, TensorType) or w.rank != 4:
        raise op_error(op, f"filter must be a rank-4 tensor ({layout})")
    check_weight(op, w)
    r = int_tensor(op, op.output, "result")
    _check_window(op, ("strides", "dilations"), 1)
    return x, w, r


def _check_requantized(op: OpDef, x: TensorType, r: TensorType, channels: int) -> None:
    check_bias(op, op.bias, channels)
    check_requant(op, op.multiplier, op.shift, channels)
    check_zp(op, x, op.input_zp, "input")
    check_zp(op, r, op.output_zp, "output")


class Conv2dOp(OpDef):
    """Quantized 2-D conv, NCHW: int8/uint8 input with `input_zp` (padding is the zero point),
    i8 symmetric per-channel filter, optional i32 bias, int32 accumulation, then requantized
    per output channel (`multiplier`/`shift`: 1 or M values); `do_relu` clamps at
    `output_zp`."""

    NAME = "npu.conv2d"
    OPERANDS = ("input", "filter", "bias?")
    RESULTS = ("output",)
    ATTRS = {"strides": attr("ints"), "pads": attr("ints"), "dilations": attr("ints"),
             "group": attr("int", default=1), "input_zp": attr("int", default=0),
             "multiplier": attr("ints"), "shift": attr("ints"),
             "output_zp": attr("int", default=0), "do_relu": attr("bool", default=False)}
    PURE = True

    def verify_(self) -> None:
        x, w, r = _operands(self, "M, C / group, KH, KW")
        m = w.shape[0]
        if self.group < 1 or m % self.group:
            raise op_error(self, f"filter has {m} output channels, not a multiple of group "
                                 f"{self.group}")
        if x.rank == 4 and x.shape[1] >= 0 and x.shape[1] != w.shape[1] * self.group:
            raise op_error(self, f"input has {x.shape[1]} channels but filter expects "
                                 f"{w.shape[1]} x group {self.group}")
        _check_shape(self, x, r, m, w.shape[2:], self.dilations)
        _check_requantized(self, x, r, m)

    def compute(self, x, w, b=None):
        return ik.conv2d(x, w, b, input_zp=self.input_zp, multiplier=self.multiplier,
                         shift=self.shift, output_zp=self.output_zp,
                         dtype=self.output.type.scalar, strides=self.strides,
                         pads=self.pads, dilations=self.dilations, group=self.group,
                         do_relu=self.do_relu)


class Deconv2dOp(OpDef):
    """Quantized 2-D transposed conv (group 1), NCHW: int8/uint8 input with `input_zp`, i8
    symmetric filter (C, M, KH, KW) per output channel (axis 1), optional i32 bias, int32
    accumulation, requantized per output channel as npu.conv2d. `pads` crop the scattered
    output and `output_padding` extends it, as ONNX ConvTranspose."""

    NAME = "npu.deconv2d"
    OPERANDS = ("input", "filter", "bias?")
    RESULTS = ("output",)
    ATTRS = {"strides": attr("ints"), "pads": attr("ints"), "dilations": attr("ints"),
             "output_padding": attr("ints"), "input_zp": attr("int", default=0),
             "multiplier": attr("ints"), "shift": attr("ints"),
             "output_zp": attr("int", default=0), "do_relu": attr("bool", default=False)}
    PURE = True

    def verify_(self) -> None:
        x, w, r = _operands(self, "C, M, KH, KW")
        extra = self.output_padding
        if len(extra) != 2 or any(p < 0 for p in extra):
            raise op_error(self, f"'output_padding' needs 2 values >= 0, got {list(extra)}")
        if x.rank != 4 or r.rank != 4:
            raise op_error(self, f"input and result must be NCHW (rank 4), got ranks "
                                 f"{x.rank}, {r.rank}")
        m = w.shape[1]
        if x.shape[1] >= 0 and x.shape[1] != w.shape[0]:
            raise op_error(self, f"input has {x.shape[1]} channels but the filter's first "
                                 f"dimension is {w.shape[0]}")
        if x.is_static and r.is_static:
            spatial = conv_kernels.conv_transpose_output_shape(
                x.shape[2:], w.shape[2:], strides=self.strides, pads=self.pads,
                dilations=self.dilations, output_padding=extra)
            expected = (x.shape[0], m, *spatial)
            if r.shape != expected:
                raise op_error(self, f"result shape {r.shape} should be {expected}")
        _check_requantized(self, x, r, m)

    def compute(self, x, w, b=None):
        return ik.deconv2d(x, w, b, input_zp=self.input_zp, multiplier=self.multiplier,
                           shift=self.shift, output_zp=self.output_zp,
                           dtype=self.output.type.scalar, strides=self.strides,
                           pads=self.pads, dilations=self.dilations,
                           output_padding=self.output_padding, do_relu=self.do_relu)


class MatmulOp(OpDef):
    """Quantized (..., K) x (K, N) + i32 bias, requantized per column (N values) or per
    tensor; same scheme as npu.conv2d."""

    NAME = "npu.matmul"
    OPERANDS = ("input", "weight", "bias?")
    RESULTS = ("output",)
    ATTRS = {"input_zp": attr("int", default=0), "multiplier": attr("ints"),
             "shift": attr("ints"), "output_zp": attr("int", default=0),
             "do_relu": attr("bool", default=False)}
    PURE = True

    def verify_(self) -> None:
        x = int_tensor(self, self.input, "input")
        w = self.weight.type
        if not isinstance(w, TensorType) or w.rank != 2:
            raise op_error(self, "weight must be a rank-2 tensor (K, N)")
        check_weight(self, w)
        r = int_tensor(self, self.output, "result")
        k, n = w.shape
        if x.rank < 1 or x.shape[-1] != k:
            raise op_error(self, f"input shape {x.shape} does not end in K = {k}")
        if r.shape != (*x.shape[:-1], n):
            raise op_error(self, f"result shape {r.shape} should be {(*x.shape[:-1], n)}")
        check_bias(self, self.bias, n)
        check_requant(self, self.multiplier, self.shift, n)
        check_zp(self, x, self.input_zp, "input")
        check_zp(self, r, self.output_zp, "output")

    def compute(self, x, w, b=None):
        return ik.matmul(x, w, b, input_zp=self.input_zp, multiplier=self.multiplier,
                         shift=self.shift, output_zp=self.output_zp,
                         dtype=self.output.type.scalar, do_relu=self.do_relu)


class MaxPoolOp(OpDef):
    """Integer 2-D max pool, NCHW; the result has the input's element type."""

    NAME = "npu.max_pool"
    OPERANDS = ("input",)
    RESULTS = ("output",)
    ATTRS = {"kernel_shape": attr("ints"), "strides": attr("ints"), "pads": attr("ints")}
    PURE = True

    def verify_(self) -> None:
        x = int_tensor(self, self.input, "input")
        r = int_tensor(self, self.output, "result")
        _check_window(self, ("kernel_shape", "strides"), 1)
        if r.element != x.element:
            raise op_error(self, "result element type differs from the input's")
        _check_shape(self, x, r, x.shape[1] if x.rank else 0, self.kernel_shape, [1, 1])

    def compute(self, x):
        return ik.max_pool(x, kernel_shape=self.kernel_shape, strides=self.strides,
                           pads=self.pads)


class AvgPoolOp(OpDef):
    """Integer 2-D average pool, NCHW: window sum of (x - input_zp), requantized by entry
    `count - 1` of `multiplier`/`shift` (prod(kernel_shape) values, the fixed-point form of
    in_scale / (out_scale * count)); count excludes padding unless `count_include_pad`."""

    NAME = "npu.avg_pool"
    OPERANDS = ("input",)
    RESULTS = ("output",)
    ATTRS = {"kernel_shape": attr("ints"), "strides": attr("ints"), "pads": attr("ints"),
             "count_include_pad": attr("bool", default=False),
             "input_zp": attr("int", default=0), "multiplier": attr("ints"),
             "shift": attr("ints"), "output_zp": attr("int", default=0)}
    PURE = True

    def verify_(self) -> None:
        x = int_tensor(self, self.input, "input")
        r = int_tensor(self, self.output, "result")
        _check_window(self, ("kernel_shape", "strides"), 1)
        _check_shape(self, x, r, x.shape[1] if x.rank else 0, self.kernel_shape, [1, 1])
        taps = math.prod(self.kernel_shape)
        if len(self.multiplier) != taps:
            raise op_error(self, f"'multiplier' needs {taps} values (one per window count), "
                                 f"got {len(self.multiplier)}")
        check_requant(self, self.multiplier, self.shift, taps)
        check_zp(self, x, self.input_zp, "input")
        check_zp(self, r, self.output_zp, "output")

    def compute(self, x):
        return ik.avg_pool(x, kernel_shape=self.kernel_shape, strides=self.strides,
                           pads=self.pads, count_include_pad=self.count_include_pad,
                           input_zp=self.input_zp, multiplier=self.multiplier,
                           shift=self.shift, output_zp=self.output_zp,
                           dtype=self.output.type.scalar)


__all__ = ["AvgPoolOp", "Conv2dOp", "Deconv2dOp", "MatmulOp", "MaxPoolOp"]
