"""Mixed-precision search: the fewest layers above INT8 that bring the model's outputs to
`expected_cos`, judged on the real lowered model (calibration/mixed.py).

1. Rank. The INT8 model and the float model run on the tune samples; each layer's loss is
   how much similarity it loses itself: the smallest cosine of the layers it reads minus its
   own (noise a layer adds shows as that drop; noise it only passes on does not). Ops that
   only move values (reshape, slice...) are no candidates: lowered, they keep their
   input's type whatever the qtable says.
2. Tune thresholds (only with several `methods`): for the worst layers, each method's
   threshold is tried for that layer alone and the one with the best output similarity kept.
3. Choose. First every ranked layer goes to the mixed mode at once: the most any qtable of
   that mode can give (logged; when even that misses the goal, the loss is not in the
   activations that mode widens, e.g. int8 weights under INT16, and the next mode is tried).
   Then the worst k layers go to the mixed mode (the target's widest integer mode, e.g.
   INT16, cheaper than float on a device; if that cannot reach the goal within
   `max_float_layers`, the float type) for k = 1, 2, 4, ... until the goal is met on the
   inference samples, then the smallest k that meets it is found by bisection.
4. Regions, when that order misses the goal. A layer's own loss misses how much its noise is
   amplified on the way to the outputs: on YOLOv8n-320 the stem's layers lose little
   themselves, yet moving its first 16 quantized layers to F16 lifts the detections far more
   than the 16 worst-ranked layers do. So runs of `max_float_layers` consecutive quantized
   layers (program order, half-overlapping) are each moved to the mode alone, ranked on
   the first RANK_SAMPLES inference samples, the best VERIFY_RUNS judged again on all of
   them; the best run's layers, in program order, then the others by their
   own loss, are a second order for the same smallest-k choice, and the better result is
   kept (the goal reached with fewer layers, else the higher similarity). The runs are
   ranked once, in the first mode that needs them, and the best one reused in the next.
Every evaluation is logged, so the log explains the qtable.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ..compiler.ir import Module
from .mixed import Evaluator
from .table import CalibrationTable

# TPU-MLIR's names for the methods -> kiln's
METHOD_NAMES = {"KL": "kl", "MSE": "mse", "MAX": "max", "PERCENTILE9999": "percentile9999",
                "ACIQ_GAUSS": "aciq_gauss", "ACIQ_LAPLACE": "aciq_laplace"}
_SKIP = ("top.weight", "top.constant", "top.none", "func.return")
# the region stage ranks its runs on this many inference samples, then judges the best few
# again on all of them
RANK_SAMPLES = 10
VERIFY_RUNS = 3
# ops that only move values: lowered, they keep their input's type whatever their own mode
# (the slices of an F16 tensor stay float, those of an INT16 one 16-bit), so a qtable row
# for one changes nothing and would spend the layer budget (YOLOv8n's stem has two Splits)
FOLLOW_INPUT = frozenset({"top.reshape", "top.transpose", "top.slice", "top.squeeze",
                          "top.unsqueeze", "top.flatten", "top.tile", "top.expand",
                          "top.depth_to_space", "top.space_to_depth"})


def parse_methods(text: str) -> list[str]:
    out = []
    for part in text.split(","):
        key = part.strip().upper()
        if not key:
            continue
        if key not in METHOD_NAMES and key.lower() not in METHOD_NAMES.values():
            raise ValueError(f"--quantize_method_list: unknown method '{part.strip()}' "
                             f"(known: {', '.join(METHOD_NAMES)})")
        out.append(METHOD_NAMES.get(key, key.lower()))
    if not out:
        raise ValueError("--quantize_method_list is empty")
    return out


class Journal:
    """The lines of a search's log, each also handed to `log` as it is written."""

    def __init__(self, log: Callable[[str], None]) -> None:
        self.lines: list[str] = []
        self._log = log

    def __call__(self, text: str) -> None:
        self.lines.append(text)
        self._log(text)


@dataclass
class LayerLoss:
    name: str
    op: str
    cosine: float
    loss: float
    method: str = ""


@dataclass
class SearchOutcome:
    modes: dict[str, str]
    table: CalibrationTable
    int8_cos: float
    mixed_cos: float
    losses: list[LayerLoss]
    log: list[str] = field(default_factory=list)
    evaluations: int = 0
    seconds: float = 0.0


def layer_losses(float_module: Module, cosines: dict[str, float],
                 eligible: set[str]) -> list[LayerLoss]:
    """Each eligible layer's own similarity loss (see the module docstring), worst first."""
    out = []
    for op in float_module.walk():
        if op.name in _SKIP or op.name in FOLLOW_INPUT or op.loc not in eligible or \
                op.loc not in cosines:
            continue
        inputs = [cosines[v.owner.loc] for v in op.operands
                  if v.owner is not None and v.owner.loc in cosines]
        inputs += [cosines[n] for n in _arg_names(float_module, op) if n in cosines]
        before = min(inputs) if inputs else 1.0
        own = cosines[op.loc]
        out.append(LayerLoss(op.loc, op.name, own, max(0.0, before - own)))
    out.sort(key=lambda r: (-r.loss, r.name))
    return out


def _arg_names(module: Module, op) -> list[str]:
    from ..compiler.interpreter import input_names

    func = module.main
    names = dict(zip(map(id, func.arguments), input_names(func)))
    return [names[id(v)] for v in op.operands if id(v) in names]


def quantized_layers(lowered: Module) -> set[str]:
    """Locs of the layers the INT8 lowering computes in integers (what a qtable can move)."""
    from ..compiler.types import TensorType, UniformType

    out = set()
    for op in lowered.walk():
        if op.name in _SKIP or op.name == "npu.cast" or not op.results or not op.loc:
            continue
        t = op.results[0].type
        if isinstance(t, TensorType) and isinstance(t.element, UniformType):
            out.add(op.loc)
    return out


def search_qtable(ev: Evaluator, tune: Evaluator, table: CalibrationTable,
                  method_tables: dict[str, dict[str, float]], *, expected_cos: float,
                  max_float_layers: int, mix_modes: Sequence[str],
                  log: Callable[[str], None] = lambda s: None) -> SearchOutcome:
    """See the module docstring. `ev` judges on the inference samples, `tune` on the tune
    samples; `method_tables` maps each method to tune with to its thresholds."""
    start = time.perf_counter()
    say = Journal(log)
    int8 = ev.lower(table, {})
    int8_cos = ev.similarity(int8)
    say(f"all INT8: output similarity {int8_cos:.6f} (expected {expected_cos})")
    losses = layer_losses(ev.module, tune.layer_cosines(int8), quantized_layers(int8))
    say(f"{len(losses)} quantized layers ranked by their own loss")
    for i, r in enumerate(losses[:max(10, max_float_layers)]):
        say(f"  #{i} {r.name} ({r.op}): cosine {r.cosine:.6f}, loss {r.loss:.6f}")
    table = _tune_methods(tune, table, method_tables, losses[:max_float_layers], say)
    if len(method_tables) > 1:
        int8_cos = ev.score(table, {})
        say(f"all INT8 with the tuned thresholds: output similarity {int8_cos:.6f}")
    best = ({}, int8_cos)
    region = None
    if int8_cos < expected_cos:
        order = [r.name for r in losses]
        for i, mode in enumerate(mix_modes):
            ceiling = ev.score(table, {n: mode for n in order})
            say(f"all {len(order)} quantized layers in {mode}: output similarity "
                f"{ceiling:.6f} (the most a qtable of {mode} layers can give)")
            if ceiling < expected_cos and i + 1 < len(mix_modes):
                say(f"  {mode} cannot reach {expected_cos} even everywhere: trying "
                    f"{mix_modes[i + 1]}")
                continue
            got = _smallest_k(ev, table, order, mode, expected_cos, max_float_layers, say)
            if got[1] < expected_cos:
                # the regions are ranked once, in the first mode that needs them: the run
                # that decides the output in INT16 decides it in F16 too (YOLOv8n: the stem
                # in both), and ranking again cost 16 evaluations (50 s)
                if region is None:
                    region = _best_region(ev, table, _program_order(ev.module, order),
                                          mode, max_float_layers, say)
                else:
                    say(f"  the best region found before, now in {mode}")
                rest = [n for n in order if n not in set(region)]
                other = _smallest_k(ev, table, region + rest, mode, expected_cos,
                                    max_float_layers, say)
                if _better(other, got, expected_cos):
                    say(f"  keeping the region order: {len(other[0])} layer(s), "
                        f"similarity {other[1]:.6f}")
                    got = other
            if got[1] > best[1] or not best[0]:
                best = got
            if got[1] >= expected_cos:
                break
    modes, mixed_cos = best
    say(f"result: INT8 {int8_cos:.6f} -> mixed {mixed_cos:.6f} with {len(modes)} layer(s) "
        f"above INT8 ({ev.runs + tune.runs} evaluations, {time.perf_counter() - start:.1f} s)")
    return SearchOutcome(modes, table, int8_cos, mixed_cos, losses, say.lines,
                         ev.runs + tune.runs, time.perf_counter() - start)


def _tune_methods(tune: Evaluator, table: CalibrationTable,
                  method_tables: dict[str, dict[str, float]], worst: list[LayerLoss],
                  say) -> CalibrationTable:
    """Per worst layer, the method whose threshold gives the best output similarity."""
    if len(method_tables) < 2:
        return table
    current = tune.score(table, {})
    for r in worst:
        if r.name not in table:
            continue
        e = table[r.name]
        tried = {}
        for method, thresholds in method_tables.items():
            t = thresholds.get(r.name)
            if t is None:
                continue
            table.add(r.name, t, e.min, e.max)
            tried[method] = (tune.score(table, {}), t)
            say(f"  {r.name}: {method:15s} threshold {t:.6g} -> similarity "
                f"{tried[method][0]:.6f}")
        method, (score, t) = max(tried.items(), key=lambda kv: (kv[1][0], kv[0]))
        if score >= current:
            table.add(r.name, t, e.min, e.max)
            current, r.method = score, method
        else:
            table.add(r.name, e.threshold, e.min, e.max)
        say(f"  {r.name}: keeping {r.method or 'the table threshold'}")
    return table


def _program_order(module: Module, names: Sequence[str]) -> list[str]:
    wanted, out = set(names), []
    for op in module.walk():
        if op.loc in wanted and op.loc not in out:
            out.append(op.loc)
    return out


def _best_region(ev: Evaluator, table: CalibrationTable, layers: list[str], mode: str,
                 width: int, say) -> list[str]:
    """The run of `width` consecutive layers (at most ~40 runs: wider when there are many
    layers) whose move to `mode` alone gives the best output similarity. The runs are ranked
    on the first RANK_SAMPLES inference samples and the best VERIFY_RUNS of them judged
    again on all of them. (Not the 5 tune samples: on those YOLOv8n's stem ranked 7th of 16
    runs on uint8-affine, while 30 put it first on both targets. Ranking on 10 then
    verifying 3 costs about half the evaluations: the regions were 20 of PP-OCRv4 det's 36.)"""
    width = max(1, width, -(-len(layers) // 20))
    stride = max(1, width // 2)
    starts = list(range(0, max(1, len(layers) - width + stride), stride))
    few = min(RANK_SAMPLES, len(ev.samples))
    part = few < len(ev.samples) and len(starts) > VERIFY_RUNS
    say(f"  regions of {width} consecutive layer(s) in {mode}, {len(starts)} run(s)"
        + (f" ranked on {few} of the {len(ev.samples)} samples:" if part else ":"))
    ranked = []
    for i in starts:
        run = layers[i:i + width]
        got = ev.score(table, {n: mode for n in run}, first=few if part else None)
        say(f"    [{i}:{i + len(run)}] {run[0]} .. {run[-1]}: output similarity {got:.6f}")
        ranked.append((got, -i, run))
    ranked.sort(key=lambda r: (r[0], r[1]), reverse=True)
    if not part:
        return ranked[0][2]
    best, best_score = [], -2.0
    for _, neg_i, run in ranked[:VERIFY_RUNS]:
        got = ev.score(table, {n: mode for n in run})
        say(f"    [{-neg_i}:{-neg_i + len(run)}] on all {len(ev.samples)} samples: output "
            f"similarity {got:.6f}")
        if got > best_score:
            best, best_score = run, got
    return best


def _better(a: tuple[dict, float], b: tuple[dict, float], expected: float) -> bool:
    """Whether result `a` beats `b`: reaching the goal with fewer layers, else more similar."""
    a_ok, b_ok = a[1] >= expected, b[1] >= expected
    if a_ok != b_ok:
        return a_ok
    if a_ok:
        return (len(a[0]), -a[1]) < (len(b[0]), -b[1])
    return a[1] > b[1]


def _smallest_k(ev: Evaluator, table: CalibrationTable, order: list[str], mode: str,
                expected: float, limit: int, say) -> tuple[dict[str, str], float]:
    """The fewest worst layers in `mode` reaching `expected` (or the best within `limit`)."""
    cache: dict[int, float] = {}

    def score(k: int) -> float:
        if k not in cache:
            cache[k] = ev.score(table, {n: mode for n in order[:k]})
            say(f"  {k:3d} layer(s) in {mode}: output similarity {cache[k]:.6f}")
        return cache[k]

    limit = min(limit, len(order))
    k = 1
    while k < limit and score(k) < expected:
        k = min(2 * k, limit)
    if score(k) < expected:
        best = max(cache, key=lambda j: (cache[j], -j))
        return {n: mode for n in order[:best]}, cache[best]
    lo = k // 2  # score(lo) < expected (or lo == 0)
    while k - lo > 1:
        mid = (lo + k) // 2
        if score(mid) >= expected:
            k = mid
        else:
            lo = mid
    return {n: mode for n in order[:k]}, cache[k]
