"""Mixed-precision evaluation: lower a float module with a calibration table and per-layer
modes (exactly as model_deploy does), run it on samples and compare with float.

The searches (search_qtable, run_qtable, run_sensitive_layer) judge every candidate on the
real lowered integer model, not on a float simulation, so what they promise is what
model_deploy gives. `Evaluator` caches the float side; each `score(modes)` lowers and runs.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..compiler.ir import Module
from ..compiler.module_io import read_module
from ..compiler.similarity import cosine_similarity
from ..compiler.target import Target
from .qtable import write_qtable
from .table import CalibrationTable, write_table

# what a user's --post_process gets and gives: the outputs of one sample, by name
PostProcess = Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]]


def parse_compare_layers(text: str | None) -> dict[str, float] | None:
    """`a,b` (equal weights) or `a:0.3,b:0.7` -> {name: weight}; None for no text."""
    if not text:
        return None
    out: dict[str, float] = {}
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        name, _, weight = part.rpartition(":") if ":" in part else (part, "", "")
        try:
            out[name] = float(weight) if weight else 1.0
        except ValueError:
            raise ValueError(f"--global_compare_layers: '{part}' is not NAME or "
                             "NAME:WEIGHT") from None
    total = sum(out.values())
    if not out or total <= 0:
        raise ValueError("--global_compare_layers: give at least one layer with a "
                         "positive weight")
    return {k: v / total for k, v in out.items()}


def best_float_mode(target: Target, fp_type: str = "auto") -> str:
    """The float mode mixed layers use: `fp_type`, or with `auto` the cheapest float the
    target allows (F16, then BF16, then F32)."""
    if fp_type.upper() != "AUTO":
        mode = fp_type.upper()
        if mode not in target.modes:
            raise ValueError(f"--fp_type {fp_type}: target {target.name} allows "
                             f"{', '.join(target.modes)}")
        return mode
    for mode in ("F16", "BF16", "F32"):
        if mode in target.modes:
            return mode
    raise ValueError(f"target {target.name} allows no float mode")


def wide_int_mode(target: Target) -> str | None:
    """The widest integer mode above 8 bits the target allows (INT16, or INT12 on feature12):
    cheaper than float on the device, and often enough."""
    wide = [b for b in target.activation_bits if b > 8 and f"INT{b}" in target.modes]
    return f"INT{max(wide)}" if wide else None


@dataclass
class Evaluator:
    """Float reference outputs of `samples`, and the similarity of any mixed lowering."""

    mlir: Path
    target: Target
    samples: Sequence[Mapping[str, np.ndarray]]
    post_process: PostProcess | None = None
    compare_layers: dict[str, float] | None = None
    shape_layers: Sequence[str] = ()
    runs: int = 0
    _float: list[dict[str, np.ndarray]] = field(default_factory=list)
    _float_all: list[dict[str, np.ndarray]] | None = None

    def __post_init__(self) -> None:
        self.module = read_module(self.mlir)
        self._float = [self._compared(self.module, s) for s in self.samples]

    # -- running ----------------------------------------------------------------------------
    def _compared(self, module: Module, sample) -> dict[str, np.ndarray]:
        """The tensors compared for one sample: the outputs (post-processed), or the global
        compare layers (dequantized)."""
        from ..tools.model_runner import run_interpreter

        if self.compare_layers:
            every = run_interpreter(module, sample, True)
            missing = [n for n in self.compare_layers if n not in every]
            if missing:
                raise ValueError(f"--global_compare_layers: no layer named "
                                 f"{', '.join(missing)}")
            return {n: every[n] for n in self.compare_layers}
        outputs = run_interpreter(module, sample, False)
        outputs = {k: v for k, v in outputs.items() if not k.endswith("@int")}
        if self.post_process is not None:
            got = self.post_process(outputs)
            outputs = got if isinstance(got, dict) else {"post_process": np.asarray(got)}
        return outputs

    def lower(self, table: CalibrationTable, modes: Mapping[str, str],
              default: str = "INT8", asymmetric: bool = False) -> Module:
        """The float module lowered as model_deploy lowers it with this table and qtable
        (and `--asymmetric` when `asymmetric`)."""
        from ..passes.registry import build_pass_manager

        module = read_module(self.mlir)
        with tempfile.TemporaryDirectory(prefix="kiln-mixed-") as tmp:
            t, q = Path(tmp) / "cali_table", Path(tmp) / "qtable"
            write_table(t, table)
            write_qtable(q, dict(modes), self.shape_layers)
            wide = str(16 in self.target.activation_bits).lower()
            asym = str(asymmetric or not self.target.activation_symmetric).lower()
            build_pass_manager(
                f'mark-shape-ops,apply-qtable{{table="{q}",target={self.target.name},'
                f'default={default}}},import-calibration{{table="{t}",asymmetric={asym},'
                f'wide_tables={wide}}},lower-to-npu{{target={self.target.name},'
                f'asymmetric={str(asymmetric).lower()}}}'
            ).run(module)
        return module

    def similarity(self, module: Module, first: int | None = None) -> float:
        """Mean over samples (the `first` ones only, when given) of the compared tensors'
        cosine (weighted for compare layers, else the smallest output's)."""
        self.runs += 1
        scores = []
        count = len(self.samples) if first is None else first
        for sample, ref in zip(self.samples[:count], self._float[:count]):
            got = self._compared(module, sample)
            if self.compare_layers:
                scores.append(sum(w * cosine_similarity(ref[n], got[n])
                                  for n, w in self.compare_layers.items()))
            else:
                scores.append(min(cosine_similarity(ref[k], got[k]) for k in ref))
        return float(np.mean(scores)) if scores else 1.0

    def score(self, table: CalibrationTable, modes: Mapping[str, str],
              default: str = "INT8", first: int | None = None) -> float:
        return self.similarity(self.lower(table, modes, default), first)

    # -- per layer --------------------------------------------------------------------------
    def layer_cosines(self, module: Module) -> dict[str, float]:
        """Mean cosine to float of every layer both modules name (program order)."""
        from ..tools.model_runner import run_interpreter

        if self._float_all is None:  # the float side once (the tune set is a few samples)
            self._float_all = [run_interpreter(self.module, s, True) for s in self.samples]
        sums: dict[str, float] = {}
        for sample, ref in zip(self.samples, self._float_all):
            got = run_interpreter(module, sample, True)
            for name, array in ref.items():
                other = got.get(name)
                if other is not None and other.shape == array.shape and \
                        array.dtype.kind == "f":
                    sums[name] = sums.get(name, 0.0) + cosine_similarity(array, other)
        n = max(len(self.samples), 1)
        return {k: v / n for k, v in sums.items()}
