"""Small helpers that fusion patterns share: reading constants, making new ones, checking
uses. Constants are `top.constant` (inline) or `top.weight` (in the module's weights)."""

from __future__ import annotations

import numpy as np

from ...compiler.attributes import DenseAttr, SymbolRef
from ...compiler.ir import Module, Operation, Value
from ...compiler.rewrite import Rewriter
from ...compiler.types import TensorType, scalar_type_of
from ...compiler.weights import WeightStore

INLINE_LIMIT = 16  # as the importer: larger constants go to the weights file


def const_array(value: Value | None, module: Module) -> np.ndarray | None:
    """The value behind `value` if it is a constant or a weight, else None."""
    if value is None:
        return None
    op = value.owner
    if op is None:
        return None
    if op.name == "top.constant":
        return op.attributes["value"].array
    if op.name == "top.weight" and module.weights is not None:
        return module.weights.get(op.attributes["ref"].name)
    return None


def const_scalar(value: Value | None, module: Module) -> float | None:
    array = const_array(value, module)
    if array is None or array.size != 1 or array.dtype.kind != "f":
        return None
    return float(array.reshape(()))


def single_use(value: Value) -> bool:
    return len(value.uses) == 1


def new_constant(rewriter: Rewriter, anchor: Operation, array: np.ndarray, loc: str) -> Value:
    """A constant holding `array`, inserted before `anchor`: inline when small, else a new
    weight named after `loc` in the module's weights."""
    module: Module = rewriter.module
    array = np.require(array, requirements="C")
    t = TensorType(array.shape, scalar_type_of(array.dtype))
    if array.size <= INLINE_LIMIT:
        op = Operation.create("top.constant", [], [t], {"value": DenseAttr(array, t)}, loc)
    else:
        if module.weights is None:
            module.weights = WeightStore()
        name = module.weights.unique_name(loc)
        module.weights.add(name, array)
        op = Operation.create("top.weight", [], [t], {"ref": SymbolRef(name)}, name)
    rewriter.insert_before(anchor, op)
    return op.result


def per_channel(array: np.ndarray, channels: int, rank: int) -> np.ndarray | None:
    """A constant that broadcasts along dimension 1 only (shape (), (1,), (C,1,..) or
    (1,C,1,..)), as a (C,) vector; None if it varies along any other dimension."""
    if array.size == 1:
        return np.full(channels, array.reshape(()), array.dtype)
    shape = (1,) * (rank - array.ndim) + array.shape
    if len(shape) != rank or shape[1] != channels or any(d != 1 for i, d in enumerate(shape)
                                                         if i != 1):
        return None
    return array.reshape(channels)
