"""ONNX -> top dialect.

The importer walks the graph in order and runs every node on example data while it builds
the IR (an abstract interpretation with concrete arrays):

- A tensor is *static* when it is known at compile time: initializers, Constant outputs,
  shapes (every shape is static once input shapes are fixed), and anything computed only from
  static tensors. Static tensors are folded: no op is emitted for them, so exporters' shape
  subgraphs (Shape -> Gather -> Concat -> Reshape) collapse to constants. A static tensor
  becomes IR only when a dynamic op uses it: an inline `top.constant` when small, else a
  `top.weight` in the weights file.
- A *dynamic* tensor (depending on a model input) becomes a top op whose result type comes
  from running that op's own kernel on the example arrays, so shapes need no separate shape
  inference and the kernels are exercised on every import.

Each ONNX op is one builder in a table (`registry.IMPORTERS`, filled by the `ops_*.py`
modules). An unsupported op is reported once, listing every unsupported op type with a node
name of each.
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

from ...compiler.attributes import DenseAttr, SymbolRef
from ...compiler.errors import UserError
from ...compiler.ir import Function, Module, Operation, Value
from ...compiler.types import NoneType, TensorType, scalar_type_of
from ...compiler.weights import WeightStore
from .registry import load_builders


class ImportFailure(UserError):
    """The model cannot be imported; the message names the model, node and problem."""


class UnsupportedOps(ImportFailure):
    pass


@dataclass
class ImportOptions:
    input_shapes: list[list[int]] | None = None  # one per model input, in order
    output_names: list[str] | None = None        # cut the graph at these tensors
    model_name: str | None = None
    example_inputs: dict[str, np.ndarray] | None = None  # data to run while importing
    seed: int = 0
    inline_limit: int = 16  # static tensors up to this many elements are inline constants
    warnings: list[str] = field(default_factory=list)


class TensorRef:
    """One ONNX tensor during import: static (its value known) or dynamic (an IR value, with
    the example array computed for it, dropped after its last consumer)."""

    __slots__ = ("array", "dtype", "materialized", "name", "shape", "static", "value")

    def __init__(self, name: str, array: np.ndarray | None, value: Value | None = None):
        self.name = name
        self.array = array
        self.value = value
        self.static = value is None
        self.materialized: Value | None = None  # the IR value made for a static tensor
        self.shape = tuple(array.shape) if array is not None else ()
        self.dtype = array.dtype if array is not None else None

    def __repr__(self) -> str:
        kind = "static" if self.static else "dynamic"
        return f"<{kind} {self.name} {self.shape} {self.dtype}>"


_VALUE_NAME = re.compile(r"[A-Za-z0-9_$.\-]+\Z")


def _sanitize(name: str) -> str:
    clean = re.sub(r"[^A-Za-z0-9_$.\-]", "_", name) or "input"
    return "in_" + clean if clean.isdigit() else clean


class ImportContext:
    """What builders use: the current node, opset, and emitting ops or static values."""

    def __init__(self, func: Function, weights: WeightStore, opset: int,
                 options: ImportOptions) -> None:
        self.func = func
        self.weights = weights
        self.opset = opset
        self.options = options
        self.node: onnx.NodeProto | None = None
        self.consumers: dict[str, int] = {}  # tensor name -> consumers not yet imported
        self._none: Value | None = None
        self._loc_counter = 0

    # -- names ---------------------------------------------------------------------------------
    @property
    def out_name(self) -> str:
        """The name of the current node's first output (the loc of what it emits)."""
        return self.node.output[0]

    def output_used(self, index: int) -> bool:
        """Whether output `index` of the current node is consumed or is a graph output."""
        if index >= len(self.node.output) or not self.node.output[index]:
            return False
        return self.consumers.get(self.node.output[index], 0) > 0

    def sub_loc(self, suffix: str) -> str:
        """A loc for an intermediate op of a multi-op lowering: `<output>_<suffix>`."""
        return f"{self.out_name}_{suffix}"

    # -- static values -------------------------------------------------------------------------
    def constant(self, array, name: str | None = None) -> TensorRef:
        return TensorRef(name or self.out_name, np.asarray(array))

    def static(self, ref: TensorRef | None, what: str) -> np.ndarray:
        """The compile-time value of `ref`; an error naming `what` if it depends on inputs."""
        if ref is None:
            raise ImportFailure(f"{what} is missing")
        if not ref.static:
            raise ImportFailure(f"{what} ('{ref.name}') must be computable at compile time, "
                                f"but it depends on the model's inputs")
        return ref.array

    def none(self) -> Value:
        if self._none is None:
            op = Operation.create("top.none", [], [NoneType()])
            self._insert(op)
            self._none = op.result
        return self._none

    def value_of(self, ref: TensorRef) -> Value:
        """The IR value of a tensor, materializing a static one the first time it is used."""
        if not ref.static:
            return ref.value
        if ref.materialized is not None:
            return ref.materialized
        array = np.require(ref.array, requirements="C")  # keeps 0-d arrays 0-d
        t = TensorType(array.shape, scalar_type_of(array.dtype))
        if array.size <= self.options.inline_limit:
            op = Operation.create("top.constant", [], [t], {"value": DenseAttr(array, t)},
                                  ref.name)
        else:
            name = self.weights.unique_name(ref.name)
            self.weights.add(name, array)
            op = Operation.create("top.weight", [], [t], {"ref": SymbolRef(name)}, ref.name)
        self._insert(op)
        ref.materialized = op.result
        return op.result

    def _insert(self, op: Operation) -> None:
        self.func.body.append(op)

    # -- emitting ops --------------------------------------------------------------------------
    def emit(self, op_class: type[Operation], inputs: list[TensorRef | None], *,
             loc: str | None = None, **attrs) -> TensorRef:
        """Run `op_class` on the inputs' arrays; fold it when every input is static, else
        append it to the function with the result type its kernel produced."""
        attrs = {k: v for k, v in attrs.items() if v is not None}
        op = Operation.create(op_class.NAME, [], [NoneType()], attrs, loc or self.out_name)
        arrays = [None if r is None else r.array for r in inputs]
        out = np.asarray(op.compute(*arrays))
        name = op.loc
        if all(r is None or r.static for r in inputs):
            return TensorRef(name, out)
        while inputs and inputs[-1] is None:
            inputs = inputs[:-1]
        op.set_operands([self.none() if r is None else self.value_of(r) for r in inputs])
        op.results[0].type = TensorType(out.shape, scalar_type_of(out.dtype))
        self._insert(op)
        ref = TensorRef(name, out, op.result)
        return ref


def _attribute_value(attr: onnx.AttributeProto):
    if attr.type == onnx.AttributeProto.GRAPH or attr.type == onnx.AttributeProto.GRAPHS:
        raise ImportFailure(f"attribute '{attr.name}' holds a subgraph (control flow is not "
                            f"supported)")
    value = onnx.helper.get_attribute_value(attr)
    if attr.type == onnx.AttributeProto.TENSOR:
        return numpy_helper.to_array(value)
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, list) and value and isinstance(value[0], bytes):
        return [v.decode("utf-8") for v in value]
    return value


def _opset(model: onnx.ModelProto) -> int:
    for entry in model.opset_import:
        if entry.domain in ("", "ai.onnx"):
            return entry.version
    return 1


def _example_input(info: onnx.ValueInfoProto, shape: tuple[int, ...], rng) -> np.ndarray:
    elem = info.type.tensor_type.elem_type
    dtype = onnx.helper.tensor_dtype_to_np_dtype(elem)
    if dtype.kind == "f":
        return rng.standard_normal(shape).astype(dtype)
    # Ones for integer and bool inputs: a valid token id or index, and an attention mask that
    # attends everywhere (zeros would mask every position and make softmax rows NaN).
    return np.ones(shape, dtype)


def _input_shape(info: onnx.ValueInfoProto, given: list[int] | None,
                 options: ImportOptions) -> tuple[int, ...]:
    dims = info.type.tensor_type.shape.dim
    declared = [d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else -1 for d in dims]
    if given is not None:
        if len(given) != len(declared):
            raise ImportFailure(f"input '{info.name}' has rank {len(declared)} but "
                                f"--input_shapes gives {list(given)}")
        for d, g in zip(declared, given):
            if d > 0 and d != g:
                raise ImportFailure(f"input '{info.name}' has static shape {declared}; "
                                    f"--input_shapes gives {list(given)}")
        return tuple(int(g) for g in given)
    out = []
    for i, d in enumerate(declared):
        if d < 0:
            if i == 0:
                options.warnings.append(f"input '{info.name}': dynamic batch dimension set to "
                                        f"1 (give --input_shapes to choose)")
                d = 1
            else:
                raise ImportFailure(f"input '{info.name}' has dynamic dimension {i} "
                                    f"(shape {declared}); give --input_shapes")
        out.append(d)
    return tuple(out)


def _needed_nodes(graph: onnx.GraphProto, outputs: list[str]) -> list[onnx.NodeProto]:
    """The nodes the outputs depend on, in graph order."""
    producer = {}
    for i, node in enumerate(graph.node):
        for o in node.output:
            producer[o] = i
    needed: set[int] = set()
    stack = [producer[o] for o in outputs if o in producer]
    while stack:
        i = stack.pop()
        if i in needed:
            continue
        needed.add(i)
        stack.extend(producer[x] for x in graph.node[i].input if x in producer)
    return [graph.node[i] for i in sorted(needed)]


def _check_supported(nodes: list[onnx.NodeProto], builders: dict, source: str) -> None:
    missing: dict[str, str] = {}
    for node in nodes:
        if node.domain not in ("", "ai.onnx"):
            missing.setdefault(f"{node.domain}.{node.op_type}", node.name or node.output[0])
        elif node.op_type not in builders:
            missing.setdefault(node.op_type, node.name or node.output[0])
    if missing:
        rows = "\n".join(f"  {t} (e.g. node '{n}')" for t, n in sorted(missing.items()))
        raise UnsupportedOps(f"{source}: {len(missing)} unsupported ONNX op type(s):\n{rows}")


def _call_builder(builder, ctx: ImportContext, node: onnx.NodeProto,
                  inputs: list[TensorRef | None]) -> list[TensorRef]:
    attrs = {a.name: _attribute_value(a) for a in node.attribute}
    params = inspect.signature(builder).parameters
    allowed = {n for n, p in params.items() if p.kind == p.KEYWORD_ONLY}
    unknown = sorted(set(attrs) - allowed)
    if unknown and not any(p.kind == p.VAR_KEYWORD for p in params.values()):
        raise ImportFailure(f"attribute(s) {', '.join(unknown)} not supported")
    positional = [p for p in params.values() if p.kind == p.POSITIONAL_OR_KEYWORD][2:]
    has_var = any(p.kind == p.VAR_POSITIONAL for p in params.values())
    if len(inputs) > len(positional) and not has_var:
        raise ImportFailure(f"{len(inputs)} inputs given, at most {len(positional)} supported")
    result = builder(ctx, node, *inputs, **attrs)
    refs = list(result) if isinstance(result, (list, tuple)) else [result]
    for i in range(len(refs), len(node.output)):
        if ctx.output_used(i):
            raise ImportFailure(f"output {i} ('{node.output[i]}') is used, but kiln computes "
                                f"only the first {len(refs)} output(s) of {node.op_type}")
    return refs


def import_onnx(path: str | Path, options: ImportOptions | None = None,
                weights_file: str | None = None) -> Module:
    """Import an ONNX model file as a top-dialect module (weights held in memory until the
    module is written)."""
    options = options or ImportOptions()
    path = Path(path)
    try:
        model = onnx.load(str(path))
    except (OSError, onnx.onnx_cpp2py_export.checker.ValidationError, ValueError) as e:
        raise ImportFailure(f"{path}: cannot read the ONNX model ({e})") from None
    except Exception as e:  # protobuf's DecodeError has no stable import path
        if type(e).__name__ == "DecodeError":
            raise ImportFailure(f"{path}: not an ONNX model ({e})") from None
        raise
    return import_model(model, options, source=str(path), weights_file=weights_file)


def import_model(model: onnx.ModelProto, options: ImportOptions, source: str = "<model>",
                 weights_file: str | None = None) -> Module:
    builders = load_builders()
    graph = model.graph
    init_names = {t.name for t in graph.initializer}
    graph_inputs = [i for i in graph.input if i.name not in init_names]
    outputs = options.output_names or [o.name for o in graph.output]
    nodes = _needed_nodes(graph, outputs)
    _check_supported(nodes, builders, source)
    known = init_names | {i.name for i in graph_inputs} | {o for n in nodes for o in n.output}
    for o in outputs:
        if o not in known:
            raise ImportFailure(f"{source}: output '{o}' is not a tensor of the model")

    if options.input_shapes is not None and len(options.input_shapes) != len(graph_inputs):
        raise ImportFailure(f"{source}: the model has {len(graph_inputs)} input(s) "
                            f"({', '.join(i.name for i in graph_inputs)}) but "
                            f"--input_shapes gives {len(options.input_shapes)}")
    rng = np.random.default_rng(options.seed)
    shapes, examples = [], []
    for k, info in enumerate(graph_inputs):
        given = options.input_shapes[k] if options.input_shapes is not None else None
        shape = _input_shape(info, given, options)
        shapes.append(shape)
        given_example = (options.example_inputs or {}).get(info.name)
        examples.append(np.asarray(given_example) if given_example is not None
                        else _example_input(info, shape, rng))

    arg_types = [TensorType(s, scalar_type_of(e.dtype)) for s, e in zip(shapes, examples)]
    names = [_sanitize(i.name) for i in graph_inputs]
    arg_attrs = [{} if n == i.name else {"kiln.name": i.name} for n, i in zip(names, graph_inputs)]
    func = Function("main", arg_types, [], names, arg_attributes=arg_attrs)
    model_name = options.model_name or Path(source).stem
    module = Module(model_name, {"kiln.state": "top_f32",
                                 "kiln.weights": weights_file or f"{model_name}_weights.npz"})
    module.add_function(func)
    module.weights = WeightStore()
    ctx = ImportContext(func, module.weights, _opset(model), options)

    refs: dict[str, TensorRef] = {}
    for init in graph.initializer:
        refs[init.name] = TensorRef(init.name, numpy_helper.to_array(init))
    for info, arg, example in zip(graph_inputs, func.arguments, examples):
        refs[info.name] = TensorRef(info.name, example, arg)

    remaining: dict[str, int] = {}
    for node in nodes:
        for x in node.input:
            remaining[x] = remaining.get(x, 0) + 1
    for o in outputs:
        remaining[o] = remaining.get(o, 0) + 1
    ctx.consumers = remaining

    for node in nodes:
        ctx.node = node
        inputs = [refs[x] if x else None for x in node.input]
        where = f"{source}: node '{node.name or node.output[0]}' ({node.op_type})"
        try:
            produced = _call_builder(builders[node.op_type], ctx, node, inputs)
        except ImportFailure as e:
            raise ImportFailure(f"{where}: {e}") from None
        except (ValueError, TypeError, IndexError, KeyError, NotImplementedError) as e:
            raise ImportFailure(f"{where}: {type(e).__name__}: {e}") from e
        for name, ref in zip(node.output, produced):
            if name:
                if not ref.static and any(ref is r for r in inputs):
                    # a pass-through (Identity): its own ref, so freeing the input's example
                    # array after its last use does not empty this one too
                    ref = TensorRef(name, ref.array, ref.value)
                refs[name] = ref
        for x in node.input:
            if not x:
                continue
            remaining[x] -= 1
            if remaining[x] == 0 and not refs[x].static:
                refs[x].array = None  # the example array is no longer needed

    results = []
    for o in outputs:
        ref = refs[o]
        value = ctx.value_of(ref)
        results.append(value)
    ret = Operation.create("func.return", results, [])
    func.body.append(ret)
    func.result_types = [v.type for v in results]
    func.attributes["kiln.outputs"] = tuple(outputs)  # the ONNX names of the results
    return module
