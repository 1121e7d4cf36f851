"""`fp_forward FLOAT.mlir --fpfwd_outputs L -o QTABLE`: a qtable that keeps whole regions of
the network in float (TPU-MLIR's fp_forward).

    fp_forward FLOAT.mlir [--processor int8-sym] [--fpfwd_inputs a,b] [--fpfwd_outputs c,d]
               [--fpfwd_blocks "s1:e1 s2:e2"] [--fp_type auto|F16|BF16|F32] -o QTABLE

- `--fpfwd_inputs L`: L and every layer it depends on (its ancestors, back to the inputs);
- `--fpfwd_outputs L`: L and every layer that depends on it (its descendants, to the
  outputs), as a detector's last convolutions and everything after them;
- `--fpfwd_blocks s:e`: the layers on the paths from s to e, both included (s must reach
  e). A name containing `:` is split where both sides are layers.

Layer names are the locs of the float IR (model_transform's). The qtable (the format of
`calibration/qtable.py`) lists the chosen computing layers in program order, in `--fp_type`:
`auto` is the target's best float mode (F16, else BF16, else F32). Layers computed exactly
anyway (shape, index and mask computations, see `calibration/exclusion.py`) are left out: they
are never quantized. Give the qtable to `model_deploy --quantize_table`.
"""

from __future__ import annotations

import difflib
import sys
from pathlib import Path

from ..compiler.ir import Module, Operation
from ._cli import ArgParser, UsageError, run_tool

PROG = "fp_forward"


def build_arg_parser() -> ArgParser:
    ap = ArgParser(prog=PROG, description=__doc__.split("\n")[0], allow_abbrev=False)
    ap.add_argument("mlir", help="the float IR written by model_transform")
    ap.add_argument("--processor", "--target", dest="processor", default="int8-sym",
                    help="target (compiler/targets/*.toml, or a .toml path): which float "
                         "modes it allows")
    ap.add_argument("--fpfwd_inputs", default="",
                    help="layers that, with everything before them, stay float: a,b")
    ap.add_argument("--fpfwd_outputs", default="",
                    help="layers that, with everything after them, stay float: c,d")
    ap.add_argument("--fpfwd_blocks", default="",
                    help='blocks "start:end start2:end2" whose layers stay float')
    ap.add_argument("--fp_type", default="auto", help="auto, F16, BF16 or F32")
    ap.add_argument("--quantize", help="accepted for TPU-MLIR's command line; the qtable's "
                                       "rows are the float layers, whatever it is")
    ap.add_argument("-o", "--output", required=True, help="the qtable to write")
    ap.add_argument("--quiet", action="store_true", help="print only errors")
    return ap


def _closest(name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=3)
    return f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""


class Graph:
    """The use-def graph of the computing ops of a module's entry function, by loc."""

    def __init__(self, module: Module) -> None:
        from ..calibration.quant_config import NON_LAYERS

        self.ops: dict[str, Operation] = {}
        for op in module.main.ops:
            if op.name not in NON_LAYERS and op.loc and op.results:
                self.ops.setdefault(op.loc, op)
        self.order = list(self.ops)

    def check(self, name: str, flag: str) -> str:
        if name not in self.ops:
            raise UsageError(f"--{flag}: the model has no layer '{name}'"
                             f"{_closest(name, self.order)}")
        return name

    def _walk(self, start: str, step) -> set[str]:
        """The layers reached from `start` (included) through `step` (through unnamed ops
        too, which are not layers themselves)."""
        seen: set[int] = set()
        found: set[str] = set()
        stack = [self.ops[start]]
        while stack:
            op = stack.pop()
            if id(op) in seen:
                continue
            seen.add(id(op))
            if op.loc in self.ops and self.ops[op.loc] is op:
                found.add(op.loc)
            stack.extend(step(op))
        return found

    def ancestors(self, name: str) -> set[str]:
        """`name` and every layer it reads, directly or not."""
        return self._walk(name, lambda op: [v.owner for v in op.operands
                                            if v.owner is not None])

    def descendants(self, name: str) -> set[str]:
        """`name` and every layer that reads it, directly or not."""
        return self._walk(name, lambda op: [u for r in op.results for u in r.users])

    def block(self, start: str, end: str) -> set[str]:
        """The layers on the paths from `start` to `end`, both included."""
        layers = self.descendants(start) & self.ancestors(end)
        if not layers:
            hint = (f" (but '{end}' reaches '{start}': give --fpfwd_blocks {end}:{start})"
                    if start in self.ancestors(end) or end in self.ancestors(start) else "")
            raise UsageError(f"--fpfwd_blocks {start}:{end}: '{end}' does not depend on "
                             f"'{start}'{hint}")
        return layers


def _names(text: str, graph: Graph, flag: str) -> list[str]:
    if text in graph.ops:  # one layer whose name has a comma
        return [text]
    return [graph.check(n.strip(), flag) for n in text.split(",") if n.strip()]


def _blocks(text: str, graph: Graph) -> list[tuple[str, str]]:
    out = []
    for item in text.split():
        splits = [(item[:i], item[i + 1:]) for i, c in enumerate(item) if c == ":"]
        found = [(s, e) for s, e in splits if s in graph.ops and e in graph.ops]
        if len(found) > 1:
            raise UsageError(f"--fpfwd_blocks {item}: ambiguous, it splits into layers "
                             f"{' or '.join(f'{s} : {e}' for s, e in found)}")
        if not found:
            if not splits:
                raise UsageError(f"--fpfwd_blocks {item}: expected start:end")
            if len(splits) == 1:
                for part in splits[0]:
                    graph.check(part, "fpfwd_blocks")
            raise UsageError(f"--fpfwd_blocks {item}: no split at ':' names two layers")
        out.append(found[0])
    return out


def fp_type_for(target, fp_type: str) -> str:
    from ..calibration.quant_config import best_float_mode

    wanted = fp_type.upper()
    if wanted == "AUTO":
        mode = best_float_mode(target)
        if mode is None:
            raise UsageError(f"target {target.name} allows no float mode (modes: "
                             f"{', '.join(target.modes)})")
        return mode
    if wanted not in ("F16", "BF16", "F32"):
        raise UsageError(f"--fp_type {fp_type}: give auto, F16, BF16 or F32")
    if wanted not in target.modes:
        raise UsageError(f"--fp_type {wanted}: target {target.name} does not allow it "
                         f"(modes: {', '.join(target.modes)})")
    return wanted


def select(graph: Graph, inputs: list[str], outputs: list[str],
           blocks: list[tuple[str, str]]) -> list[str]:
    """The chosen layers in program order."""
    chosen: set[str] = set()
    for name in inputs:
        chosen |= graph.ancestors(name)
    for name in outputs:
        chosen |= graph.descendants(name)
    for start, end in blocks:
        chosen |= graph.block(start, end)
    return [name for name in graph.order if name in chosen]


def main(argv: list[str]) -> int:
    args = build_arg_parser().parse_args(argv)
    from .. import dialects  # noqa: F401  (registers the ops)
    from ..calibration.exclusion import analyze_exact
    from ..calibration.qtable import normalize_mode, write_qtable
    from ..compiler.module_io import read_module
    from ..compiler.target import load_target
    from ..compiler.verifier import verify_module
    from .model_runner import _same_file

    if not (args.fpfwd_inputs.strip() or args.fpfwd_outputs.strip() or
            args.fpfwd_blocks.strip()):
        raise UsageError("give at least one of --fpfwd_inputs, --fpfwd_outputs, --fpfwd_blocks")
    target = load_target(args.processor)
    mode = fp_type_for(target, args.fp_type)
    if args.quantize is not None and normalize_mode(args.quantize) is None:
        raise UsageError(f"--quantize '{args.quantize}': give INT8, INT16, F16, BF16 or F32")
    mlir = Path(args.mlir)
    if not mlir.is_file():
        raise UsageError(f"{mlir}: no such file")
    if _same_file(Path(args.output), mlir):
        raise UsageError(f"-o {args.output} would overwrite the IR it reads")
    module = read_module(mlir)
    verify_module(module)
    graph = Graph(module)
    inputs = _names(args.fpfwd_inputs, graph, "fpfwd_inputs")
    outputs = _names(args.fpfwd_outputs, graph, "fpfwd_outputs")
    blocks = _blocks(args.fpfwd_blocks, graph)
    chosen = select(graph, inputs, outputs, blocks)
    exact = set(analyze_exact(module.main, weights=module.weights).shape_layers())
    rows = [name for name in chosen if name not in exact]
    bad = [name for name in rows if any(c.isspace() for c in name) or name.startswith("#")]
    if bad:
        raise UsageError(f"layer '{bad[0]}' cannot be written in a qtable (its name has "
                         "whitespace or starts with '#')")
    write_qtable(args.output, [(name, mode) for name in rows])
    if not args.quiet:
        skipped = len(chosen) - len(rows)
        note = f"; {skipped} computed exactly anyway, not listed" if skipped else ""
        print(f"{PROG}: wrote {args.output}: {len(rows)} of {len(graph.order)} layer(s) in "
              f"{mode}{note}", file=sys.stderr)
    return 0


def run(argv: list[str] | None = None) -> int:
    return run_tool(PROG, main, argv)


def entry() -> None:
    sys.exit(run())


if __name__ == "__main__":
    entry()
