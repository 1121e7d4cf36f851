"""`kiln-opt in.mlir -p "canonicalize,fuse-ops" -o out.mlir`: run any pipeline on any IR text.

    kiln-opt FILE|- [-p PIPELINE] [-o OUT] [--split-input-file] [--print-generic]
             [--print-ir-after-all] [--print-ir-before=NAME] [--print-ir-after=NAME]
             [--print-ir-after-failure] [--dump-dir DIR] [--time-passes]
             [--check-each[=INPUTS.npz]] [--no-verify-each] [--list-passes]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..compiler.fileio import atomic_write_text
from ..compiler.instruments import CheckEach, DumpDir, PrintIR
from ..compiler.module_io import WEIGHTS_ATTR, read_module_text, relocate_weights
from ..compiler.pass_manager import PipelineError, Timing
from ..compiler.text.parser import ParseError
from ..compiler.text.printer import print_module
from ..compiler.verifier import VerifyError, verify_module
from ._cli import ArgParser, UsageError, run_tool

SPLIT_MARKER = "// -----"


def build_arg_parser() -> argparse.ArgumentParser:
    ap = ArgParser(prog="kiln-opt", description=__doc__.split("\n")[0])
    ap.add_argument("input", nargs="?", help="IR file, or - for standard input")
    ap.add_argument("-p", "--pass-pipeline", default="", help='passes, e.g. "cse,canonicalize"')
    ap.add_argument("-o", "--output", help="output file (default: standard output)")
    ap.add_argument("--split-input-file", action="store_true",
                    help="treat each '// -----' chunk as a separate input")
    ap.add_argument("--print-generic", action="store_true", help="print ops in generic form")
    ap.add_argument("--print-ir-after-all", action="store_true")
    ap.add_argument("--print-ir-before", action="append", default=[], metavar="NAME")
    ap.add_argument("--print-ir-after", action="append", default=[], metavar="NAME")
    ap.add_argument("--print-ir-after-failure", action="store_true")
    ap.add_argument("--dump-dir", help="write NN-<pass>.mlir after each pass into DIR")
    ap.add_argument("--time-passes", action="store_true")
    ap.add_argument("--check-each", nargs="?", const="", default=None, metavar="INPUTS.npz",
                    help="run the interpreter before and after each pass and compare outputs")
    ap.add_argument("--no-verify-each", action="store_true",
                    help="verify only the input and the final output")
    ap.add_argument("--list-passes", action="store_true", help="list the passes and exit")
    return ap


def _names(values: list[str]) -> set[str]:
    return {n.strip() for v in values for n in v.split(",") if n.strip()}


def _chunks(text: str, split: bool) -> list[tuple[str, int]]:
    """(text, first line) per chunk; a chunk is padded with blank lines so that messages
    give the line numbers of the whole file."""
    if not split:
        return [(text, 1)]
    out, start, current = [], 1, []
    for number, line in enumerate(text.splitlines(keepends=True), start=1):
        if line.strip() == SPLIT_MARKER:
            out.append(("\n" * (start - 1) + "".join(current), start))
            start, current = number + 1, []
        else:
            current.append(line)
    out.append(("\n" * (start - 1) + "".join(current), start))
    return out


def _check_each_instrument(arg: str) -> CheckEach:
    from ..compiler.fileio import load_npz
    from ..compiler.interpreter import random_inputs, run_function

    inputs = load_npz(arg) if arg else None

    def evaluate(module, feeds):
        """Every function's outputs, keyed `@func:output` when there are several functions;
        the given inputs feed the entry function, the others run on random inputs."""
        out = {}
        for func in module.functions:
            given = feeds if feeds is not None and (len(module.functions) == 1
                                                    or func.name == "main") else None
            results, _ = run_function(func, given if given is not None else
                                      random_inputs(func, seed=0), weights=module.weights)
            prefix = f"@{func.name}:" if len(module.functions) > 1 else ""
            out.update({prefix + k: v for k, v in results.items()})
        return out

    return CheckEach(evaluate, inputs, log=lambda line: print(line, file=sys.stderr))


def main(argv: list[str]) -> int:
    args = build_arg_parser().parse_args(argv)
    from .. import dialects  # noqa: F401  (registers the ops)
    from ..passes.registry import PASSES, build_pass_manager

    if args.list_passes:
        from ..passes.registry import pass_class
        for name in sorted(PASSES):
            print(f"{name:28s} {pass_class(name).description}")
        return 0
    if args.input is None:
        raise UsageError("no input file (give a path, or - for standard input)")
    if args.input == "-":
        text, source, base_dir = sys.stdin.read(), "<stdin>", Path.cwd()
    else:
        path = Path(args.input)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise UsageError(f"cannot read {path}: {e}") from None
        source, base_dir = str(path), path.parent

    timing = Timing() if args.time_passes else None
    results: list[str] = []
    failed = False
    for chunk, _first_line in _chunks(text, args.split_input_file):
        instruments = [PrintIR(_names(args.print_ir_before), _names(args.print_ir_after),
                               args.print_ir_after_all, args.print_ir_after_failure,
                               generic=args.print_generic)]
        if args.dump_dir:
            instruments.append(DumpDir(args.dump_dir, generic=args.print_generic))
        if args.check_each is not None:
            instruments.append(_check_each_instrument(args.check_each))
        if timing:
            instruments.append(timing)
        pm = build_pass_manager(args.pass_pipeline, instruments,
                                verify_each=not args.no_verify_each)
        try:
            module = read_module_text(chunk, source, base_dir)
            verify_module(module)
            pm.run(module)
            if args.no_verify_each:
                verify_module(module)
        except (ParseError, VerifyError, PipelineError) as e:
            if not args.split_input_file:
                raise
            print(str(e) if isinstance(e, ParseError) else f"{source}: error: {e}",
                  file=sys.stderr)
            failed = True
            continue
        if args.output and module.weights is not None:
            relocate_weights(module, Path(args.output))
        elif module.weights is not None and module.weights.dirty:
            raise UsageError("passes changed the weights: give -o so the new weights file "
                             "can be written beside the output")
        results.append(print_module(module, generic=args.print_generic))
    out_text = f"\n{SPLIT_MARKER}\n\n".join(results) if results else ""
    if args.output:
        atomic_write_text(args.output, out_text)
    else:
        sys.stdout.write(out_text)
    if timing:
        print(timing.report(), file=sys.stderr)
    return 2 if failed else 0


def run(argv: list[str] | None = None) -> int:
    return run_tool("kiln-opt", main, argv)


def entry() -> None:
    sys.exit(run())


if __name__ == "__main__":
    entry()

_ = (PipelineError, WEIGHTS_ATTR)
