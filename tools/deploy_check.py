"""model_deploy's check: run the device model on a test input, compare with a reference, and
when it falls below tolerance show where, layer by layer, against the float IR."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from ..compiler.fileio import load_npz, save_npz
from ..compiler.ir import Module
from ..compiler.similarity import compare_tensors, render_table
from ..data.preprocess import InputDataError, load_inputs
from ._cli import UsageError
from .model_runner import INT_SUFFIX, open_model, run_interpreter
from .npz_tool import parse_tolerance


def _floats(tensors: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The comparable tensors of a dump: the raw integers of quantized tensors left out."""
    return {k: v for k, v in tensors.items() if not k.endswith(INT_SUFFIX)}


def check_model(args, float_module: Module, model_path: Path, prog: str) -> int:
    """0 when every compared tensor is within `--tolerance`, else 1 after printing the
    per-layer table (device model against the float IR) and the first layer below it."""
    tolerance = parse_tolerance(args.tolerance)
    device = open_model(model_path)  # read back: what is checked is the file written
    try:
        feeds = load_inputs(args.test_input, device.inputs)
    except InputDataError as e:
        raise UsageError(f"--test_input {args.test_input}: {e}") from None
    got = device.run(feeds, args.compare_all)
    out_path = model_path.with_name(model_path.stem + "_model_outputs.npz")
    save_npz(out_path, got)
    reference = load_npz(args.test_reference)
    excepts = [n.strip() for n in args.excepts.split(",") if n.strip()]
    compared = _floats(got)
    if not args.compare_all:
        from ..compiler.interpreter import output_names

        compared = {n: compared[n] for n in output_names(float_module.main) if n in compared}
    comparison = compare_tensors(reference, compared, tolerance, excepts, order=list(compared))
    if not comparison.rows:
        raise UsageError(f"--test_reference {args.test_reference} has none of the model's "
                         f"{'tensors' if args.compare_all else 'outputs'} "
                         f"({', '.join(list(compared)[:5])})")
    print(render_table(comparison))
    if not args.quiet:
        print(f"{prog}: outputs written to {out_path}", file=sys.stderr)
    if comparison.passed:
        return 0
    worst = comparison.failures[0]
    if args.compare_all:  # the table above is already per layer
        first = worst
    else:
        every = device.run(feeds, True)
        layers = compare_tensors(run_interpreter(float_module, feeds, True), _floats(every),
                                 tolerance, excepts, order=list(every))
        print("\nper-layer similarity of the device model to the float IR:")
        print(render_table(layers))
        first = layers.failures[0] if layers.failures else None
    where = (f"; the first layer below it is '{first.name}' ({first.why(tolerance)})"
             if first else "")
    print(f"{prog}: '{worst.name}' is below tolerance: {worst.why(tolerance)}{where}",
          file=sys.stderr)
    return 1
