"""`codegen{format=onnx-qdq}`: a lowered kiln module as an ONNX model in QDQ form (opset 21).

Every kiln value becomes one ONNX tensor holding what kiln's interpreter computes for it: a
`!quant.uniform` value is its integer storage (int8, uint8, int16, uint16; narrower integer
types travel in the next container and are clamped to their own range), produced by a
QuantizeLinear with the type's scale and zero point; every npu op dequantizes its operands,
runs the float ONNX op (Conv, MatMul, Add, ...) and quantizes to its result type. Tables
(npu.lut) are an exact Gather; float `top` ops become their ONNX ops (onnx_top.py).

Names: graph inputs and outputs keep kiln's (`input_names` / `output_names`), so the same npz
feeds both; every other tensor is named after the loc of the op that makes it (made unique),
and nodes after their op's loc. The same module always gives the same bytes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import helper

from ..compiler.attributes import DenseAttr
from ..compiler.fileio import atomic_write_bytes
from ..compiler.interpreter import input_names, output_names
from ..compiler.ir import Function, Module, Operation, Value
from ..compiler.types import NoneType, TensorType
from . import onnx_npu, onnx_top
from .onnx_graph import (
    Graph,
    NoOnnxForm,
    OnnxExportError,
    export_error,
    onnx_dtype,
    storage_dtype,
)

OPSET = 21
IR_VERSION = 10
SOURCES = ("top.weight", "top.constant", "top.none")


def _value_info(name: str, t: TensorType) -> onnx.ValueInfoProto:
    shape = [d if d >= 0 else None for d in t.shape]
    return helper.make_tensor_value_info(name, onnx_dtype(storage_dtype(t)), shape)


class _Export:
    """One export: walks the entry function in order, emitting each op."""

    def __init__(self, module: Module) -> None:
        self.module = module
        self.func: Function = module.main
        self.g = Graph()
        self.tensor_names: dict[str, str] = {}  # kiln loc -> ONNX tensor name

    def bind(self, value: Value, name: str) -> None:
        self.g.tensor_of[id(value)] = name
        if isinstance(value.type, TensorType):
            self.g.dtypes[name] = storage_dtype(value.type)

    def run(self) -> onnx.ModelProto:
        func, g = self.func, self.g
        inputs = input_names(func)
        for name in inputs:
            g.names.add(name)
        ret = func.return_op
        returned = list(ret.operands) if ret is not None else []
        outputs = output_names(func)
        for name in outputs:
            if name not in inputs:
                g.names.add(name)
        # a returned value made by an op is named its output name directly
        direct: dict[int, str] = {}
        for v, name in zip(returned, outputs):
            if v.owner is not None and id(v) not in direct and name not in inputs:
                direct[id(v)] = name
        for arg, name in zip(func.arguments, inputs):
            self.bind(arg, name)
        graph_inputs = [_value_info(n, a.type) for n, a in zip(inputs, func.arguments)]
        for op in func.body:
            if op is ret:
                continue
            self.emit(op, direct)
        used = {t for node in g.nodes for t in node.input}
        for v, name in zip(returned, outputs):
            used.add(g.name(v))
            if g.name(v) != name:
                g.scope = name
                g.node("Identity", [g.name(v)], name, name=name)
        graph = helper.make_graph(
            g.nodes, self.module.name or func.name, graph_inputs,
            [_value_info(n, v.type) for n, v in zip(outputs, returned)],
            [t for t in g.initializers if t.name in used])
        model = helper.make_model(graph, producer_name="kiln",
                                  opset_imports=[helper.make_opsetid("", OPSET)])
        model.ir_version = IR_VERSION
        return model

    def emit(self, op: Operation, direct: dict[int, str]) -> None:
        g = self.g
        if len(op.results) != 1:
            raise export_error(op, f"has {len(op.results)} results; the export handles ops "
                                   "with one result")
        result = op.results[0]
        if op.name == "top.none" or isinstance(result.type, NoneType):
            g.tensor_of[id(result)] = ""
            return
        base = op.loc or result.name_hint or op.name.replace(".", "_")
        name = direct.get(id(result)) or g.unique(base)
        if op.loc is not None:
            self.tensor_names.setdefault(op.loc, name)
        g.scope = op.loc or name
        g.result = name
        if op.name in SOURCES:
            self.bind(result, name)
            self.source(op, name)
            return
        for v in op.operands:
            if id(v) not in g.tensor_of:
                raise export_error(op, "uses a value defined after it")
        try:
            if op.name in onnx_npu.EMITTERS:
                onnx_npu.EMITTERS[op.name](g, op)
            elif op.name.startswith("top."):
                onnx_top.emit(g, op)
            else:
                raise export_error(op, "has no ONNX mapping (no emitter for this op)")
        except NoOnnxForm as e:
            raise export_error(op, str(e)) from None
        self.bind(result, name)

    def source(self, op: Operation, name: str) -> None:
        t: TensorType = op.results[0].type
        if op.name == "top.constant":
            value: DenseAttr = op.attributes["value"]
            array = value.array
        else:
            if self.module.weights is None:
                raise export_error(op, "the module has no weights")
            array = self.module.weights.get(op.ref.name)
        array = np.asarray(array)
        want = storage_dtype(t)
        if array.dtype != want or tuple(array.shape) != t.shape:
            raise export_error(op, f"holds a {array.dtype} array of shape {array.shape}, "
                                   f"the type says {want} {t.shape}")
        self.g.initializer(array, name)


def export_qdq_with_names(module: Module) -> tuple[onnx.ModelProto, dict[str, str]]:
    """The QDQ model, and for each op loc the name of the ONNX tensor of its result (locs
    are kept as names unless two values share one or a loc is a graph output's name)."""
    export = _Export(module)
    return export.run(), export.tensor_names


def export_qdq(module: Module) -> onnx.ModelProto:
    """The module's entry function as a QDQ ONNX model (opset 21); see the module doc."""
    return export_qdq_with_names(module)[0]


def model_bytes(model: onnx.ModelProto) -> bytes:
    return model.SerializeToString(deterministic=True)


def write_onnx_qdq(module: Module, path: str | Path) -> None:
    """Write the QDQ model to `path` atomically; the same module gives the same bytes."""
    atomic_write_bytes(path, model_bytes(export_qdq(module)))


__all__ = ["OnnxExportError", "export_qdq", "export_qdq_with_names", "write_onnx_qdq"]
