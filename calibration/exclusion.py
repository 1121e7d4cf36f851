"""Which ops must never be quantized: shape/index computations, masks, integer data.

Quantizing a tensor makes sense only for an activation, a float tensor with a real
distribution. Three kinds of value are not activations, and the ops that make them are
computed exactly (kept in f32, or in their own integer type) and get no calibration range
(except a sentinel-free float value that a quantized op reads, which keeps its range; see
`ExactAnalysis.tensors_without_range`). An op that is several kinds gets the first reason
in this order:

- `shape`: values that compute shapes, indices or sizes: whatever feeds an index operand
  (the indices of gather / gather_elements / gather_nd / scatter_nd), index producers
  (arg_max, arg_min, topk_indices, and range / nonzero / shape if such ops exist), and the
  float arithmetic (floor, mul, cast, ...) whose result is used only to compute such values
  or to make integers (a cast to an integer type).
- `mask`: tensors holding sentinels: +-inf, NaN or huge values (|v| >= 1e30, or half the
  largest finite value of a narrower float type) such as masks written `(1 - m) * -3.4e38` or
  `where(m, 0, -inf)`. Sentinel constants are found in the graph and followed forward
  through elementwise and data-movement ops (add, mul, where, reshape, concat, ...) until an
  op of another kind (softmax, reduce_max, max_pool, ...) consumes them; ops whose values
  only feed such chains or where-conditions are masks too.
- `integer`: everything else computed only from integer or bool values (model inputs such
  as token ids and attention masks, comparisons, casts) and inline constants: any op with
  an integer or bool result, and float ops all of whose operands are such values. Learned
  parameters make activations, not exact values: a float constant read by a parametric op
  (conv, matmul, gemm, einsum, normalization, prelu, or the table of a gather: an embedding
  looked up by token ids), or a float `top.weight` read by any op.

An op that already carries `kiln.exact = true` (written by hand, or by an earlier run) stays
exact and keeps a valid `kiln.exact_reason`; the mark is about how the op is computed, not
what its result is, so it does not make the op's users exact (which keeps the analysis the
same on a module it has already marked). A float model input cannot be recognised as a
mask from the graph alone (it has no sentinel constant); such inputs are calibrated normally.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from ..compiler.attributes import DenseAttr
from ..compiler.interpreter import input_names
from ..compiler.ir import Function, Operation, Value
from ..compiler.types import ScalarType, TensorType
from ..compiler.weights import WeightStore

EXACT_ATTR = "kiln.exact"
REASON_ATTR = "kiln.exact_reason"
REASONS = ("shape", "mask", "integer")
SENTINEL = 1e30

CONSTANT_OPS = frozenset({"top.constant", "top.weight", "top.none"})
# op name -> positions of its operands that are indices
INDEX_OPERANDS: dict[str, tuple[int, ...]] = {
    "top.gather": (1,), "top.gather_elements": (1,), "top.gather_nd": (1,),
    "top.scatter_nd": (1,),
}
INDEX_PRODUCERS = frozenset({"top.arg_max", "top.arg_min", "top.topk_indices", "top.range",
                             "top.nonzero", "top.shape", "top.size"})
_MOVEMENT = frozenset({"top.reshape", "top.transpose", "top.slice", "top.concat", "top.tile",
                       "top.expand", "top.pad", "top.gather", "top.gather_elements",
                       "top.gather_nd", "top.depth_to_space", "top.space_to_depth"})
# ops through which a sentinel value travels (elementwise arithmetic and data movement)
MASK_CARRIERS = _MOVEMENT | {"top.add", "top.sub", "top.mul", "top.div", "top.neg",
                             "top.where", "top.min", "top.max", "top.cast"}
# ops whose float constant operands are learned parameters (filters, tables, scales)
PARAMETRIC_OPS = frozenset({"top.conv", "top.conv_transpose", "top.matmul", "top.gemm",
                            "top.einsum", "top.gather", "top.gather_elements", "top.gather_nd",
                            "top.batch_normalization", "top.layer_normalization",
                            "top.instance_normalization", "top.prelu"})
# float ops that do index arithmetic: one whose result only feeds shape computations is one
INDEX_ARITHMETIC = _MOVEMENT | {"top.add", "top.sub", "top.mul", "top.div", "top.mod",
                                "top.neg", "top.abs", "top.floor", "top.ceil", "top.round",
                                "top.sign", "top.min", "top.max", "top.clip", "top.cast",
                                "top.where", "top.reciprocal", "top.cumsum"}


def is_integer_type(t: object) -> bool:
    """An integer or bool tensor type (quantized types are not integer data)."""
    return (isinstance(t, TensorType) and isinstance(t.element, ScalarType)
            and not t.element.is_float)


def is_exact(op: Operation) -> bool:
    return op.attributes.get(EXACT_ATTR) is True


class _Analysis:
    """One function: the forward sweep finds exact and sentinel values, the backward sweep
    gives each op its reason (and adds float index arithmetic)."""

    def __init__(self, func: Function, sentinel: float, weights: WeightStore | None) -> None:
        self.func = func
        self.sentinel = sentinel
        module = func.parent
        self.weights = weights if weights is not None else getattr(module, "weights", None)
        self.exact: set[int] = set()      # ids of exact values
        self.masks: set[int] = set()      # ids of float values that may hold sentinels
        self.constant: set[int] = set()   # ids of results of constant ops
        self._sentinel_cache: dict[int, bool] = {}

    # -- constants -------------------------------------------------------------------------------
    def _limit(self, dtype: np.dtype) -> float:
        return min(self.sentinel, float(np.finfo(dtype).max) / 2)

    def holds_sentinel(self, value: Value) -> bool:
        """Whether a constant-defined float value has a non-finite or huge element."""
        key = id(value)
        if key not in self._sentinel_cache:
            self._sentinel_cache[key] = self._constant_sentinel(value)
        return self._sentinel_cache[key]

    def _constant_sentinel(self, value: Value) -> bool:
        op = value.owner
        t = value.type
        if op is None or not isinstance(t, TensorType) or not t.scalar.is_float:
            return False
        array = None
        if op.name == "top.constant" and isinstance(op.attributes.get("value"), DenseAttr):
            array = op.attributes["value"].array
        elif op.name == "top.weight" and self.weights is not None:
            ref = op.attributes.get("ref")
            if ref is not None and ref.name in self.weights:
                array = self.weights.get(ref.name)
        if array is None or array.size == 0 or array.dtype.kind != "f":
            return False
        wide = np.asarray(array, np.float64)
        return bool(not np.isfinite(wide).all() or np.abs(wide).max() >= self._limit(array.dtype))

    def carries_sentinel(self, value: Value) -> bool:
        return id(value) in self.masks or (id(value) in self.constant
                                           and self.holds_sentinel(value))

    def sentinel_values(self) -> set[int]:
        """Ids of the values that may hold sentinels (constants among them once read)."""
        return self.masks | {k for k, v in self._sentinel_cache.items() if v}

    def _is_parameter(self, op: Operation, value: Value) -> bool:
        """A float constant that `op` uses as learned parameters: any (non-sentinel) float
        constant of a parametric op, or a float `top.weight` of any op."""
        src = value.owner
        if src is None or src.name not in ("top.constant", "top.weight") or \
                not value.type.scalar.is_float or self.holds_sentinel(value):
            return False
        return op.name in PARAMETRIC_OPS or src.name == "top.weight"

    # -- forward ---------------------------------------------------------------------------------
    def forward(self) -> None:
        for arg in self.func.arguments:
            if is_integer_type(arg.type):
                self.exact.add(id(arg))
        for op in self.func.ops:
            if op.TERMINATOR:
                continue
            if op.name in CONSTANT_OPS:  # read only when a mask carrier uses them
                self.constant.update(id(r) for r in op.results)
                continue
            ins = [v for v in op.operands if isinstance(v.type, TensorType)]
            from_exact = all(id(v) in self.exact or id(v) in self.constant for v in ins) and \
                not any(self._is_parameter(op, v) for v in ins)
            for r in op.results:
                if not isinstance(r.type, TensorType):
                    continue
                if is_integer_type(r.type) or from_exact:
                    self.exact.add(id(r))
                if r.type.scalar.is_float and self._injects_sentinel(op):
                    self.masks.add(id(r))

    def _injects_sentinel(self, op: Operation) -> bool:
        if op.name not in MASK_CARRIERS:
            return False
        if op.name == "top.pad":
            v = op.attributes.get("value", 0.0)
            if isinstance(v, (int, float)) and not isinstance(v, bool) and (
                    not np.isfinite(v) or abs(v) >= self.sentinel):
                return True
        for index, v in enumerate(op.operands):
            if not self.carries_sentinel(v):
                continue
            if op.name == "top.where" and index == 0:
                continue
            if op.name == "top.div" and index == 1:
                continue  # x / huge is small, not a sentinel
            if op.name in ("top.min", "top.max") and id(v) in self.constant and \
                    self._only_bounds(op, v):
                continue
            return True
        return False

    def _only_bounds(self, op: Operation, value: Value) -> bool:
        """max(x, -huge) / min(x, +huge) clamp x; the constant is a bound, not a sentinel."""
        array = np.asarray(value.owner.attributes["value"].array
                           if value.owner.name == "top.constant" else
                           self.weights.get(value.owner.attributes["ref"].name), np.float64)
        return bool((array < 0).all() if op.name == "top.max" else (array > 0).all())

    # -- backward --------------------------------------------------------------------------------
    def backward(self) -> dict[Operation, str]:
        roles: dict[int, set[str]] = {}
        for op in self.func.body.reversed():
            sentinels = [r for r in op.results if id(r) in self.masks
                         or self._sentinel_cache.get(id(r), False)]
            if op.TERMINATOR or (op.name in CONSTANT_OPS and not is_exact(op) and not sentinels):
                continue
            results = [r for r in op.results if isinstance(r.type, TensorType)]
            marked = is_exact(op) or bool(sentinels) or any(id(r) in self.exact for r in results)
            if not marked and not self._index_arithmetic(op, results, roles):
                continue
            role: set[str] = set()
            if op.name in INDEX_PRODUCERS:
                role.add("shape")
            if sentinels:
                role.add("mask")
            for r in results:
                for user, index in r.uses:
                    if index in INDEX_OPERANDS.get(user.name, ()):
                        role.add("shape")
                        continue
                    if user.name == "top.where" and index == 0:
                        role.add("mask")  # a condition; shape too if the where computes one
                    role |= roles.get(id(user), set())
            if not marked:
                role.add("shape")
                for r in results:
                    self.exact.add(id(r))
            roles[id(op)] = role
        out: dict[Operation, str] = {}
        for op in self.func.ops:
            role = roles.get(id(op))
            if role is None:
                continue
            given = op.attributes.get(REASON_ATTR)
            if is_exact(op) and given in REASONS:
                out[op] = given
            else:
                out[op] = next((r for r in REASONS if r in role), "integer")
        return out

    def _index_arithmetic(self, op: Operation, results: list[Value],
                          roles: dict[int, set[str]]) -> bool:
        """A float op of index arithmetic whose every use computes a shape or an integer."""
        if op.name not in INDEX_ARITHMETIC or len(results) != 1:
            return False
        r = results[0]
        if not r.uses or not r.type.scalar.is_float:
            return False
        for user, index in r.uses:
            if index in INDEX_OPERANDS.get(user.name, ()):
                continue
            if user.name == "top.cast" and user.results and is_integer_type(user.results[0].type):
                continue
            if "shape" in roles.get(id(user), ()):
                continue
            return False
        return True


@dataclass
class ExactAnalysis:
    """The result of the analysis on one function."""

    func: Function
    ops: dict[Operation, str]   # every exact op, in program order -> its reason
    sentinel_values: set[int]   # ids of the float values that may hold sentinels

    def holds_sentinel(self, value: Value) -> bool:
        return id(value) in self.sentinel_values

    def shape_layers(self) -> list[str]:
        """The exact ops' names (locs), in program order, each once: the qtable's
        shape-layers rows."""
        return list(dict.fromkeys(op.loc for op in self.ops if op.loc is not None))

    def tensors_without_range(self) -> dict[str, str]:
        """Tensor name (loc, or input name) -> reason, for every tensor that must get no
        calibration range: the integer and bool model inputs, and the exact ops' results,
        except a sentinel-free float result that a non-exact op reads (a 0/1 mask multiplying
        hidden states, a uint8 image after its cast and normalization): that op quantizes
        its operand, so the value still needs a range, although it is computed exactly."""
        out = {name: "integer" for name in exact_inputs(self.func)}
        for op, reason in self.ops.items():
            if op.loc is None:
                continue
            if any(self._needs_range(r) for r in op.results):
                continue
            out[op.loc] = reason
        return out

    def _needs_range(self, value: Value) -> bool:
        t = value.type
        if not isinstance(t, TensorType) or not t.scalar.is_float or self.holds_sentinel(value):
            return False
        return any(user not in self.ops and not user.TERMINATOR for user in value.users)


def analyze_exact(func: Function, *, sentinel: float = SENTINEL,
                  weights: WeightStore | None = None) -> ExactAnalysis:
    """Find every op of `func` that must be computed exactly, with its reason (`shape`,
    `mask` or `integer`; see the module docstring). Constants are listed only when they hold
    sentinels. `weights` defaults to the module's (read only for float weights that reach
    mask-carrying ops)."""
    analysis = _Analysis(func, sentinel, weights)
    analysis.forward()
    ops = analysis.backward()
    return ExactAnalysis(func, ops, analysis.sentinel_values())


def find_exact_ops(func: Function, *, sentinel: float = SENTINEL,
                   weights: WeightStore | None = None) -> dict[Operation, str]:
    """`analyze_exact(...).ops`: exact op -> reason, in program order."""
    return analyze_exact(func, sentinel=sentinel, weights=weights).ops


def exact_inputs(func: Function) -> list[str]:
    """The names of the integer and bool model inputs (token ids, masks): never calibrated."""
    return [name for name, arg in zip(input_names(func), func.arguments)
            if is_integer_type(arg.type)]


def mark_exact(ops: dict[Operation, str] | Iterable[tuple[Operation, str]]) -> int:
    """Write `kiln.exact = true` and `kiln.exact_reason` on the ops; return how many changed."""
    changed = 0
    items = ops.items() if isinstance(ops, dict) else ops
    for op, reason in items:
        if reason not in REASONS:
            raise ValueError(f"unknown exact reason '{reason}' (one of {', '.join(REASONS)})")
        if op.attributes.get(EXACT_ATTR) is not True or op.attributes.get(REASON_ATTR) != reason:
            op.attributes[EXACT_ATTR] = True
            op.attributes[REASON_ATTR] = reason
            changed += 1
    return changed


def marked_ops(func: Function) -> dict[Operation, str]:
    """The ops marked `kiln.exact = true` in the IR, with their reason (`integer` if none)."""
    out = {}
    for op in func.ops:
        if is_exact(op):
            reason = op.attributes.get(REASON_ATTR)
            out[op] = reason if reason in REASONS else "integer"
    return out


__all__ = ["EXACT_ATTR", "REASONS", "REASON_ATTR", "SENTINEL", "ExactAnalysis", "analyze_exact",
           "exact_inputs", "find_exact_ops", "is_exact", "is_integer_type", "mark_exact",
           "marked_ops"]
