"""top ops: tensor movement (concat, slice, gather/scatter, pad, tile, expand, depth/space,
topk, cumsum, einsum).

Attributes are normalized by the importer: axes are non-negative, Slice's starts/ends/steps
are given for every axis as numpy slice bounds, Expand's `shape` is the result shape, Pad's
`pads` cover every axis. Index operands (gather, scatter) stay operands so that they may be
computed by the model; the importer makes static negative indices non-negative, but the
kernels also wrap negative indices that are only known at run time.
"""

from __future__ import annotations

import re

import numpy as np

from ...compiler.opdef import OpDef, attr, op_error, tensor_type
from ...compiler.types import TensorType
from ...kernels import shape as sk
from ...kernels import space

_PAD_MODES = ("constant", "reflect", "edge", "wrap")
_SCATTER_REDUCTIONS = ("none", "add", "mul", "max", "min")


# -- verifier helpers ----------------------------------------------------------------------------
def _check_axis(op: OpDef, axis: int, rank: int) -> None:
    if not 0 <= axis < rank:
        raise op_error(op, f"axis {axis} is out of range [0, {rank})")


def _check_result(op: OpDef, expected, r: TensorType, *inputs: TensorType) -> None:
    """Compare the result shape with the expected one when every shape involved is static."""
    if r.is_static and all(t.is_static for t in inputs) and tuple(expected) != r.shape:
        raise op_error(op, f"result shape {r.shape} should be {tuple(expected)}")


def _check_same_element(op: OpDef, a: TensorType, r: TensorType, what: str = "operand") -> None:
    if a.scalar != r.scalar:
        raise op_error(op, f"result element type {r.scalar} differs from the {what}'s "
                           f"{a.scalar}")


def _check_indices(op: OpDef, t: TensorType) -> None:
    if not t.scalar.is_integer:
        raise op_error(op, f"indices must have an integer element type, got {t.scalar}")


class _MoveOp(OpDef):
    """One data operand, one result of the same element type."""

    OPERANDS = ("input",)
    RESULTS = ("output",)
    PURE = True

    def types(self) -> tuple[TensorType, TensorType]:
        x = tensor_type(self, self.input, "operand")
        r = tensor_type(self, self.output, "result")
        _check_same_element(self, x, r)
        return x, r


# -- joining and cutting -------------------------------------------------------------------------
class ConcatOp(OpDef):
    NAME = "top.concat"
    OPERANDS = ("inputs*",)
    RESULTS = ("output",)
    ATTRS = {"axis": attr("int")}
    PURE = True

    def verify_(self) -> None:
        xs = [tensor_type(self, v, f"operand {i}") for i, v in enumerate(self.inputs)]
        r = tensor_type(self, self.output, "result")
        if not xs:
            raise op_error(self, "needs at least one operand")
        _check_axis(self, self.axis, r.rank)
        for i, x in enumerate(xs):
            _check_same_element(self, x, r, f"operand {i}")
            if x.rank != r.rank or any(d != e for k, (d, e) in enumerate(zip(x.shape, r.shape))
                                       if k != self.axis and d >= 0 and e >= 0):
                raise op_error(self, f"operand {i} shape {x.shape} does not fit result shape "
                                     f"{r.shape} outside axis {self.axis}")
        total = sum(x.shape[self.axis] for x in xs)
        expected = r.shape[:self.axis] + (total,) + r.shape[self.axis + 1:]
        _check_result(self, expected, r, *xs)

    def compute(self, *xs):
        return sk.concat(xs, axis=self.axis)


class SliceOp(_MoveOp):
    """`x[s0:e0:t0, s1:e1:t1, ...]` with numpy semantics; one start/end/step per axis.

    Starts are in [0, dim) (0 for an empty slice); an end of -dim-1 with a negative step is
    numpy's way to say "through index 0" (-1 would mean the last element). The number of
    elements read along each axis is the result's dim.
    """

    NAME = "top.slice"
    ATTRS = {"starts": attr("ints"), "ends": attr("ints"), "steps": attr("ints")}

    def verify_(self) -> None:
        x, r = self.types()
        for name in ("starts", "ends", "steps"):
            if len(self.attributes[name]) != x.rank:
                raise op_error(self, f"'{name}' needs {x.rank} values (one per axis)")
        if 0 in self.steps:
            raise op_error(self, "steps may not be 0")
        expected = [len(range(*slice(s, e, t).indices(d)))
                    for d, s, e, t in zip(x.shape, self.starts, self.ends, self.steps)]
        _check_result(self, expected, r, x)

    def compute(self, x):
        index = tuple(slice(s, e, t) for s, e, t in zip(self.starts, self.ends,
                                                                  self.steps))
        return np.asarray(x)[index].copy()


class TileOp(_MoveOp):
    NAME = "top.tile"
    ATTRS = {"repeats": attr("ints")}

    def verify_(self) -> None:
        x, r = self.types()
        if len(self.repeats) != x.rank or any(k < 0 for k in self.repeats):
            raise op_error(self, f"'repeats' needs {x.rank} non-negative values")
        _check_result(self, [d * k for d, k in zip(x.shape, self.repeats)], r, x)

    def compute(self, x):
        return sk.tile(x, self.repeats)


class ExpandOp(_MoveOp):
    """Broadcast to `shape`, which is the result shape (ONNX's bidirectional rule resolved)."""

    NAME = "top.expand"
    ATTRS = {"shape": attr("ints")}

    def verify_(self) -> None:
        x, r = self.types()
        if tuple(self.shape) != r.shape:
            raise op_error(self, f"attribute shape {list(self.shape)} differs from the result "
                                 f"shape {r.shape}")
        if x.is_static and r.is_static:
            try:
                ok = np.broadcast_shapes(x.shape, r.shape) == r.shape
            except ValueError:
                ok = False
            if not ok:
                raise op_error(self, f"operand shape {x.shape} does not broadcast to {r.shape}")

    def compute(self, x):
        return sk.expand(x, self.shape)


class PadOp(_MoveOp):
    """Pad every axis: `pads` = [x1_begin, x2_begin, ..., x1_end, ...]; negative pads crop.
    `value` fills in constant mode (an int for integer tensors, so it stays exact)."""

    NAME = "top.pad"
    ATTRS = {"pads": attr("ints"), "mode": attr("string", "constant", _PAD_MODES),
             "value": attr("float", 0.0)}

    def verify_(self) -> None:
        x, r = self.types()
        n = x.rank
        if len(self.pads) != 2 * n:
            raise op_error(self, f"'pads' needs {2 * n} values")
        expected = [d + b + e for d, b, e in zip(x.shape, self.pads[:n], self.pads[n:])]
        if x.is_static and min(expected, default=0) < 0:
            raise op_error(self, f"pads {list(self.pads)} crop more than shape {x.shape}")
        _check_result(self, expected, r, x)

    def compute(self, x):
        return sk.pad(x, pads=self.pads, mode=self.mode, value=self.value)


# -- indexing ------------------------------------------------------------------------------------
class _IndexOp(OpDef):
    """Reads `input` at integer `indices`; the result has the input's element type."""

    OPERANDS = ("input", "indices")
    RESULTS = ("output",)
    PURE = True

    def types(self) -> tuple[TensorType, TensorType, TensorType]:
        x = tensor_type(self, self.input, "input")
        i = tensor_type(self, self.indices, "indices")
        r = tensor_type(self, self.output, "result")
        _check_indices(self, i)
        _check_same_element(self, x, r, "input")
        return x, i, r


class GatherOp(_IndexOp):
    """ONNX Gather: result shape = input[:axis] + indices.shape + input[axis+1:]."""

    NAME = "top.gather"
    ATTRS = {"axis": attr("int", 0)}

    def verify_(self) -> None:
        x, i, r = self.types()
        a = self.axis
        _check_axis(self, a, x.rank)
        _check_result(self, x.shape[:a] + i.shape + x.shape[a + 1:], r, x, i)

    def compute(self, x, indices):
        return sk.gather(x, indices, axis=self.axis)


class GatherElementsOp(_IndexOp):
    NAME = "top.gather_elements"
    ATTRS = {"axis": attr("int", 0)}

    def verify_(self) -> None:
        x, i, r = self.types()
        _check_axis(self, self.axis, x.rank)
        if i.rank != x.rank:
            raise op_error(self, f"indices rank {i.rank} differs from input rank {x.rank}")
        _check_result(self, i.shape, r, i)

    def compute(self, x, indices):
        return sk.gather_elements(x, indices, axis=self.axis)


def _nd_depth(op: OpDef, x: TensorType, i: TensorType, batch: int) -> int:
    """The number of data axes each index tuple addresses (indices' last dim)."""
    if i.rank < 1 or i.shape[-1] < 0:
        raise op_error(op, "indices need a static last dimension")
    k = i.shape[-1]
    if batch < 0 or batch >= min(x.rank, i.rank) or batch + k > x.rank:
        raise op_error(op, f"indices shape {i.shape} (batch_dims {batch}) do not fit input "
                           f"shape {x.shape}")
    return k


class GatherNDOp(_IndexOp):
    NAME = "top.gather_nd"
    ATTRS = {"batch_dims": attr("int", 0)}

    def verify_(self) -> None:
        x, i, r = self.types()
        k = _nd_depth(self, x, i, self.batch_dims)
        _check_result(self, i.shape[:-1] + x.shape[self.batch_dims + k:], r, x, i)

    def compute(self, x, indices):
        return sk.gather_nd(x, indices, batch_dims=self.batch_dims)


class ScatterNDOp(_IndexOp):
    NAME = "top.scatter_nd"
    OPERANDS = ("input", "indices", "updates")
    ATTRS = {"reduction": attr("string", "none", _SCATTER_REDUCTIONS)}

    def verify_(self) -> None:
        x, i, r = self.types()
        u = tensor_type(self, self.updates, "updates")
        _check_same_element(self, u, r, "updates")
        k = _nd_depth(self, x, i, 0)
        expected = i.shape[:-1] + x.shape[k:]
        if x.is_static and i.is_static and u.is_static and u.shape != expected:
            raise op_error(self, f"updates shape {u.shape} should be {expected}")
        _check_result(self, x.shape, r, x)

    def compute(self, x, indices, updates):
        return sk.scatter_nd(x, indices, updates, reduction=self.reduction)


# -- depth/space ---------------------------------------------------------------------------------
class _BlockOp(_MoveOp):
    def block_dims(self) -> tuple[TensorType, TensorType, int]:
        x, r = self.types()
        if x.rank != 4 or self.blocksize < 1:
            raise op_error(self, f"needs a 4-D operand and blocksize >= 1; got rank {x.rank}, "
                                 f"blocksize {self.blocksize}")
        return x, r, self.blocksize


class DepthToSpaceOp(_BlockOp):
    NAME = "top.depth_to_space"
    ATTRS = {"blocksize": attr("int"), "mode": attr("string", "DCR", ("DCR", "CRD"))}

    def verify_(self) -> None:
        x, r, b = self.block_dims()
        n, c, h, w = x.shape
        if x.is_static and c % (b * b):
            raise op_error(self, f"channels {c} are not divisible by blocksize^2 = {b * b}")
        _check_result(self, (n, c // (b * b), h * b, w * b), r, x)

    def compute(self, x):
        return space.depth_to_space(x, blocksize=self.blocksize, mode=self.mode)


class SpaceToDepthOp(_BlockOp):
    NAME = "top.space_to_depth"
    ATTRS = {"blocksize": attr("int")}

    def verify_(self) -> None:
        x, r, b = self.block_dims()
        n, c, h, w = x.shape
        if x.is_static and (h % b or w % b):
            raise op_error(self, f"H={h} and W={w} are not divisible by blocksize {b}")
        _check_result(self, (n, c * b * b, h // b, w // b), r, x)

    def compute(self, x):
        return space.space_to_depth(x, blocksize=self.blocksize)


# -- sorting and scanning ------------------------------------------------------------------------
class _TopKOp(OpDef):
    """ONNX TopK is two ops, one per output: values and int64 indices."""

    OPERANDS = ("input",)
    RESULTS = ("output",)
    ATTRS = {"k": attr("int"), "axis": attr("int"), "largest": attr("bool", True),
             "sorted": attr("bool", True)}
    PURE = True

    def verify_(self) -> None:
        x = tensor_type(self, self.input, "operand")
        r = tensor_type(self, self.output, "result")
        _check_axis(self, self.axis, x.rank)
        dim = x.shape[self.axis]
        if self.k < 0 or (dim >= 0 and self.k > dim):
            raise op_error(self, f"k = {self.k} is out of range for a dim of {dim}")
        self.check_element(x, r)
        a = self.axis
        _check_result(self, x.shape[:a] + (self.k,) + x.shape[a + 1:], r, x)

    def topk(self, x):
        return sk.topk(x, k=self.k, axis=self.axis, largest=self.largest, sorted=self.sorted)


class TopKValuesOp(_TopKOp):
    NAME = "top.topk_values"

    def check_element(self, x: TensorType, r: TensorType) -> None:
        _check_same_element(self, x, r)

    def compute(self, x):
        return self.topk(x)[0]


class TopKIndicesOp(_TopKOp):
    NAME = "top.topk_indices"

    def check_element(self, x: TensorType, r: TensorType) -> None:
        if r.scalar.name != "i64":
            raise op_error(self, f"result element type must be i64, got {r.scalar}")

    def compute(self, x):
        return self.topk(x)[1]


class CumSumOp(_MoveOp):
    NAME = "top.cumsum"
    ATTRS = {"axis": attr("int"), "exclusive": attr("bool", False),
             "reverse": attr("bool", False)}

    def verify_(self) -> None:
        x, r = self.types()
        _check_axis(self, self.axis, x.rank)
        _check_result(self, x.shape, r, x)

    def compute(self, x):
        return sk.cumsum(x, self.axis, exclusive=self.exclusive, reverse=self.reverse)


# -- einsum --------------------------------------------------------------------------------------
_EINSUM = re.compile(r"([a-zA-Z]*(?:\.\.\.)?[a-zA-Z]*)")


def einsum_shape(equation: str, shapes: list[tuple[int, ...]]) -> tuple[int, ...]:
    """The result shape of an einsum (explicit or implicit output, '...' broadcasting);
    ValueError when the equation does not fit the shapes."""
    lhs, arrow, rhs = equation.replace(" ", "").partition("->")
    terms = lhs.split(",")
    if len(terms) != len(shapes) or not all(_EINSUM.fullmatch(t) for t in terms):
        raise ValueError(f"equation {equation!r} does not describe {len(shapes)} operand(s)")
    dims: dict[str, int] = {}
    counts: dict[str, int] = {}
    ellipsis: tuple[int, ...] = ()
    for term, shape in zip(terms, shapes):
        head, dots, tail = term.partition("...")
        n_ell = len(shape) - len(head) - len(tail)
        if n_ell < 0 or (n_ell and not dots):
            raise ValueError(f"term {term!r} does not fit rank {len(shape)}")
        ellipsis = tuple(np.broadcast_shapes(ellipsis, shape[len(head):len(head) + n_ell]))
        for label, d in zip(head + tail, shape[:len(head)] + shape[len(shape) - len(tail):]):
            counts[label] = counts.get(label, 0) + 1
            if dims.get(label, d) not in (d, 1) and d != 1:
                raise ValueError(f"label {label!r} has sizes {dims[label]} and {d}")
            dims[label] = max(dims.get(label, d), d)
    if not arrow:
        return ellipsis + tuple(dims[c] for c in sorted(c for c in counts if counts[c] == 1))
    head, dots, tail = rhs.partition("...")
    if not _EINSUM.fullmatch(rhs) or any(c not in dims for c in head + tail):
        raise ValueError(f"output {rhs!r} names a label no operand has")
    return tuple(dims[c] for c in head) + (ellipsis if dots else ()) + tuple(dims[c] for c in tail)


class EinsumOp(OpDef):
    NAME = "top.einsum"
    OPERANDS = ("inputs*",)
    RESULTS = ("output",)
    ATTRS = {"equation": attr("string")}
    PURE = True

    def verify_(self) -> None:
        xs = [tensor_type(self, v, f"operand {i}") for i, v in enumerate(self.inputs)]
        r = tensor_type(self, self.output, "result")
        if not xs:
            raise op_error(self, "needs at least one operand")
        for i, x in enumerate(xs):
            _check_same_element(self, x, r, f"operand {i}")
        if all(x.is_static for x in xs):
            try:
                expected = einsum_shape(self.equation, [x.shape for x in xs])
            except ValueError as e:
                raise op_error(self, str(e)) from None
            _check_result(self, expected, r)

    def compute(self, *xs):
        return sk.einsum(self.equation, *xs)


__all__ = [name for name, obj in list(globals().items())
           if isinstance(obj, type) and issubclass(obj, OpDef) and obj is not OpDef
           and not name.startswith("_")]
