"""The two other TPU-MLIR searches, on the same evaluator as search_qtable (the real lowered
model, calibration/mixed.py):

- `run_qtable`: walk the INT8 model's layers in program order; the first one whose cosine to
  float is below `min_layer_cos` goes to the mixed mode, the model is lowered again and the
  walk goes on from there, until the outputs reach `expected_cos` (or no layer is below);
  the prefix of the walk with the best output similarity is kept.
  The loss table lists every layer's cosine, worst first, as the last lowering saw it.
- `run_sensitive_layer`: each candidate layer alone is INT8 (every other layer float) with
  each method's threshold; its loss is 1 - the output similarity of the best. The worst
  `max_float_layers` go to the mixed mode; the new table holds each layer's best threshold.
  Candidates are the `candidates` worst of search_qtable's cheap ranking (measuring every
  layer of a large model this way is what makes TPU-MLIR's version slow).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from .mixed import Evaluator
from .search_qtable import Journal, LayerLoss, layer_losses, quantized_layers
from .table import CalibrationTable


@dataclass
class QtableOutcome:
    modes: dict[str, str]
    table: CalibrationTable
    int8_cos: float
    mixed_cos: float
    losses: list[LayerLoss]
    log: list[str] = field(default_factory=list)


def run_qtable(ev: Evaluator, tune: Evaluator, table: CalibrationTable, *, mode: str,
               min_layer_cos: float, expected_cos: float, max_layers: int,
               log: Callable[[str], None] = lambda s: None) -> QtableOutcome:
    say = Journal(log)
    modes: dict[str, str] = {}
    lowered = ev.lower(table, modes)
    int8_cos = cos = ev.similarity(lowered)
    say(f"all INT8: output similarity {cos:.6f}")
    order = [op.loc for op in ev.module.walk() if op.loc]
    best = (dict(modes), cos)
    while cos < expected_cos and len(modes) < max_layers:
        eligible = quantized_layers(lowered)
        cosines = tune.layer_cosines(lowered)
        worst = next((n for n in order if n in eligible and n not in modes and
                      cosines.get(n, 1.0) < min_layer_cos), None)
        if worst is None:
            say(f"no INT8 layer below {min_layer_cos} left")
            break
        modes[worst] = mode
        lowered = ev.lower(table, modes)
        cos = ev.similarity(lowered)
        say(f"  {worst} (cosine {cosines[worst]:.6f}) -> {mode}: output similarity {cos:.6f}")
        if cos > best[1]:
            best = (dict(modes), cos)
    if cos < best[1]:  # a later step made it worse: keep the best prefix of the walk
        say(f"keeping the first {len(best[0])} layer(s): output similarity {best[1]:.6f}")
        modes, cos = best
        lowered = ev.lower(table, modes)
    cosines = tune.layer_cosines(lowered)
    losses = [LayerLoss(n, "", c, 1.0 - c) for n, c in cosines.items()]
    losses.sort(key=lambda r: (r.cosine, r.name))
    return QtableOutcome(modes, table, int8_cos, cos, losses, say.lines)


def run_sensitive_layer(ev: Evaluator, tune: Evaluator, table: CalibrationTable,
                        method_tables: dict[str, dict[str, float]], *, mode: str,
                        float_mode: str, max_float_layers: int, candidates: int,
                        log: Callable[[str], None] = lambda s: None) -> QtableOutcome:
    say = Journal(log)
    int8 = ev.lower(table, {})
    int8_cos = ev.similarity(int8)
    say(f"all INT8: output similarity {int8_cos:.6f}")
    ranked = layer_losses(ev.module, tune.layer_cosines(int8), quantized_layers(int8))
    measured: list[LayerLoss] = []
    for r in ranked[:candidates]:
        e = table[r.name] if r.name in table else None
        best = None
        for method, thresholds in method_tables.items():
            t = thresholds.get(r.name)
            if e is None or t is None:
                continue
            table.add(r.name, t, e.min, e.max)
            loss = 1.0 - tune.score(table, {r.name: "INT8"}, default=float_mode)
            say(f"  {r.name}: {method:15s} threshold {t:.6g}, only this layer INT8: loss "
                f"{loss:.6f}")
            if best is None or loss < best[0]:
                best = (loss, method, t)
        if best is None:
            continue
        table.add(r.name, best[2], e.min, e.max)
        measured.append(LayerLoss(r.name, r.op, 1.0 - best[0], best[0], best[1]))
    measured.sort(key=lambda r: (-r.loss, r.name))
    for i, r in enumerate(measured):
        say(f"the layer {r.name} is {i} sensitive layer, loss is {r.loss:.6g}, type is {r.op}")
    modes = {r.name: mode for r in measured[:max_float_layers]}
    mixed_cos = ev.score(table, modes)
    say(f"INT8 {int8_cos:.6f} -> mixed {mixed_cos:.6f} with {len(modes)} layer(s) in {mode}")
    return QtableOutcome(modes, table, int8_cos, mixed_cos, measured, say.lines)
