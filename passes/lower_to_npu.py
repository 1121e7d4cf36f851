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

import math
from dataclasses import dataclass

import numpy as np

from ..compiler.attributes import SymbolRef
from ..compiler.ir import Module, Operation, Value
from ..compiler.pass_manager import Pass, PassError
from ..compiler.types import (
    BF16,
    F16,
    F32,
    I8,
    I16,
    I32,
    I64,
    CalibratedType,
    ScalarType,
    TensorType,
    UniformPerAxisType,
    UniformType,
)
from ..compiler.weights import WeightStore
from ..dialects.quant import quantize_multiplier, quantize_multipliers, round_half_away
from .apply_qtable import MODE_ATTR
from .fusion.match import const_array
from .lowering.scheme import QScheme, mode_bits

# unary elementwise top ops computed through a table (their own float kernel); ops whose
# kernel can give nan on a code outside their domain (log, sqrt, reciprocal) stay float
LUT_OPS = {"top.relu", "top.sigmoid", "top.silu", "top.hard_swish", "top.hard_sigmoid",
           "top.tanh", "top.gelu", "top.leaky_relu", "top.clip", "top.elu", "top.selu",
           "top.softplus", "top.softsign", "top.mish", "top.exp", "top.erf", "top.abs",
           "top.neg", "top.sign", "top.floor", "top.ceil", "top.round"}
# ops that only move integer values: they stay top ops on the quantized tensor
# bounded monotone activations: their output range is the image of the input range
BOUNDED_OPS = {"top.sigmoid", "top.tanh", "top.hard_sigmoid", "top.softsign", "top.erf"}
HALF_TYPES = {"F16": F16, "BF16": BF16}
MOVE_OPS = {"top.reshape", "top.transpose", "top.slice", "top.depth_to_space",
            "top.space_to_depth", "top.tile", "top.expand"}


def _table(u: Operation, default_mode: str) -> bool:
    return u.name in LUT_OPS and len(u.operands) == 1 and \
        bool(mode_bits(u.attributes.get(MODE_ATTR, default_mode)))


def _float_reader(u: Operation, default_mode: str) -> bool:
    """A reader that takes the value in float: the outputs (dequantized), a float layer, or
    an op with no integer form."""
    from .lowering.patterns import PATTERNS

    if u.name == "func.return" or not mode_bits(u.attributes.get(MODE_ATTR, default_mode)) \
            or u.name not in PATTERNS:
        return True
    # a concat with a constant operand has no integer form (every input must be an
    # activation); an add or mul with one does, see _takes_wide
    return u.name == "top.concat" and _has_constant_operand(u)


def _has_constant_operand(u: Operation) -> bool:
    return any(v.owner is not None and v.owner.name in ("top.weight", "top.constant")
               for v in u.operands)


def only_tables_read(v: Value, default_mode: str = "INT8") -> list[Operation]:
    """The users of `v` when every one is an integer table lookup (a LUT activation in an
    integer mode), else []: such a value can be written at 16 bits and fitted to the tables."""
    users = v.users
    ok = users and all(_table(u, default_mode) for u in users)
    return users if ok else []


def _takes_wide(u: Operation, v: Value) -> bool:
    """`u` reads `v` at 16 bits for almost nothing: `v` is the broadcast side of a product
    (an SE gate, one value per channel times a feature map), or `u` is a product or sum of
    `v` with a constant (PP-LCNet's learnable affine after each hard-swish: at 8 bits each
    of the two ops added a rounding and a clipping the float chain did not have)."""
    if u.name not in ("top.mul", "top.add") or not u.results:
        return False
    if _has_constant_operand(u):
        return True
    t, r = v.type, u.results[0].type
    return u.name == "top.mul" and isinstance(t, TensorType) and isinstance(r, TensorType) \
        and t.is_static and r.is_static and t.num_elements < r.num_elements


def reads_wide(v: Value, default_mode: str = "INT8") -> bool:
    """True when every reader of `v` takes any integer code (tables, see _takes_wide) or the
    value in float: writing it at 16 bits then costs (almost) nothing
    downstream and keeps 8 more bits."""
    users = v.users
    return bool(users) and all(_table(u, default_mode) or _float_reader(u, default_mode)
                               or _takes_wide(u, v) for u in users)


# run_calibration's output-aware rounding of a conv / matmul weight, on the target's grid
ROUNDED_WEIGHT_ATTR = "kiln.rounded_weight"
# run_calibration's mean rounding error of a layer's input per channel, and the input type it
# was measured for (calibration/input_rounding.py)
INPUT_ROUNDING_ATTR = "kiln.input_rounding"
INPUT_ROUNDING_TYPE_ATTR = "kiln.input_rounding_type"


def _calibrated(v: Value | None) -> bool:
    return v is not None and isinstance(v.type, TensorType) and \
        isinstance(v.type.element, CalibratedType)


class _Lowering:
    """The state of one lowering: the quantized versions of each value (one per integer
    type a consumer reads it in) and the dequantized version of each lowered value."""

    def __init__(self, module: Module, scheme: QScheme, default_mode: str,
                 quant_output: bool = False) -> None:
        self.module = module
        self.scheme = scheme
        self.default_mode = default_mode
        self.quant_output = quant_output
        self.ranges: dict[int, tuple[float, float]] = {}  # id(original value) -> (min, max)
        self.produced: dict[int, Value] = {}  # id(original value) -> its lowered value
        self.q: dict[tuple[int, UniformType], Value] = {}  # (id, type) -> quantized version
        self.f: dict[int, Value] = {}         # id(original value) -> its f32 dequantization
        self.notes: list[str] = []            # decisions a user should read (rules applied)
        self.rounded: dict[int, ScalarType] = {}  # id(value) -> half type it already fits
        self.concat_bits: dict[int, int | None] = {}  # id(concat) -> its width (None: float)
        self.rounded_weights: dict[int, np.ndarray] = {}  # id(op) -> calibration's rounding
        # id(op) -> [(its input's mean rounding error, the input type it is for), ...]
        self.input_rounding: dict[int, list[tuple[np.ndarray, UniformType]]] = {}
        if module.weights is None:
            module.weights = WeightStore()

    # -- modes and types --------------------------------------------------------------------
    def mode(self, op: Operation) -> str:
        return op.attributes.get(MODE_ATTR, self.default_mode)

    def bits(self, op: Operation) -> int:
        return mode_bits(self.mode(op)) or 8

    def act_type(self, v: Value, bits: int) -> UniformType:
        return self.scheme.activation(*self.ranges[id(v)], bits)

    def out_type(self, op: Operation, bits: int | None = None) -> TensorType:
        el = self.act_type(op.result, self.wide_output(op) if bits is None else bits)
        return TensorType(op.result.type.shape, el)

    # -- values -----------------------------------------------------------------------------
    def insert(self, anchor: Operation, name: str, operands, result_type, attrs,
               loc: str | None) -> Value:
        op = Operation.create(name, list(operands), [result_type], attrs, loc)
        anchor.parent.insert_before(anchor, op)
        return op.result

    def quantized(self, v: Value, anchor: Operation, bits: int | None = None) -> Value:
        """`v` as the integer type `anchor` reads it in (its calibrated range at the wider of
        the anchor's and the producer's bit widths): the lowered value itself, an integer
        cast of it (mode boundary), or a quantize cast of a float value; each made once,
        before its first reader."""
        src = self.produced.get(id(v))
        if bits is None:  # the reader's width, or the producer's when that is wider: a
            bits = self.bits(anchor)  # wide layer's precision reaches its readers
            if src is not None:
                bits = max(bits, src.type.scalar.bits)
        want = self.act_type(v, bits)
        if src is not None and src.type.element == want:
            return src
        got = self.q.get((id(v), want))
        if got is not None:
            return got
        t = TensorType(v.type.shape, want)
        if src is None:
            got = self.insert(anchor, "npu.cast", [v], t, {}, _loc(v, "quantize"))
        else:
            have = src.type.element
            m, s = quantize_multiplier(have.scale / want.scale)
            got = self.insert(anchor, "npu.cast", [src], t,
                              {"multiplier": (m,), "shift": (s,), "input_zp": have.zp,
                               "output_zp": want.zp}, _loc(v, f"to_{want.storage}"))
        self.q[(id(v), want)] = got
        return got

    def floated(self, v: Value, anchor: Operation) -> Value:
        """The f32 version of a lowered value, dequantizing before `anchor` on first need."""
        src = self.produced.get(id(v))
        if src is None:
            return v
        got = self.f.get(id(v))
        if got is None:
            got = self.insert(anchor, "npu.cast", [src], TensorType(src.type.shape, F32), {},
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

    def requant_to(self, anchor: Operation, qv: Value, want: TensorType,
                   loc: str | None) -> Value:
        """`qv` in type `want` (npu.requant), or `qv` itself when the types agree."""
        have = qv.type.element
        if have == want.element:
            return qv
        m, s = quantize_multiplier(have.scale / want.element.scale)
        return self.insert(anchor, "npu.requant", [qv], want,
                           {"multiplier": (m,), "shift": (s,), "input_zp": have.zp,
                            "output_zp": want.element.zp}, loc)

    # -- the walk ---------------------------------------------------------------------------
    def run(self) -> None:
        func = self.module.main
        body = func.body
        for arg in func.arguments:
            if _calibrated(arg):
                el = arg.type.element
                self.ranges[id(arg)] = (el.min, el.max)
                arg.type = arg.type.with_element(arg.type.expressed)
        for op in body:
            for r in op.results:
                if _calibrated(r):
                    self.ranges[id(r)] = (r.type.element.min, r.type.element.max)
            if op.name in BOUNDED_OPS and op.results and id(op.result) in self.ranges:
                self._widen_bounded(op)
        from .lowering.head import concat_rule

        for op in body:  # decided before any lowering, so the readers' modes are final
            if op.name == "top.concat" and mode_bits(self.mode(op)) and \
                    all(id(v) in self.ranges for v in op.operands):
                self.concat_bits[id(op)] = concat_rule(self, op)
        for op in body:
            if len(op.results) == 1 and id(op.result) in self.ranges:
                self._fit_to_tables(op.result)
        erase: list[Operation] = []
        for op in list(body):
            if op.name == "func.return":
                for i, v in enumerate(op.operands):
                    if not self.quant_output:
                        op.set_operand(i, self.floated(v, op))
                    elif id(v) in self.produced:
                        op.set_operand(i, self.produced[id(v)])
                continue
            self._take_calibration_attrs(op)
            new = self.lower(op) if mode_bits(self.mode(op)) and \
                all(_calibrated(r) for r in op.results) else None
            if new is not None:
                self.produced[id(op.result)] = new
                erase.append(op)
                continue
            for i, v in enumerate(op.operands):
                op.set_operand(i, self.floated(v, op))
            for r in op.results:
                if _calibrated(r):
                    r.type = r.type.with_element(r.type.expressed)
            if self.mode(op) in HALF_TYPES:
                self.half(op, HALF_TYPES[self.mode(op)])
        for op in reversed(erase):
            op.erase()
        for op in list(body.reversed()):  # float weights only lowered ops read, unused casts
            if op.name in ("top.weight", "top.constant", "top.none", "npu.cast") and \
                    op.is_unused:
                op.erase()
        ret = func.return_op
        if ret is not None:
            func.result_types = [v.type for v in ret.operands]

    def _widen_bounded(self, op: Operation) -> None:
        """A bounded monotone activation (sigmoid, tanh, ...) is never clipped below the
        image of its input's range: calibration on data where it is mostly near its floor
        (a detector's class scores on pictures with few objects) picks a threshold that
        erases exactly the rare high values that matter, while the function's own bound
        costs little resolution."""
        src = self.ranges.get(id(op.operands[0])) if op.operands else None
        if src is None:
            return
        ends = op.compute(np.asarray(src, np.float32))
        lo, hi = self.ranges[id(op.result)]
        wide = (min(lo, float(np.min(ends))), max(hi, float(np.max(ends))))
        if wide != (lo, hi):
            self.ranges[id(op.result)] = wide

    def table_readers(self, v: Value) -> list[Operation]:
        """The users of `v` if all of them are integer table lookups (LUT activations)."""
        users = only_tables_read(v, self.default_mode)
        return users if all(id(u.result) in self.ranges for u in users) else []

    def wide_output(self, op: Operation) -> int:
        """The bit width of `op`'s result: 16 when only table lookups or float readers (the
        outputs, float layers) read it and the target has 16-bit activations: the table maps
        the fine codes exactly (a conv followed by SiLU loses nothing between them) and a
        float reader dequantizes 16 bits as cheaply as 8; else the op's own width."""
        bits = self.bits(op)
        if bits < 16 and 16 in self.scheme.act_bits and op.results and \
                (self.table_readers(op.result) or
                 (not self.quant_output and reads_wide(op.result, self.default_mode))):
            return 16
        return bits

    def _fit_to_tables(self, v: Value) -> None:
        """Tighten the range of a value only table lookups read to the interval where their
        quantized outputs still change (SiLU is 0 below about -6 and clips at its own output
        threshold): values beyond it give the same table entries, so the interval is all
        the precision the producer has to spend. Never wider than the calibrated range."""
        readers = self.table_readers(v)
        if not readers:
            return
        lo, hi = self.ranges[id(v)]
        grid = np.linspace(lo, hi, 8193, dtype=np.float64)
        a, b = hi, lo
        for u in readers:
            out = self.act_type(u.result, self.bits(u))
            q = np.round(np.asarray(u.compute(grid.astype(np.float32)), np.float64) /
                         out.scale)
            qmin, qmax = out.storage.int_range
            q = np.clip(q + out.zp, qmin, qmax)
            moving = np.flatnonzero(q != q[0])
            still = np.flatnonzero(q != q[-1])
            if moving.size == 0 or still.size == 0:
                return  # constant over the range: keep it as it is
            step = grid[1] - grid[0]
            a = min(a, grid[moving[0]] - step)
            b = max(b, grid[still[-1]] + step)
        a, b = max(lo, a), min(hi, b)
        if lo <= 0 <= hi:  # keep zero inside, as every range the lowering gets
            a, b = min(a, 0.0), max(b, 0.0)
        if lo < 0:  # stays signed: the value itself (dumps, checks) keeps its negatives
            a = min(a, -float(grid[1] - grid[0]))
        if (a, b) != (lo, hi) and b > a:
            self.ranges[id(v)] = (float(a), float(b))

    def half(self, op: Operation, half: ScalarType) -> None:
        """An F16 / BF16 layer: its activations and weights rounded to `half`, computed with
        f32 accumulation (the top op), its result rounded to `half`: the numbers of a device
        that multiplies in half precision and accumulates in f32. Weights are rounded once
        into new weights; activations go through f32 -> half -> f32 casts (skipped for a
        value an earlier layer of the same precision already rounded)."""
        for i, v in enumerate(op.operands):
            if not (isinstance(v.type, TensorType) and v.type.scalar == F32):
                continue
            if self.rounded.get(id(v)) == half:
                continue
            array = self.const(v) if v.owner is not None and v.owner.name in (
                "top.weight", "top.constant") else None
            if array is not None:
                name = f"{v.owner.loc or f'{op.loc}_input{i}'}_{half}"
                rounded = np.asarray(array, np.float32).astype(half.numpy_dtype)
                new = self.weight(op, rounded.astype(np.float32), v.type, name)
            else:
                new = self._round_trip(v, op, half, before=True)
            self.rounded[id(new)] = half
            op.set_operand(i, new)
        r = op.results[0] if op.results else None
        if r is not None and isinstance(r.type, TensorType) and r.type.scalar == F32:
            users = list(r.uses)
            out = self._round_trip(r, op, half, before=False)
            for user, index in users:
                user.set_operand(index, out)
            self.rounded[id(out)] = half
            if id(r) in self.ranges:  # an integer reader quantizes the rounded value (it
                self.ranges[id(out)] = self.ranges[id(r)]  # stayed float without a range)

    def _round_trip(self, v: Value, anchor: Operation, half: ScalarType, before: bool
                    ) -> Value:
        base = _loc(v, str(half)) or None
        down = Operation.create("npu.cast", [v], [TensorType(v.type.shape, half)], {}, base)
        up = Operation.create("npu.cast", [down.result], [TensorType(v.type.shape, F32)], {},
                              f"{base}_f32" if base else None)
        if before:
            anchor.parent.insert_before(anchor, down)
        else:
            anchor.parent.insert_after(anchor, down)
        down.parent.insert_after(down, up)
        return up.result

    def lower(self, op: Operation) -> Value | None:
        from .lowering.patterns import PATTERNS

        fn = PATTERNS.get(op.name)
        if fn is None:
            return None
        return fn(self, op)

    # -- helpers for patterns -----------------------------------------------------------------
    def act_in(self, v: Value | None) -> bool:
        return v is not None and id(v) in self.ranges

    def const(self, v: Value | None) -> np.ndarray | None:
        return const_array(v, self.module)

    def _take_calibration_attrs(self, op: Operation) -> None:
        """Remove `kiln.rounded_weight` (run_calibration --weight_rounding output: the
        weight on the target's grid, chosen for the layer's output) and `kiln.input_rounding`
        (its input's mean rounding error) from `op`, keeping the arrays for an integer
        lowering; a layer left float keeps its float weight and bias."""
        ref = op.attributes.pop(ROUNDED_WEIGHT_ATTR, None)
        if ref is not None:
            self.rounded_weights[id(op)] = self.module.weights.get(ref.name)
        refs = op.attributes.pop(INPUT_ROUNDING_ATTR, ())
        kinds = op.attributes.pop(INPUT_ROUNDING_TYPE_ATTR, ())
        pairs = [(r, k) for r, k in zip(refs, kinds) if isinstance(r, SymbolRef) and
                 isinstance(k, TensorType) and isinstance(k.element, UniformType)]
        if pairs:
            self.input_rounding[id(op)] = [
                (np.asarray(self.module.weights.get(r.name), np.float64).reshape(-1),
                 k.element) for r, k in pairs]

    def rounding_correction(self, op: Operation, qx: Value, wq: np.ndarray,
                            ws: np.ndarray, axis: int) -> np.ndarray | None:
        """Per output channel, what the layer's integer weights make of its input's mean
        rounding error (W e), when the layer reads exactly the type that error was measured
        for; else None. `wq` / `ws`: the integer weights and their scales along `axis` (0
        for a conv's filter, 1 for a matmul's (K, N) weight)."""
        have = qx.type.element
        mean = next((m for m, t in self.input_rounding.get(id(op), ())
                     if isinstance(have, UniformType) and have.storage == t.storage and
                     have.zp == t.zp and math.isclose(have.scale, t.scale, rel_tol=1e-6)),
                    None)
        if mean is None:
            return None
        shape = [1] * wq.ndim
        shape[axis] = -1
        w = wq.astype(np.float64) * np.asarray(ws, np.float64).reshape(shape)
        if w.ndim == 2:  # matmul: (K, N), one error per row K
            return mean @ w if axis == 1 and mean.size == w.shape[0] else None
        if axis != 0 or w.ndim != 4:  # a conv's (O, I / groups, kh, kw) filter only
            return None
        groups = int(op.attributes.get("group", 1))
        per_group = w.shape[1]
        if mean.size != groups * per_group or w.shape[0] % groups:
            return None
        inside = tap_fractions(qx.type.shape[2:], w.shape[2:], op.attributes["strides"],
                               op.attributes["pads"], op.attributes["dilations"])
        taps = (w * inside).reshape(w.shape[0], per_group, -1).sum(axis=2)  # (O, I / groups)
        group_of = np.arange(w.shape[0]) // (w.shape[0] // groups)
        return (taps * mean.reshape(groups, per_group)[group_of]).sum(axis=1)

    def weight_array(self, op: Operation) -> np.ndarray | None:
        """The weight operand (1) of a conv / matmul as its integer form should round it."""
        rounded = self.rounded_weights.get(id(op))
        return rounded if rounded is not None else self.const(op.operands[1])

    def note(self, op: Operation, text: str) -> None:
        """Record a rule the lowering applied (on the op as `kiln.note`, and for the tool)."""
        op.attributes["kiln.note"] = text
        self.notes.append(f"{op.loc or op.name}: {text}")


def tap_fractions(size, kernel, strides, pads, dilations) -> np.ndarray:
    """For each tap of a 2-D window, the fraction of output positions at which it reads the
    input and not the zero padding: a constant shift of the input reaches the output
    through those taps only, so on a small map (a 5x5 depthwise conv on 3 x 12) its mean
    over positions is far from the whole kernel's sum."""
    fractions = []
    for axis in range(2):
        n, k, s, d = size[axis], kernel[axis], strides[axis], dilations[axis]
        lo, hi = pads[axis], pads[axis + 2]
        out = (n + lo + hi - d * (k - 1) - 1) // s + 1
        at = np.arange(out)[:, None] * s - lo + np.arange(k)[None, :] * d  # (out, k)
        fractions.append(((at >= 0) & (at < n)).mean(axis=0))
    return np.outer(*fractions)


def _loc(v: Value, what: str) -> str | None:
    owner = v.owner
    base = owner.loc if owner is not None and owner.loc else getattr(v, "name_hint", None)
    return f"{base}_{what}" if base else None


def weight_type(shape, axis: int, scales: np.ndarray, bits: int = 8) -> TensorType:
    storage = I8 if bits == 8 else I16
    return TensorType(shape, UniformPerAxisType(storage, F32, axis,
                                                tuple(float(s) for s in scales)))


# the bias may use half of its integer type: the products' sum needs the other half
BIAS_HEADROOM = {False: float(1 << 30), True: float(1 << 46)}


def bias_weight_scale_floor(b: np.ndarray, in_scale: float, wide: bool = False) -> np.ndarray:
    """The smallest weight scale per output channel at which its bias, quantized at
    in_scale * w_scale, fits in half its i32 (i64 on wide paths) range. A channel whose
    weights are tiny next to its bias (a dead channel: the bias is its output) would
    otherwise have its bias clamped, and its output wrong; a coarser weight step costs it
    nothing its bias does not dominate anyway."""
    return np.abs(b.astype(np.float64).reshape(-1)) / (np.float64(in_scale) *
                                                        BIAS_HEADROOM[wide])


def quantize_bias(b: np.ndarray, scales: np.ndarray, wide: bool = False) -> np.ndarray:
    """Bias at scale in_scale * w_scale: i32, or i64 on paths wider than 8 bits."""
    lim = (1 << 47) - 1 if wide else (1 << 31) - 1
    q = np.clip(round_half_away(b.astype(np.float64) / scales), -lim, lim)
    return q.astype(np.int64 if wide else np.int32)


def bias_type(n: int, wide: bool = False) -> TensorType:
    return TensorType((n,), I64 if wide else I32)


def channel_params(in_scale: float, w_scales: np.ndarray, out_scale: float):
    return quantize_multipliers(np.float64(in_scale) * w_scales / np.float64(out_scale))


def avg_params(in_scale: float, out_scale: float, taps: int):
    return quantize_multipliers([in_scale / (out_scale * c) for c in range(1, taps + 1)])


@dataclass(frozen=True)
class LowerToNpu(Pass):
    name = "lower-to-npu"
    description = "lower calibrated INT<n> top ops to integer npu ops (casts where modes meet)"
    target: str = "int8-sym"
    quant_output: bool = False
    asymmetric: bool = False

    def run(self, module: Module) -> None:
        from ..compiler.target import load_target

        target = load_target(self.target)
        if not target.symmetric_weights:
            raise PassError(f"lower-to-npu: target {target.name} asks for asymmetric weights, "
                            "which no npu op takes")
        default = f"INT{target.default_activation_bits}"
        scheme = QScheme.of(target, self.asymmetric)
        _Lowering(module, scheme, default, self.quant_output).run()
        module.attributes["kiln.state"] = f"npu_{target.name}"
