"""Hypothesis strategies that build random, valid kiln modules."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from kiln.compiler.attributes import DenseAttr, EnumAttr, SymbolRef
from kiln.compiler.ir import Function, Module, Operation
from kiln.compiler.types import (
    SCALAR_NAMES,
    CalibratedType,
    NoneType,
    ScalarType,
    TensorType,
    UniformPerAxisType,
    UniformType,
)

_IDENT = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True)
_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
scalar_types = st.sampled_from([ScalarType(n) for n in SCALAR_NAMES])
float_types = st.sampled_from([ScalarType(n) for n in ("f32", "f16", "bf16")])
int_storage = st.sampled_from([ScalarType(n) for n in ("i8", "u8", "i16", "u16", "i4", "u4")])
finite_f32 = st.floats(width=32, allow_nan=False, allow_infinity=False)
positive_f32 = st.floats(min_value=2.0**-100, max_value=2.0**100, width=32)


@st.composite
def calibrated(draw):
    a, b = sorted([draw(finite_f32), draw(finite_f32)])
    return CalibratedType(ScalarType("f32"), a, b)


@st.composite
def uniform(draw):
    storage = draw(int_storage)
    lo, hi = storage.int_range
    zp = draw(st.none() | st.integers(lo, hi))
    return UniformType(storage, draw(float_types), draw(positive_f32), zp)


@st.composite
def tensor_types(draw):
    shape = draw(st.lists(st.integers(0, 5) | st.just(-1), max_size=4))
    kind = draw(st.sampled_from(["scalar", "calibrated", "uniform", "per_axis"]))
    if kind == "per_axis" and shape and shape[0] > 0:
        storage = draw(int_storage)
        lo, hi = storage.int_range
        scales = draw(st.lists(positive_f32, min_size=shape[0], max_size=shape[0]))
        zps = draw(st.none() | st.lists(st.integers(lo, hi), min_size=shape[0],
                                        max_size=shape[0]))
        return TensorType(shape, UniformPerAxisType(storage, ScalarType("f32"), 0, scales,
                                                    zps))
    if kind == "calibrated":
        return TensorType(shape, draw(calibrated()))
    if kind == "uniform":
        return TensorType(shape, draw(uniform()))
    return TensorType(shape, draw(scalar_types))


types = tensor_types() | st.just(NoneType())


@st.composite
def dense_attrs(draw):
    name = draw(st.sampled_from(["f32", "f16", "f64", "i8", "i32", "i64", "u8", "bool"]))
    t = ScalarType(name)
    shape = tuple(draw(st.lists(st.integers(0, 3), max_size=3)))
    n = int(np.prod(shape)) if shape else 1
    if name == "bool":
        values = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    elif t.is_float:
        width = {"f16": 16, "f32": 32, "f64": 64}[name]
        values = draw(st.lists(st.floats(width=width, allow_nan=False), min_size=n, max_size=n))
    else:
        lo, hi = t.int_range
        values = draw(st.lists(st.integers(lo, hi), min_size=n, max_size=n))
    array = np.array(values, dtype=t.numpy_dtype).reshape(shape)
    return DenseAttr(array, TensorType(shape, t))


leaf_attrs = (st.booleans() | st.integers(-2**63, 2**63 - 1)
              | st.floats(allow_nan=False) | _TEXT
              | st.builds(SymbolRef, _TEXT | _IDENT)
              | st.builds(EnumAttr, _IDENT, _IDENT)
              | dense_attrs() | scalar_types | tensor_types())
attr_values = st.recursive(leaf_attrs, lambda inner: st.lists(inner, max_size=4).map(tuple),
                           max_leaves=8)
attr_dicts = st.dictionaries(_IDENT | _TEXT.filter(bool), attr_values, max_size=4)


@st.composite
def modules(draw):
    module = Module(draw(st.none() | _IDENT), draw(attr_dicts))
    for fi in range(draw(st.integers(1, 2))):
        arg_types = draw(st.lists(types, max_size=3))
        names = draw(st.lists(st.none() | _IDENT, min_size=len(arg_types),
                              max_size=len(arg_types), unique_by=lambda x: x or object()))
        func = Function(f"f{fi}", arg_types, [], names, draw(attr_dicts),
                        [draw(attr_dicts) for _ in arg_types])
        values = list(func.arguments)
        for i in range(draw(st.integers(0, 6))):
            operands = draw(st.lists(st.sampled_from(values), max_size=3)) if values else []
            result_types = draw(st.lists(types, max_size=2))
            loc = draw(st.none() | _TEXT)
            op = Operation.create(f"test.op{i % 3}", operands, result_types, draw(attr_dicts),
                                  loc)
            for r in op.results:
                r.name_hint = draw(st.none() | _IDENT)
            func.body.append(op)
            values.extend(op.results)
        returned = draw(st.lists(st.sampled_from(values), max_size=2)) if values else []
        func.body.append(Operation.create("func.return", returned, []))
        func.result_types = [v.type for v in returned]
        module.add_function(func)
    return module
