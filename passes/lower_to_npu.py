"""`lower-to-npu{target=int8-sym}`: calibrated top ops to exact integer `npu` ops.

Input: a top module after `import-calibration` (symmetric ranges [-t, t]). Activations become
i8 `!quant.uniform` with scale t / 127; weights per output channel symmetric i8, biases i32 with
scale in_scale * w_scale. An op is lowered when its `kiln.mode` is INT8 (or absent) and its
data operands and result are calibrated; everything else stays a float top op, fed through an
`npu.cast` dequantize and followed, where a lowered op reads it, by an `npu.cast` quantize.
Graph inputs stay f32 (quantized right after them) and outputs are dequantized to f32, so
detector heads are never silently crushed to int8.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..compiler.attributes import DenseAttr, SymbolRef
from ..compiler.ir import Module, Operation, Value
from ..compiler.pass_manager import Pass, PassError
from ..compiler.types import (
    F32,
    I8,
    I32,
    CalibratedType,
    TensorType,
    UniformPerAxisType,
    UniformType,
)
from ..compiler.weights import WeightStore
from ..dialects.quant import quantize_multiplier, quantize_multipliers, round_half_away
from ..kernels.integer import add_params, make_lut
from .fusion.match import const_array

# unary elementwise top ops computed through a 256-entry table (their own float kernel)
LUT_OPS = {"top.relu", "top.sigmoid", "top.silu", "top.hard_swish", "top.tanh", "top.gelu",
           "top.leaky_relu", "top.hard_sigmoid", "top.clip"}
# ops that only move int8 values: they stay top ops on the quantized tensor
MOVE_OPS = {"top.reshape", "top.transpose", "top.slice"}
QMAX = 127


def _threshold(t: TensorType) -> float:
    el = t.element
    return max(abs(el.min), abs(el.max))


def _scale(threshold: float) -> float:
    return (threshold if threshold > 0 else 1.0) / QMAX


def _calibrated(v: Value | None) -> bool:
    return v is not None and isinstance(v.type, TensorType) and \
        isinstance(v.type.element, CalibratedType)


class _Lowering:
    """The state of one lowering: quantized and dequantized versions of each value."""

    def __init__(self, module: Module) -> None:
        self.module = module
        self.scales: dict[int, float] = {}    # id(original value) -> activation scale
        self.q: dict[int, Value] = {}         # id(original value) -> its i8 value
        self.f: dict[int, Value] = {}         # id(lowered value) -> its f32 dequantization
        self.lowered: set[int] = set()        # id(original value) made by a lowered op
        if module.weights is None:
            module.weights = WeightStore()

    # -- values -----------------------------------------------------------------------------
    def qtype(self, shape, scale: float) -> TensorType:
        return TensorType(shape, UniformType(I8, F32, scale))

    def insert(self, anchor: Operation, name: str, operands, result_type, attrs,
               loc: str | None) -> Value:
        op = Operation.create(name, list(operands), [result_type], attrs, loc)
        anchor.parent.insert_before(anchor, op)
        return op.result

    def quantized(self, v: Value, anchor: Operation) -> Value:
        """The i8 version of `v`, quantizing a float value before `anchor` on first need."""
        got = self.q.get(id(v))
        if got is None:
            scale = self.scales[id(v)]
            got = self.insert(anchor, "npu.cast", [v], self.qtype(v.type.shape, scale), {},
                              _loc(v, "quantize"))
            self.q[id(v)] = got
        return got

    def floated(self, v: Value, anchor: Operation) -> Value:
        """The f32 version of a lowered value, dequantizing before `anchor` on first need."""
        if id(v) not in self.lowered:
            return v
        got = self.f.get(id(v))
        if got is None:
            qv = self.q[id(v)]
            got = self.insert(anchor, "npu.cast", [qv], TensorType(qv.type.shape, F32), {},
                              _loc(v, "dequantize"))
            self.f[id(v)] = got
        return got

    def weight(self, anchor: Operation, array: np.ndarray, t: TensorType, loc: str) -> Value:
        store = self.module.weights
        name = store.unique_name(loc)
        store.add(name, np.ascontiguousarray(array))
        op = Operation.create("top.weight", [], [t], {"ref": SymbolRef(name)}, name)
        anchor.parent.insert_before(anchor, op)
        return op.result

    def requant_to(self, anchor: Operation, qv: Value, in_scale: float, out_scale: float,
                   loc: str | None) -> Value:
        """`qv` at `out_scale` (npu.requant), or `qv` itself when the scales agree."""
        if np.float32(in_scale) == np.float32(out_scale):
            return qv
        m, s = quantize_multiplier(in_scale / out_scale)
        return self.insert(anchor, "npu.requant", [qv], self.qtype(qv.type.shape, out_scale),
                           {"multiplier": (m,), "shift": (s,)}, loc)

    # -- the walk ---------------------------------------------------------------------------
    def run(self) -> None:
        func = self.module.main
        body = func.body
        first = next(iter(body), None)
        for arg in func.arguments:
            if _calibrated(arg):
                self.scales[id(arg)] = _scale(_threshold(arg.type))
                arg.type = arg.type.with_element(arg.type.expressed)
                if first is not None:
                    self.quantized(arg, first)
        erase: list[Operation] = []
        for op in list(body):
            if op.name == "func.return":
                for i, v in enumerate(op.operands):
                    op.set_operand(i, self.floated(v, op))
                continue
            new = self.lower(op) if _mode_ok(op) and all(_calibrated(r) for r in op.results) \
                else None
            if new is not None:
                self.q[id(op.result)] = new
                self.lowered.add(id(op.result))
                self.scales[id(op.result)] = new.type.element.scale
                erase.append(op)
                continue
            for i, v in enumerate(op.operands):
                op.set_operand(i, self.floated(v, op))
            for r in op.results:
                if _calibrated(r):
                    self.scales[id(r)] = _scale(_threshold(r.type))
                    r.type = r.type.with_element(r.type.expressed)
        for op in reversed(erase):
            op.erase()
        for op in list(body.reversed()):  # float weights only lowered ops read, unused casts
            if op.name in ("top.weight", "top.constant", "top.none", "npu.cast") and \
                    op.is_unused:
                op.erase()
        ret = func.return_op
        if ret is not None:
            func.result_types = [v.type for v in ret.operands]

    def lower(self, op: Operation) -> Value | None:
        from .lowering.patterns import PATTERNS

        fn = PATTERNS.get(op.name)
        if fn is None:
            return None
        return fn(self, op)

    # -- helpers for patterns -----------------------------------------------------------------
    def act_in(self, v: Value | None) -> bool:
        return v is not None and id(v) in self.scales

    def in_scale(self, v: Value) -> float:
        return self.scales[id(v)]

    def out_scale(self, op: Operation) -> float:
        return _scale(_threshold(op.result.type))

    def const(self, v: Value | None) -> np.ndarray | None:
        return const_array(v, self.module)


def _loc(v: Value, what: str) -> str | None:
    owner = v.owner
    base = owner.loc if owner is not None and owner.loc else getattr(v, "name_hint", None)
    return f"{base}_{what}" if base else None


def _mode_ok(op: Operation) -> bool:
    return op.attributes.get("kiln.mode", "INT8") == "INT8"


def quantize_weight(w: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel symmetric i8 weights along `axis` and their scales (absmax / 127)."""
    moved = np.moveaxis(w.astype(np.float64), axis, 0)
    absmax = np.abs(moved.reshape(moved.shape[0], -1)).max(axis=1)
    scales = np.where(absmax > 0, absmax, 1.0) / QMAX
    shape = [1] * w.ndim
    shape[axis] = -1
    q = np.clip(round_half_away(w / scales.reshape(shape)), -QMAX, QMAX).astype(np.int8)
    return q, np.float32(scales).astype(np.float64)


def quantize_bias(b: np.ndarray, scales: np.ndarray) -> np.ndarray:
    lim = (1 << 31) - 1
    return np.clip(round_half_away(b.astype(np.float64) / scales), -lim, lim).astype(np.int32)


def channel_params(in_scale: float, w_scales: np.ndarray, out_scale: float):
    return quantize_multipliers(np.float64(in_scale) * w_scales / np.float64(out_scale))


def weight_type(shape, axis: int, scales: np.ndarray) -> TensorType:
    return TensorType(shape, UniformPerAxisType(I8, F32, axis, tuple(float(s) for s in scales)))


def bias_type(n: int) -> TensorType:
    return TensorType((n,), I32)


def lut_table(fn, in_scale: float, out_scale: float) -> DenseAttr:
    table = make_lut(fn, in_scale, 0, out_scale, 0, np.int8)
    return DenseAttr(table, TensorType((256,), I8))


def avg_params(in_scale: float, out_scale: float, taps: int):
    return quantize_multipliers([in_scale / (out_scale * c) for c in range(1, taps + 1)])


def add_attrs(sa: float, sb: float, sy: float) -> dict:
    return add_params(sa, sb, sy)


@dataclass(frozen=True)
class LowerToNpu(Pass):
    name = "lower-to-npu"
    description = "lower calibrated INT8 top ops to integer npu ops (casts where float meets int)"
    target: str = "int8-sym"

    def run(self, module: Module) -> None:
        from ..compiler.target import load_target

        target = load_target(self.target)
        if not (target.activation_symmetric and target.symmetric_weights and
                target.activation_signed and 8 in target.weight_bits):
            raise PassError(f"lower-to-npu supports symmetric int8 targets only, not "
                            f"{target.name}")
        _Lowering(module).run()

