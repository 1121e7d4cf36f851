"""The instruments `kiln-opt` and the tools attach to a pass manager: IR printing before and
after passes, a dump directory with one numbered file per pass, and `--check-each`, which
runs the reference interpreter before and after every pass and compares the outputs."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

import numpy as np

from .fileio import atomic_write_text
from .ir import Module
from .pass_manager import Instrument, NumericMismatch, Pass
from .similarity import cosine_similarity
from .text.printer import print_module


def _title(p: Pass) -> str:
    return type(p).__name__


class PrintIR(Instrument):
    """`--print-ir-before=NAME`, `--print-ir-after=NAME`, `--print-ir-after-all`,
    `--print-ir-after-failure`: the module, with an MLIR-style header, to a stream."""

    def __init__(self, before: set[str] = frozenset(), after: set[str] = frozenset(),
                 after_all: bool = False, after_failure: bool = False,
                 stream: TextIO | None = None, generic: bool = False) -> None:
        self.before, self.after = set(before), set(after)
        self.after_all, self.on_failure = after_all, after_failure
        self.stream, self.generic = stream, generic

    def _dump(self, header: str, module: Module) -> None:
        out = self.stream or sys.stderr
        out.write(f"// -----// IR Dump {header} //----- //\n")
        out.write(print_module(module, generic=self.generic))
        out.write("\n")

    def before_pass(self, p: Pass, index: int, module: Module) -> None:
        if p.name in self.before:
            self._dump(f"Before {_title(p)} ({p.name})", module)

    def after_pass(self, p: Pass, index: int, module: Module) -> None:
        if self.after_all or p.name in self.after:
            self._dump(f"After {_title(p)} ({p.name})", module)

    def after_failure(self, p: Pass, index: int, module: Module, error: Exception) -> None:
        if self.on_failure:
            self._dump(f"After {_title(p)} Failed ({p.name})", module)


class DumpDir(Instrument):
    """`--dump-dir DIR`: `00-input.mlir`, then `NN-<pass>.mlir` after each pass (and
    `NN-<pass>.failed.mlir` if it fails), so any stage can be re-run or diffed."""

    def __init__(self, directory: str | Path, generic: bool = False) -> None:
        self.dir = Path(directory)
        self.generic = generic

    def _write(self, name: str, module: Module) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.dir / name, print_module(module, generic=self.generic))

    def before_pipeline(self, module: Module) -> None:
        self._write("00-input.mlir", module)

    def after_pass(self, p: Pass, index: int, module: Module) -> None:
        self._write(f"{index:02d}-{p.name}.mlir", module)

    def after_failure(self, p: Pass, index: int, module: Module, error: Exception) -> None:
        self._write(f"{index:02d}-{p.name}.failed.mlir", module)


Evaluate = Callable[[Module, dict], dict]


class CheckEach(Instrument):
    """`--check-each[=inputs.npz]`: run the module on the same inputs before the pipeline and
    after every pass; a pass whose outputs move more than its `numeric_check` allows fails
    with the output, the pass, and how far it moved. Float rewrites ("exact") must agree to
    `rtol`; quantizing passes ("cosine") must keep each output's cosine >= `min_cosine`."""

    def __init__(self, evaluate: Evaluate, inputs: dict | None = None, rtol: float = 1e-5,
                 atol: float = 1e-6, min_cosine: float = 0.99,
                 log: Callable[[str], None] | None = None) -> None:
        self.evaluate, self.inputs = evaluate, inputs
        self.rtol, self.atol, self.min_cosine = rtol, atol, min_cosine
        self.log = log
        self.previous: dict | None = None

    def before_pipeline(self, module: Module) -> None:
        self.previous = self.evaluate(module, self.inputs)

    def after_pass(self, p: Pass, index: int, module: Module) -> None:
        current = self.evaluate(module, self.inputs)
        for name, before in self.previous.items():
            after = current.get(name)
            if after is None:
                raise NumericMismatch(f"output '{name}' disappeared")
            self._compare(p, name, np.asarray(before), np.asarray(after))
        self.previous = current

    def _compare(self, p: Pass, name: str, before: np.ndarray, after: np.ndarray) -> None:
        if before.shape != after.shape:
            raise NumericMismatch(f"output '{name}' changed shape {before.shape} -> "
                                  f"{after.shape}")
        if p.numeric_check == "cosine":
            c = cosine_similarity(before, after)
            if self.log:
                self.log(f"check-each: {p.name}: '{name}' cosine {c:.6f}")
            if not c >= self.min_cosine:
                raise NumericMismatch(f"output '{name}': cosine {c:.6f} to the previous stage "
                                      f"is below {self.min_cosine}")
            return
        b64, a64 = before.astype(np.float64), after.astype(np.float64)
        err = np.abs(a64 - b64)
        bad = err > self.atol + self.rtol * np.abs(b64)
        if self.log:
            self.log(f"check-each: {p.name}: '{name}' max abs diff {float(err.max(initial=0)):.3g}")
        if bad.any():
            i = np.unravel_index(int(np.argmax(np.where(bad, err, -1))), err.shape)
            raise NumericMismatch(f"output '{name}': {int(bad.sum())} of {err.size} values moved "
                                  f"more than rtol {self.rtol}; worst at {tuple(map(int, i))}: "
                                  f"{float(b64[i]):.6g} -> {float(a64[i]):.6g}")
