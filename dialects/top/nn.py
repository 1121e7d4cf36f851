"""top ops: neural-network ops other than Conv (which lives in base.py).

ConvTranspose, the pooling ops, MatMul and Gemm. As everywhere in `top`, attributes are
normalized at import: `auto_pad` and ConvTranspose's `output_shape` are resolved into explicit
ONNX-order `pads` ([x1_begin, x2_begin, ..., x1_end, x2_end]), and every default (strides,
dilations, ...) is filled in, so passes and kernels never re-derive them.
"""

from __future__ import annotations

import numpy as np

from ...compiler.opdef import OpDef, attr, op_error, tensor_type
from ...compiler.types import TensorType
from ...kernels import conv as conv_kernels
from ...kernels import elementwise as ew
from ...kernels import pool as pool_kernels


def _check_spatial_attrs(op: OpDef, spatial: int, names: tuple[str, ...], minimum: int) -> None:
    """Each named ints attribute has one entry per spatial dim, all >= minimum."""
    for name in names:
        values = op.attr(name)
        if len(values) != spatial:
            raise op_error(op, f"'{name}' needs {spatial} values, got {len(values)}")
        if any(v < minimum for v in values):
            raise op_error(op, f"'{name}' values must be >= {minimum}, got {list(values)}")


def _check_pads(op: OpDef, spatial: int) -> None:
    pads = op.attr("pads")
    if len(pads) != 2 * spatial:
        raise op_error(op, f"'pads' needs {2 * spatial} values, got {len(pads)}")
    if any(p < 0 for p in pads):
        raise op_error(op, f"'pads' values must be >= 0, got {list(pads)}")


def _check_result(op: OpDef, x: TensorType, r: TensorType, expected: list[int]) -> None:
    """Compare the result shape with the one computed from a static input shape."""
    if r.expressed != x.expressed:  # ranges (!quant.calibrated) may differ
        raise op_error(op, "result element type differs from the input's")
    if x.is_static and r.is_static and tuple(expected) != r.shape:
        raise op_error(op, f"result shape {r.shape} should be {tuple(expected)}")


# -- transposed convolution --------------------------------------------------------------------
class ConvTransposeOp(OpDef):
    """N-D transposed convolution, NC... layout; filter `(C, M / group, *K)`.

    `pads` crop the full scatter output (ONNX order) and `output_padding` extends it at the
    end; `auto_pad` and `output_shape` were resolved into `pads` at import."""

    NAME = "top.conv_transpose"
    OPERANDS = ("input", "filter", "bias?")
    RESULTS = ("output",)
    ATTRS = {"strides": attr("ints"), "pads": attr("ints"), "dilations": attr("ints"),
             "output_padding": attr("ints"), "group": attr("int", default=1)}
    PURE = True

    def verify_(self) -> None:
        x = tensor_type(self, self.input, "input")
        w = tensor_type(self, self.filter, "filter")
        r = tensor_type(self, self.output, "result")
        spatial = x.rank - 2
        if spatial < 1 or w.rank != x.rank or r.rank != x.rank:
            raise op_error(self, f"input, filter and result must have the same rank >= 3; got "
                                 f"{x.rank}, {w.rank}, {r.rank}")
        _check_spatial_attrs(self, spatial, ("strides", "dilations"), 1)
        _check_spatial_attrs(self, spatial, ("output_padding",), 0)
        _check_pads(self, spatial)
        group = self.group
        if group < 1:
            raise op_error(self, f"group must be >= 1, got {group}")
        if x.shape[1] >= 0 and w.shape[0] >= 0 and x.shape[1] != w.shape[0]:
            raise op_error(self, f"input has {x.shape[1]} channels but the filter's first "
                                 f"dimension is {w.shape[0]}")
        if x.shape[1] >= 0 and x.shape[1] % group:
            raise op_error(self, f"input channels {x.shape[1]} are not divisible by group "
                                 f"{group}")
        out_channels = w.shape[1] * group
        if self.bias is not None:
            b = tensor_type(self, self.bias, "bias")
            if b.shape != (out_channels,):
                raise op_error(self, f"bias shape {b.shape} must be ({out_channels},)")
        if not (x.is_static and w.is_static):
            return
        spatial_out = conv_kernels.conv_transpose_output_shape(
            x.shape[2:], w.shape[2:], strides=self.strides, pads=self.pads,
            dilations=self.dilations, output_padding=self.output_padding)
        if any(o < 1 for o in spatial_out):
            raise op_error(self, f"pads {list(self.pads)} leave an empty output "
                                 f"{tuple(spatial_out)}")
        _check_result(self, x, r, [x.shape[0], out_channels, *spatial_out])

    def compute(self, x, w, b=None):
        return conv_kernels.conv_transpose(
            x, w, b, strides=self.strides, pads=self.pads, dilations=self.dilations,
            group=self.group, output_padding=self.output_padding)


# -- pooling -----------------------------------------------------------------------------------
class _WindowPool(OpDef):
    """A pool over windows of `kernel_shape` (NC... layout)."""

    OPERANDS = ("input",)
    RESULTS = ("output",)
    PURE = True

    def verify_(self) -> None:
        x = tensor_type(self, self.input, "input")
        r = tensor_type(self, self.output, "result")
        spatial = x.rank - 2
        if spatial < 1 or r.rank != x.rank:
            raise op_error(self, f"input and result must have the same rank >= 3; got "
                                 f"{x.rank} and {r.rank}")
        _check_spatial_attrs(self, spatial, ("kernel_shape", "strides", "dilations"), 1)
        _check_pads(self, spatial)
        for i in range(spatial):
            if self.pads[i] >= self.kernel_shape[i] or \
                    self.pads[spatial + i] >= self.kernel_shape[i]:
                raise op_error(self, f"pads {list(self.pads)} must be smaller than the "
                                     f"kernel {list(self.kernel_shape)}")
        if not x.is_static:
            return
        try:
            out = pool_kernels.pool_output_shape(x.shape[2:], self.kernel_shape, self.strides,
                                                 self.pads, self.dilations, self.ceil_mode)
        except ValueError as e:
            raise op_error(self, str(e)) from None
        _check_result(self, x, r, [*x.shape[:2], *out])


class MaxPoolOp(_WindowPool):
    """ONNX MaxPool, values only (the Indices output is not supported)."""

    NAME = "top.max_pool"
    ATTRS = {"kernel_shape": attr("ints"), "strides": attr("ints"), "pads": attr("ints"),
             "dilations": attr("ints"), "ceil_mode": attr("bool", default=False)}

    def compute(self, x):
        return pool_kernels.max_pool(x, kernel_shape=self.kernel_shape, strides=self.strides,
                                     pads=self.pads, dilations=self.dilations,
                                     ceil_mode=self.ceil_mode)


class AveragePoolOp(_WindowPool):
    """ONNX AveragePool: `count_include_pad` counts the explicit pads in the divisor."""

    NAME = "top.average_pool"
    ATTRS = {"kernel_shape": attr("ints"), "strides": attr("ints"), "pads": attr("ints"),
             "dilations": attr("ints"), "ceil_mode": attr("bool", default=False),
             "count_include_pad": attr("bool", default=False)}

    def compute(self, x):
        return pool_kernels.avg_pool(x, kernel_shape=self.kernel_shape, strides=self.strides,
                                     pads=self.pads, dilations=self.dilations,
                                     ceil_mode=self.ceil_mode,
                                     count_include_pad=self.count_include_pad)


class _GlobalPool(OpDef):
    """A reduction over every spatial axis of `(N, C, *S)`, kept as size 1."""

    OPERANDS = ("input",)
    RESULTS = ("output",)
    PURE = True

    def verify_(self) -> None:
        x = tensor_type(self, self.input, "input")
        r = tensor_type(self, self.output, "result")
        if x.rank < 3:
            raise op_error(self, f"input must be (N, C, *spatial), got rank {x.rank}")
        if r.rank != x.rank:
            raise op_error(self, f"result rank {r.rank} differs from input rank {x.rank}")
        _check_result(self, x, r, [*x.shape[:2]] + [1] * (x.rank - 2))


class GlobalAveragePoolOp(_GlobalPool):
    NAME = "top.global_average_pool"

    def compute(self, x):
        return pool_kernels.global_avg_pool(x)


class GlobalMaxPoolOp(_GlobalPool):
    NAME = "top.global_max_pool"

    def compute(self, x):
        return pool_kernels.global_max_pool(x)


# -- matrix products ---------------------------------------------------------------------------
def matmul_shape(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...] | str:
    """numpy.matmul's result shape for static shapes, or a message saying why they don't fit.

    1-D operands are promoted (a: prepend 1, b: append 1) and the added axis dropped; the
    batch dims broadcast."""
    if not a or not b:
        return "operands must have rank >= 1"
    a2 = (1, *a) if len(a) == 1 else a
    b2 = (*b, 1) if len(b) == 1 else b
    if a2[-1] != b2[-2]:
        return f"inner dimensions differ: {a} and {b}"
    batch_a, batch_b = a2[:-2], b2[:-2]
    n = max(len(batch_a), len(batch_b))
    batch_a = (1,) * (n - len(batch_a)) + batch_a
    batch_b = (1,) * (n - len(batch_b)) + batch_b
    batch = []
    for da, db in zip(batch_a, batch_b):
        if da != db and 1 not in (da, db):
            return f"batch dimensions of {a} and {b} do not broadcast"
        batch.append(db if da == 1 else da)
    out = [*batch, a2[-2], b2[-1]]
    if len(b) == 1:
        out.pop(-1)
    if len(a) == 1:
        out.pop(-2 if len(b) > 1 else -1)
    return tuple(out)


class MatMulOp(OpDef):
    """numpy.matmul: batch dims broadcast, 1-D operands promoted and the added axis dropped."""

    NAME = "top.matmul"
    OPERANDS = ("lhs", "rhs")
    RESULTS = ("output",)
    PURE = True

    def verify_(self) -> None:
        a = tensor_type(self, self.lhs, "lhs")
        b = tensor_type(self, self.rhs, "rhs")
        r = tensor_type(self, self.output, "result")
        if a.expressed != b.expressed or r.expressed != a.expressed:
            raise op_error(self, "operands and result must have one element type")
        if not (a.is_static and b.is_static):
            return
        shape = matmul_shape(a.shape, b.shape)
        if isinstance(shape, str):
            raise op_error(self, shape)
        if r.is_static and shape != r.shape:
            raise op_error(self, f"result shape {r.shape} should be {shape}")

    def compute(self, a, b):
        return np.asarray(ew.matmul(a, b))  # 1-D @ 1-D gives a numpy scalar


class GemmOp(OpDef):
    """alpha * A' @ B' + beta * C, A and B 2-D (' = transposed when trans_a / trans_b), C
    optional and unidirectionally broadcast to [M, N]. Kept whole at import (a later pass
    may split it into matmul + add)."""

    NAME = "top.gemm"
    OPERANDS = ("a", "b", "c?")
    RESULTS = ("output",)
    ATTRS = {"alpha": attr("float", default=1.0), "beta": attr("float", default=1.0),
             "trans_a": attr("bool", default=False), "trans_b": attr("bool", default=False)}
    PURE = True

    def verify_(self) -> None:
        a = tensor_type(self, self.a, "A")
        b = tensor_type(self, self.b, "B")
        r = tensor_type(self, self.output, "result")
        if a.rank != 2 or b.rank != 2 or r.rank != 2:
            raise op_error(self, f"A, B and the result must be 2-D; got ranks {a.rank}, "
                                 f"{b.rank}, {r.rank}")
        if a.expressed != b.expressed or r.expressed != a.expressed:
            raise op_error(self, "A, B and the result must have one element type")
        m, k = (a.shape[1], a.shape[0]) if self.trans_a else a.shape
        k2, n = (b.shape[1], b.shape[0]) if self.trans_b else b.shape
        if k >= 0 and k2 >= 0 and k != k2:
            raise op_error(self, f"inner dimensions differ: A' is {(m, k)} and B' is {(k2, n)}")
        if self.c is not None:
            c = tensor_type(self, self.c, "C")
            if c.rank > 2 or any(dc not in (1, dt) for dc, dt in
                                 zip(reversed(c.shape), (n, m)) if dc >= 0 and dt >= 0):
                raise op_error(self, f"C of shape {c.shape} does not broadcast to {(m, n)}")
        if a.is_static and b.is_static and r.is_static and r.shape != (m, n):
            raise op_error(self, f"result shape {r.shape} should be {(m, n)}")

    def compute(self, a, b, c=None):
        return ew.gemm(a, b, c, alpha=self.alpha, beta=self.beta, trans_a=self.trans_a,
                       trans_b=self.trans_b)


__all__ = ["AveragePoolOp", "ConvTransposeOp", "GemmOp", "GlobalAveragePoolOp",
           "GlobalMaxPoolOp", "MatMulOp", "MaxPoolOp"]
