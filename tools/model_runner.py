"""`model_runner`: run a model on one input, save its outputs (or every tensor) to an npz.

    model_runner --input X.npz|X.npy|IMAGE --model M.onnx|M.mlir --output OUT.npz
                 [--dump_all_tensors]

An .onnx model runs in onnxruntime (the float reference); an .mlir model runs in kiln's
interpreter with the weights file it names. An image input is preprocessed as the model's
input argument records (model_transform --mean/--scale/...); an .npz gives one array per
input name. Tensors are keyed by name: the ONNX tensor name, which is the loc of the op that
computes it in the IR, so the dumps of both kinds compare with `npz_tool compare`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..compiler.fileio import save_npz
from ..compiler.ir import Module
from ..data.preprocess import InputDataError, InputSpec, load_inputs
from ._cli import ArgParser, UsageError, run_tool

PROG = "model_runner"


def build_arg_parser() -> argparse.ArgumentParser:
    ap = ArgParser(prog=PROG, description=__doc__.split("\n")[0], allow_abbrev=False)
    ap.add_argument("--input", required=True, help="input file: .npz, .npy or an image")
    ap.add_argument("--model", required=True, help="model: .onnx or .mlir")
    ap.add_argument("--output", required=True, help="output .npz")
    ap.add_argument("--dump_all_tensors", action="store_true",
                    help="save every intermediate tensor, not only the outputs")
    return ap


def run_interpreter(module: Module, inputs: Mapping[str, np.ndarray],
                    all_tensors: bool = False) -> dict[str, np.ndarray]:
    """Run the module's entry function. With `all_tensors`: its inputs, then every op result
    in program order (by loc; weights and constants left out), then the outputs by name."""
    from ..compiler.interpreter import run_function

    func = module.main
    outputs, kept = run_function(func, inputs, weights=module.weights, keep_all=all_tensors)
    if not all_tensors:
        return outputs
    result = {name: kept[name] for name in inputs if name in kept}
    for op in func.body:
        if op.operands and op.loc is not None and op.loc in kept:
            result.setdefault(op.loc, kept[op.loc])
    for name, array in outputs.items():
        result.setdefault(name, array)
    return result


@dataclass
class LoadedModel:
    """A model ready to run: its inputs, and `run(inputs, all_tensors) -> tensors by name`."""

    kind: str
    path: Path
    inputs: list[InputSpec]
    run: Callable[[Mapping[str, np.ndarray], bool], dict[str, np.ndarray]]


def _open_onnx(path: Path) -> LoadedModel:
    from ..frontend.onnx.reference import graph_inputs, load_model, run_onnx

    model = load_model(path)
    specs = [InputSpec(n, s, np.dtype(d)) for n, s, d in graph_inputs(model)]
    return LoadedModel("onnx", path, specs, lambda feeds, every: run_onnx(
        model, feeds, all_tensors=every, source=str(path)))


def _open_mlir(path: Path) -> LoadedModel:
    from .. import dialects  # noqa: F401  (registers the ops)
    from ..compiler.module_io import read_module
    from ..compiler.verifier import verify_module
    from ..data.preprocess import input_specs

    try:
        module = read_module(path)
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    verify_module(module)
    return LoadedModel("mlir", path, input_specs(module.main),
                       lambda feeds, every: run_interpreter(module, feeds, every))


def _open_kmodel(path: Path) -> LoadedModel:
    """A device model: the program it holds runs in the interpreter, so its outputs are the
    ones of the IR it was generated from, bit for bit."""
    from .. import dialects  # noqa: F401  (registers the ops)
    from ..codegen import read_kmodel
    from ..compiler.verifier import verify_module
    from ..data.preprocess import input_specs

    if not path.is_file():
        raise UsageError(f"{path}: no such file")
    module = read_kmodel(path)
    verify_module(module)
    return LoadedModel("kmodel", path, input_specs(module.main),
                       lambda feeds, every: run_interpreter(module, feeds, every))


MODEL_KINDS: dict[str, Callable[[Path], LoadedModel]] = {
    ".onnx": _open_onnx, ".mlir": _open_mlir, ".kmodel": _open_kmodel}


def open_model(path: str | Path) -> LoadedModel:
    """The one place that knows the kinds of model a tool can run, by file suffix."""
    path = Path(path)
    opener = MODEL_KINDS.get(path.suffix.lower())
    if opener is None:
        raise UsageError(f"{path}: unknown model kind '{path.suffix}' (supported: "
                         f"{', '.join(sorted(MODEL_KINDS))})")
    if not path.exists():
        raise UsageError(f"{path}: no such file")
    return opener(path)


def _same_file(a: Path, b: Path) -> bool:
    return a.exists() and b.exists() and a.resolve() == b.resolve()


def main(argv: list[str]) -> int:
    args = build_arg_parser().parse_args(argv)
    from ..frontend.onnx.reference import ReferenceFailure

    output = Path(args.output)
    for given in (args.input, args.model):
        if _same_file(output, Path(given)):
            raise UsageError(f"--output {output} would overwrite the input file {given}")
    if output.suffix.lower() != ".npz":
        raise UsageError(f"--output {output}: give an .npz file name")
    try:
        model = open_model(args.model)
        inputs = load_inputs(args.input, model.inputs)
        tensors = model.run(inputs, args.dump_all_tensors)
    except (InputDataError, ReferenceFailure) as e:
        raise UsageError(str(e)) from None
    save_npz(output, tensors)
    what = "tensors" if args.dump_all_tensors else "outputs"
    print(f"{PROG}: {len(tensors)} {what} of {args.model} ({model.kind}) written to {output}")
    return 0


def run(argv: list[str] | None = None) -> int:
    return run_tool(PROG, main, argv)


def entry() -> None:
    sys.exit(run())


if __name__ == "__main__":
    entry()
