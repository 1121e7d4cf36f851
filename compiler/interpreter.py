"""The reference interpreter: runs a module's entry function on numpy arrays.

Each op runs its own kernel (`evaluate`, usually `compute`); the interpreter only feeds
operands, checks that each result has the shape and element type the IR says, and drops an
array as soon as its last user has run, so memory stays at the live set of the network.
Every intermediate tensor can be kept, or streamed to a callback, by loc name: that is what
`model_runner --dump_all_tensors`, calibration and layer-by-layer comparison use.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from .errors import UserError
from .ir import Function, Module, Operation, Value
from .types import CalibratedType, NoneType, TensorType, Type
from .weights import WeightStore


class InterpreterError(UserError):
    """Bad inputs, or a kernel that failed or disagreed with the IR; names the op."""


@dataclass
class EvalContext:
    weights: WeightStore | None = None
    cache: dict = field(default_factory=dict)  # per-run memo for kernels (e.g. dequantized weights)


def input_names(func: Function) -> list[str]:
    """The name each argument is fed by: its `kiln.name` (the ONNX input name), else its SSA
    name, else `argN`."""
    out = []
    for i, (arg, attrs) in enumerate(zip(func.arguments, func.arg_attributes)):
        name = attrs.get("kiln.name")
        out.append(name if isinstance(name, str) else arg.name_hint or f"arg{i}")
    return out


def tensor_name(value: Value, func: Function | None = None) -> str | None:
    """The tensor name of a value: the loc of the op that makes it, or the input name."""
    op = value.owner
    if op is not None:
        return op.loc
    if func is not None and value in func.arguments:
        return input_names(func)[func.arguments.index(value)]
    return value.name_hint


def output_names(func: Function) -> list[str]:
    """The names of the results: the function's `kiln.outputs` (the ONNX output names) if
    recorded, else the tensor names of the returned values."""
    ret = func.return_op
    if ret is None:
        return []
    recorded = func.attributes.get("kiln.outputs")
    if isinstance(recorded, tuple) and len(recorded) == len(ret.operands):
        return list(recorded)
    return [tensor_name(v, func) or f"output{i}" for i, v in enumerate(ret.operands)]


def expected_dtype(t: TensorType) -> np.dtype:
    el = t.element
    return t.expressed.numpy_dtype if isinstance(el, CalibratedType) else t.scalar.numpy_dtype


def random_inputs(func: Function, seed: int = 0) -> dict[str, np.ndarray]:
    """Deterministic inputs for a function: standard normal floats, zeros for integers."""
    rng = np.random.default_rng(seed)
    out = {}
    for name, arg in zip(input_names(func), func.arguments):
        t = arg.type
        if not isinstance(t, TensorType):
            continue
        shape = tuple(max(d, 1) for d in t.shape)
        dtype = expected_dtype(t)
        if dtype.kind == "f":
            out[name] = rng.standard_normal(shape).astype(dtype)
        else:
            out[name] = np.zeros(shape, dtype)
    return out


def _check_inputs(func: Function, inputs: Mapping[str, np.ndarray]) -> list[np.ndarray]:
    names = input_names(func)
    unknown = sorted(set(inputs) - set(names))
    missing = [n for n in names if n not in inputs]
    if missing or unknown:
        raise InterpreterError(
            (f"missing input(s) {', '.join(missing)}; " if missing else "")
            + (f"unknown input(s) {', '.join(unknown)}; " if unknown else "")
            + f"the model's inputs are: {', '.join(names)}")
    arrays = []
    for name, arg in zip(names, func.arguments):
        array = np.asarray(inputs[name])
        t = arg.type
        if isinstance(t, TensorType):
            shape_ok = len(array.shape) == t.rank and all(
                d < 0 or d == s for d, s in zip(t.shape, array.shape))
            if not shape_ok:
                raise InterpreterError(f"input '{name}' has shape {array.shape}, the model "
                                       f"expects {t.shape}")
            want = expected_dtype(t)
            if array.dtype != want:
                if array.dtype.kind == want.kind == "f" or (array.dtype.kind in "iu"
                                                            and want.kind in "iu"):
                    array = array.astype(want)
                else:
                    raise InterpreterError(f"input '{name}' is {array.dtype}, the model "
                                           f"expects {want}")
        arrays.append(array)
    return arrays


class _Step(NamedTuple):
    """One op of the plan: what to feed it, what to check, what to drop after it."""

    op: Operation
    operands: tuple[int, ...]        # env keys of the operands
    results: tuple[tuple, ...]       # per result: (env key, value, shape or None, dtype or None)
    frees: tuple[int, ...]           # env keys whose last use is this op (or never used)


@functools.lru_cache(maxsize=4096)
def _expected(t: Type) -> tuple[tuple[int, ...] | None, np.dtype | None]:
    """(shape with -1 for dynamic dims, dtype) a result of type `t` must have; (None, None)
    for a non-tensor type. Types are immutable values, so this is computed once per type."""
    if isinstance(t, TensorType):
        return tuple(t.shape), expected_dtype(t)
    return None, None


def _plan(func: Function) -> tuple[list[_Step], Operation | None]:
    """The ops before the return, each with its operand keys, the checks of its results and
    the values to drop after it, so that the run loop does no analysis of its own."""
    ret = func.return_op
    ops = [op for op in func.body if op is not ret]
    last: dict[int, int] = {}
    for index, op in enumerate(ops):
        for v in op._operands:
            last[id(v)] = index
    returned = set() if ret is None else {id(v) for v in ret._operands}
    frees: list[list[int]] = [[] for _ in ops]
    for vid, index in last.items():
        if vid not in returned:
            frees[index].append(vid)
    steps = []
    for index, op in enumerate(ops):
        results = []
        for value in op.results:
            vid = id(value)
            if vid not in last and vid not in returned:
                frees[index].append(vid)  # never used: drop it as soon as it is reported
            results.append((vid, value, *_expected(value.type)))
        steps.append(_Step(op, tuple(map(id, op._operands)), tuple(results),
                           tuple(frees[index])))
    return steps, ret


def _fail(op: Operation, message: str) -> InterpreterError:
    return InterpreterError(f"{op.describe()}: {message}")


def _evaluate(op: Operation, ctx: EvalContext, args: list) -> list:
    try:
        return op.evaluate(ctx, args)
    except InterpreterError:
        raise
    except NotImplementedError as e:
        raise _fail(op, str(e)) from None
    except (ValueError, TypeError, IndexError, KeyError, ZeroDivisionError,
            FloatingPointError, MemoryError) as e:
        raise _fail(op, f"kernel failed: {type(e).__name__}: {e}") from e


def run_function(func: Function, inputs: Mapping[str, np.ndarray], *,
                 weights: WeightStore | None = None, keep_all: bool = False,
                 on_tensor: Callable[[str, np.ndarray], None] | None = None,
                 rewrite: Callable[[Operation, np.ndarray], np.ndarray] | None = None
                 ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Run `func`. Returns (outputs by name, every named tensor by loc if `keep_all`).
    `on_tensor(loc, array)` is called for each op result as it is computed.
    `rewrite(op, array)` replaces each result before anything reads it (the calibration
    simulator fake-quantizes activations this way).

    Without `keep_all`, an array is dropped as soon as the last op that reads it has run
    (results nothing reads, right after `on_tensor`), so memory stays at the live set."""
    ctx = EvalContext(weights)
    env: dict[int, np.ndarray | None] = {}
    for arg, array in zip(func.arguments, _check_inputs(func, inputs)):
        env[id(arg)] = array
    kept: dict[str, np.ndarray] = {}
    if keep_all:
        kept.update(zip(input_names(func), (env[id(a)] for a in func.arguments)))
    steps, ret = _plan(func)
    for step in steps:
        op = step.op
        results = _evaluate(op, ctx, [env[k] for k in step.operands])
        if len(results) != len(step.results):
            raise _fail(op, f"kernel returned {len(results)} result(s), the IR has "
                            f"{len(step.results)}")
        if rewrite is not None:
            results = [a if a is None else rewrite(op, a) for a in results]
        loc = op.loc
        for (key, value, shape, dtype), array in zip(step.results, results):
            if shape is not None:
                _check_array(op, value, array, shape, dtype)
            elif not isinstance(value.type, NoneType):
                _check_other(op, value, array)
            env[key] = array
            if loc is not None and array is not None:
                if keep_all:
                    kept[loc] = array
                if on_tensor is not None:
                    on_tensor(loc, array)
        if not keep_all:
            for key in step.frees:
                env.pop(key, None)
    if ret is None:
        return {}, kept
    outputs = {name: env[id(v)] for name, v in zip(output_names(func), ret.operands)}
    return outputs, kept


def _check_array(op: Operation, value: Value, array, shape: tuple[int, ...],
                 dtype: np.dtype) -> None:
    """The result must be an ndarray of the IR's shape (-1 matches any size) and dtype."""
    if not isinstance(array, np.ndarray):
        raise _fail(op, f"kernel returned {type(array).__name__}, not an array")
    got = array.shape
    if got != shape and (len(got) != len(shape)
                         or any(d >= 0 and d != s for d, s in zip(shape, got))):
        raise _fail(op, f"kernel made shape {got}, the IR says {shape}")
    if array.dtype != dtype:
        raise _fail(op, f"kernel made {array.dtype}, the IR says {value.type.scalar.name}")


def _check_other(op: Operation, value: Value, array) -> None:
    """A result of a type the interpreter does not check further must still be an array."""
    if not isinstance(array, np.ndarray):
        raise _fail(op, f"kernel returned {type(array).__name__} for a "
                        f"{type(value.type).__name__} result, not an array")


def run_module(module: Module, inputs: Mapping[str, np.ndarray] | None = None, *,
               seed: int = 0, keep_all: bool = False) -> dict[str, np.ndarray]:
    """Run the entry function; without `inputs`, on deterministic random ones. Returns the
    outputs, plus every named intermediate tensor when `keep_all`."""
    func = module.main
    if inputs is None:
        inputs = random_inputs(func, seed)
    outputs, kept = run_function(func, inputs, weights=module.weights, keep_all=keep_all)
    if keep_all:
        kept.update(outputs)
        return kept
    return outputs
