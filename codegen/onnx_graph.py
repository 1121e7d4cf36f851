"""The graph under construction for the QDQ ONNX export: unique names, nodes, initializers,
and the ONNX tensor standing for each kiln value.

Invariant of the export: every kiln value is one ONNX tensor holding exactly the array kiln's
interpreter computes for it, in the same dtype (a `!quant.uniform` value is its integer
storage, never a float). Float computations that read a quantized value go through
`dequantized`, which emits (once per value and parameters) the DequantizeLinear node.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from ..compiler.errors import UserError
from ..compiler.ir import Operation, Value
from ..compiler.types import (
    CalibratedType,
    ScalarType,
    TensorType,
    UniformPerAxisType,
    UniformType,
)


class OnnxExportError(UserError):
    """The module cannot be written as a QDQ ONNX model; the message names the op and loc."""


class NoOnnxForm(ValueError):
    """Raised by the graph helpers; the export turns it into an OnnxExportError naming the op."""


def export_error(op: Operation, message: str) -> OnnxExportError:
    return OnnxExportError(f"onnx-qdq export: {op.describe()}: {message}")


def onnx_dtype(dtype: np.dtype) -> int:
    """The TensorProto element type of a numpy dtype (bfloat16 included)."""
    dtype = np.dtype(dtype)
    if dtype.name == "bfloat16":
        return TensorProto.BFLOAT16
    return helper.np_dtype_to_tensor_dtype(dtype)


def storage_dtype(t: TensorType) -> np.dtype:
    """The numpy dtype of the array kiln's interpreter holds for a value of type `t`."""
    el = t.element
    if isinstance(el, CalibratedType):
        return el.expressed.numpy_dtype
    return t.scalar.numpy_dtype


def is_quantized(t) -> bool:
    return isinstance(t, TensorType) and isinstance(t.element, UniformType | UniformPerAxisType)


@dataclass(frozen=True)
class QParams:
    """Scale(s) and zero point(s) of a Q/DQ node: per tensor (axis None, 0-d arrays) or per
    axis (1-d arrays). Scales are float32 as in kiln's types; zero points are plain ints and
    take the integer tensor's dtype when written."""

    scale: tuple[float, ...]
    zero_point: tuple[int, ...]
    axis: int | None = None

    @staticmethod
    def make(scale, zero_point=0, axis: int | None = None) -> QParams:
        """From scalars or arrays; equal per-axis values collapse to per tensor."""
        s = np.atleast_1d(np.asarray(scale, np.float64)).astype(np.float32)
        z = np.atleast_1d(np.asarray(zero_point, np.int64))
        if s.size > 1 or z.size > 1:
            n = max(s.size, z.size)
            s, z = np.broadcast_to(s, (n,)), np.broadcast_to(z, (n,))
            if axis is None or (np.all(s == s[0]) and np.all(z == z[0])):
                return QParams((float(s[0]),), (int(z[0]),), None)
            return QParams(tuple(float(v) for v in s), tuple(int(v) for v in z), axis)
        return QParams((float(s[0]),), (int(z[0]),), None)

    @staticmethod
    def of_type(t: TensorType) -> QParams:
        el = t.element
        if isinstance(el, UniformType):
            return QParams((el.scale,), (el.zp,), None)
        if isinstance(el, UniformPerAxisType):
            zps = el.zero_points or (0,) * len(el.scales)
            return QParams(tuple(el.scales), tuple(zps), el.axis)
        raise TypeError(f"{t} is not a quantized type")

    def scale_array(self) -> np.ndarray:
        a = np.asarray(self.scale, np.float32)
        return a if self.axis is not None else a.reshape(())

    def zp_array(self, dtype: np.dtype) -> np.ndarray:
        a = np.asarray(self.zero_point, np.int64).astype(dtype)
        return a if self.axis is not None else a.reshape(())

    def broadcast_shape(self, rank: int) -> tuple[int, ...]:
        """The shape that lines the parameters up with a tensor of rank `rank`."""
        if self.axis is None:
            return ()
        shape = [1] * rank
        shape[self.axis] = len(self.scale)
        return tuple(shape)


class Graph:
    """Nodes, initializers and names of the model being written."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self.names: set[str] = set()        # tensor names in use
        self.node_names: set[str] = set()
        self.tensor_of: dict[int, str] = {}  # id(kiln value) -> ONNX tensor
        self._consts: dict[tuple, str] = {}
        self._dq: dict[tuple, str] = {}
        self.dtypes: dict[str, np.dtype] = {}  # integer tensors DequantizeLinear may read
        self.float_view: dict[int, QParams] = {}  # id(value) -> params it is dequantized with
        self.scope = "graph"                 # base of the names of the current op's nodes
        self.result = ""                     # the tensor the current op makes

    # -- names ----------------------------------------------------------------------------------
    def unique(self, base: str) -> str:
        """`base`, or `base_1`, `base_2`, ... if taken; the name is reserved."""
        name, k = base, 1
        while name in self.names:
            name = f"{base}_{k}"
            k += 1
        self.names.add(name)
        return name

    def _node_name(self, base: str) -> str:
        name, k = base, 1
        while name in self.node_names:
            name = f"{base}_{k}"
            k += 1
        self.node_names.add(name)
        return name

    def tmp(self, what: str) -> str:
        """A fresh name for an intermediate tensor of the current op."""
        return self.unique(f"{self.scope}/{what}")

    # -- building -------------------------------------------------------------------------------
    def node(self, op_type: str, inputs: list[str], output: str | None = None, *,
             outputs: list[str] | None = None, name: str | None = None, **attrs) -> str:
        """Append a node and return its (first) output. The node is named `name`, else the
        current op's loc when it makes the op's result, else `loc/OpType`."""
        outs = outputs if outputs is not None else [output or self.tmp(op_type)]
        if name is None:
            name = self.scope if self.result in outs else f"{self.scope}/{op_type}"
        attrs = {k: v for k, v in attrs.items() if v is not None}
        self.nodes.append(helper.make_node(op_type, inputs, outs, name=self._node_name(name),
                                           **attrs))
        return outs[0]

    def const(self, array: np.ndarray, what: str = "const") -> str:
        """An initializer holding `array`, named `loc/what` after the current op."""
        return self.named_const(array, f"{self.scope}/{what}")

    def named_const(self, array: np.ndarray, base: str) -> str:
        """An initializer holding `array`, named `base` (identical constants share one)."""
        array = _contiguous(array)
        key = (array.dtype.str, array.shape, array.tobytes())
        name = self._consts.get(key)
        if name is None:
            name = self.unique(base)
            self.initializers.append(make_tensor(array, name))
            self._consts[key] = name
        return name

    def initializer(self, array: np.ndarray, name: str) -> None:
        self.initializers.append(make_tensor(_contiguous(array), name))

    def ints(self, values, what: str) -> str:
        return self.const(np.asarray(list(values), np.int64), what)

    # -- values ---------------------------------------------------------------------------------
    def name(self, value: Value | None) -> str:
        """The ONNX tensor of a kiln value ('' for an omitted optional operand)."""
        if value is None:
            return ""
        return self.tensor_of.get(id(value), "")

    def dq(self, x: str, params: QParams, output: str | None = None) -> str:
        """DequantizeLinear of the integer tensor `x` (its dtype must be in `dtypes`), made
        once per tensor and parameters (into `output` if given and not made yet)."""
        key = (x, params)
        got = self._dq.get(key)
        if got is None:
            out = output or self.unique(f"{x}/dequantized")
            got = self.node("DequantizeLinear",
                            [x, self.named_const(params.scale_array(), f"{x}/scale"),
                             self.named_const(params.zp_array(self.dtypes[x]),
                                              f"{x}/zero_point")],
                            out, name=None if output else out, axis=params.axis)
            self._dq[key] = got
        elif output:
            self.node("Identity", [got], output)
        return output or got

    def q(self, x: str, params: QParams, storage: ScalarType, output: str,
          rank: int) -> str:
        """QuantizeLinear of the float tensor `x` to `storage` into `output`. A storage type
        narrower than its numpy container (i4, i12, ...) is clamped in float first, so the
        integer result stays inside the storage range (round(x / s) cannot leave it)."""
        container = storage.numpy_dtype
        if container not in (np.int8, np.uint8, np.int16, np.uint16):
            raise NoOnnxForm(f"cannot quantize to {storage} (QuantizeLinear writes 8- and "
                             "16-bit integers)")
        lo, hi = storage.int_range
        info = np.iinfo(container)
        if (lo, hi) != (int(info.min), int(info.max)):
            s = np.asarray(params.scale, np.float64).reshape(params.broadcast_shape(rank) or ())
            z = np.asarray(params.zero_point, np.float64).reshape(s.shape)
            lo_f = self.const(((lo - z) * s).astype(np.float32), "lowest")
            hi_f = self.const(((hi - z) * s).astype(np.float32), "highest")
            x = self.node("Min", [self.node("Max", [x, lo_f]), hi_f])
        out = self.node("QuantizeLinear", [x, self.const(params.scale_array(), "scale"),
                                           self.const(params.zp_array(container),
                                                      "zero_point")],
                        output, axis=params.axis)
        self.dtypes[out] = np.dtype(container)
        return out


def _contiguous(array: np.ndarray) -> np.ndarray:
    """C-contiguous, keeping 0-d arrays 0-d (np.ascontiguousarray makes them 1-d)."""
    array = np.asarray(array)
    return array if array.flags.c_contiguous else array.copy(order="C")


def make_tensor(array: np.ndarray, name: str) -> onnx.TensorProto:
    """numpy_helper.from_array, with bfloat16 written as raw 16-bit data."""
    if array.dtype.name == "bfloat16":
        t = helper.make_tensor(name, TensorProto.BFLOAT16, array.shape,
                               array.view(np.uint16).tobytes(), raw=True)
        return t
    return numpy_helper.from_array(array, name)
