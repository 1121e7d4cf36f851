"""`import-calibration{table=PATH,asymmetric=false}`: activation ranges into the types.

Each tensor named in the calibration table gets the element type
`!quant.calibrated<f32<lo:hi>>`: [-threshold, threshold] for symmetric targets (the default;
[0, threshold] for a tensor never observed negative); with `asymmetric=true` (affine
targets, model_deploy --asymmetric) the observed [min, max] clipped to [-threshold,
threshold]: a SiLU output keeps its small negative lobe exactly and its codes for the bulk
(a max-method table gives the plain [min, max]). A layer that apply-qtable (run first) gave
more than 8 bits gets its observed [-max|x|, max|x|]: the table's threshold is an 8-bit
clipping choice, and 16 bits resolve the whole range. With `wide_tables=true` (the target
has 16-bit activations) so does a value only table lookups or float layers read: lower-to-npu
npu writes it at 16 bits. The function's arguments are annotated too. Ops that only move or
select values (reshape, transpose, slice, concat of tensors with one range, max pooling,
identity-like casts) pass their input's range on to a result the table does not name, so no
requantization is needed across them; one the table names gets its own range clipped to its
input's (a max pool's percentile threshold lies above its input's, which already bounds
it). Tensors the table does not name (exact shape/mask computations, constants) keep their
float type.

A table written for another model is an error naming its first unknown layer; a relative
table path is relative to the working directory.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..compiler.ir import Module, Value
from ..compiler.pass_manager import Pass, PassError
from ..compiler.types import CalibratedType, TensorType
from .apply_qtable import MODE_ATTR
from .lower_to_npu import reads_wide
from .lowering.scheme import mode_bits

# ops whose result holds only values of their first operand (so its range fits the result)
RANGE_PRESERVING = {"top.reshape", "top.transpose", "top.slice", "top.max_pool",
                    "top.global_max_pool", "top.depth_to_space", "top.space_to_depth",
                    "top.expand", "top.tile", "top.gather", "top.gather_elements",
                    "top.gather_nd", "top.topk_values", "top.reduce_max", "top.reduce_min"}


def _calibrated(value: Value, lo: float, hi: float) -> bool:
    t = value.type
    if not isinstance(t, TensorType) or not t.expressed.is_float:
        return False
    value.type = t.with_element(CalibratedType(t.expressed, lo, hi))
    return True


def _range_of(value: Value) -> tuple[float, float] | None:
    t = value.type
    if isinstance(t, TensorType) and isinstance(t.element, CalibratedType):
        return t.element.min, t.element.max
    return None


@dataclass(frozen=True)
class ImportCalibration(Pass):
    name = "import-calibration"
    description = "put the calibration table's ranges into !quant.calibrated types"
    table: str = ""
    asymmetric: bool = False
    wide_tables: bool = False

    def run(self, module: Module) -> None:
        from ..calibration.table import read_table
        from ..compiler.interpreter import input_names

        if not self.table:
            raise PassError("import-calibration needs table=PATH")
        names = {op.loc for op in module.walk() if op.loc}
        for func in module.functions:
            names |= set(input_names(func))
        table = read_table(self.table, known_names=names)
        wide_tables = self.wide_tables

        def bounds(name: str, op=None) -> tuple[float, float]:
            e = table[name]
            t = e.threshold
            if op is not None and ((mode_bits(op.attributes.get(MODE_ATTR, "")) or 8) > 8 or
                                   (wide_tables and reads_wide(op.results[0]))):
                t = max(abs(e.min), abs(e.max))  # wide layers need no clipping threshold
            if self.asymmetric:  # the threshold clips an affine range too
                lo, hi = max(e.min, -t), min(e.max, t)
                return (lo, hi) if lo < hi else (e.min, e.max)
            return (0.0 if e.min >= 0 else -t), t  # never negative: [0, t]

        for func in module.functions:
            _annotate(func, table, bounds)


def _within_input(op, own: tuple[float, float]) -> tuple[float, float]:
    """The range of a range-preserving op's result, clipped to its input's: its values are
    input values, which the device already clipped to the input's range. A max pool's own
    threshold is larger (the pool keeps the upper tail); keeping it cost a requantization
    to a coarser scale, a rounding with nothing gained."""
    rng = _range_of(op.operands[0]) if op.name in RANGE_PRESERVING and op.operands else None
    if rng is None:
        return own
    lo, hi = max(own[0], rng[0]), min(own[1], rng[1])
    return (lo, hi) if lo < hi else own


def _annotate(func, table, bounds) -> None:
    from ..compiler.interpreter import input_names

    for arg, name in zip(func.arguments, input_names(func)):
        if name in table:
            _calibrated(arg, *bounds(name))
    for op in func.body:
        if op.loc in table and len(op.results) == 1:
            _calibrated(op.results[0], *_within_input(op, bounds(op.loc, op)))
        elif op.name in RANGE_PRESERVING and op.operands and len(op.results) == 1:
            rng = _range_of(op.operands[0])
            if rng is not None:
                _calibrated(op.results[0], *rng)
        elif op.name == "top.concat" and len(op.results) == 1:
            ranges = {_range_of(v) for v in op.operands}
            if len(ranges) == 1 and None not in ranges:
                _calibrated(op.results[0], *ranges.pop())
    ret = func.return_op
    if ret is not None:
        func.result_types = [v.type for v in ret.operands]
