"""`model_runner`: run a model on an input file or a folder of them, save outputs or every tensor.

    model_runner --input X.npz|X.npy|IMAGE --model M.onnx|M.mlir|M.kmodel --output OUT.npz
                 [--dump_all_tensors] [--quiet]
    model_runner --input IN_DIR --model M --output OUT_DIR [--dump_all_tensors] [--quiet]

An .onnx model runs in onnxruntime (the float reference); an .mlir model runs in kiln's
interpreter with the weights file it names; a .kmodel runs the program it holds in the same
interpreter. An image input is preprocessed as the model's input argument records
(model_transform --mean/--scale/...); an .npz gives one array per input name. Tensors are
keyed by name: the ONNX tensor name, which is the loc of the op that computes it in the IR,
so the dumps of both kinds compare with `npz_tool compare`.

A folder --input holds one sample per .npz file (keyed by input name). The model is loaded
once, every file is checked before anything runs, and the files run in sorted name order;
each writes the npz of the same file name into the --output folder (created if missing).
Other files in the folder are skipped with one warning. A progress bar goes to stderr when
it is a terminal (not with --quiet).

Quantized tensors (a `!quant.uniform` type in the IR: a model after lower-to-npu, or a
.kmodel) are saved twice:

    NAME       float32, dequantized: scale * (q - zero_point), with the scale and zero point
               of the tensor's IR type (per tensor, or per axis along its axis)
    NAME@int   the raw integers the model computed (int8, int32, ...)

so `npz_tool compare float_dump.npz quant_dump.npz` compares every layer of a quantized
model with the same layer of the float one by name (the `@int` keys, only in the quantized
dump, are left out of the comparison). Float tensors are saved once, under their name.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..compiler.errors import UserError
from ..compiler.fileio import save_npz
from ..compiler.ir import Module
from ..compiler.types import TensorType, Type, UniformPerAxisType, UniformType
from ..data.preprocess import InputDataError, InputSpec, load_inputs
from ._cli import ArgParser, UsageError, run_tool

PROG = "model_runner"
INT_SUFFIX = "@int"  # the key of a quantized tensor's raw integers: f"{name}{INT_SUFFIX}"


def build_arg_parser() -> argparse.ArgumentParser:
    ap = ArgParser(prog=PROG, description=__doc__.split("\n")[0], allow_abbrev=False)
    ap.add_argument("--input", required=True,
                    help="input file (.npz, .npy or an image), or a folder of .npz files")
    ap.add_argument("--model", required=True, help="model: .onnx, .mlir or .kmodel")
    ap.add_argument("--output", required=True,
                    help="output .npz, or the output folder when --input is a folder")
    ap.add_argument("--dump_all_tensors", action="store_true",
                    help="save every intermediate tensor, not only the outputs")
    ap.add_argument("--quiet", action="store_true",
                    help="no progress bar and no summary line (warnings and errors remain)")
    return ap


# -- quantized tensors ------------------------------------------------------------------------
def dequantize(array: np.ndarray, t: TensorType) -> np.ndarray:
    """The float32 values of a `!quant.uniform` tensor: scale * (q - zero_point), computed in
    float64 and rounded once, like npu.cast's dequantize."""
    from ..kernels.integer import dequantize as dequantize_kernel

    el = t.element
    if isinstance(el, UniformType):
        return dequantize_kernel(array, el.scale, el.zp, np.float32)
    shape = [1] * array.ndim
    shape[el.axis] = -1
    zps = el.zero_points or (0,) * len(el.scales)
    return dequantize_kernel(array, np.asarray(el.scales).reshape(shape),
                             np.asarray(zps).reshape(shape), np.float32)


def is_quantized(t: Type | None, array: np.ndarray) -> bool:
    return isinstance(t, TensorType) and isinstance(t.element, (UniformType, UniformPerAxisType)) \
        and array.dtype.kind in "iu"


def with_dequantized(tensors: Iterable[tuple[str, np.ndarray, Type | None]]
                     ) -> dict[str, np.ndarray]:
    """(name, array, IR type) triples as the npz's arrays: a quantized tensor becomes its
    dequantized float32 values under `name` followed by its integers under `name@int`."""
    out: dict[str, np.ndarray] = {}
    for name, array, t in tensors:
        pairs = [(name, array)]
        if is_quantized(t, array):
            pairs = [(name, dequantize(array, t)), (name + INT_SUFFIX, array)]
        for key, value in pairs:
            if key in out:
                raise UsageError(f"two tensors would be saved as '{key}' (a tensor name ending "
                                 f"in '{INT_SUFFIX}' clashes with a quantized tensor's integers)")
            out[key] = value
    return out


def run_interpreter(module: Module, inputs: Mapping[str, np.ndarray],
                    all_tensors: bool = False) -> dict[str, np.ndarray]:
    """Run the module's entry function. With `all_tensors`: its inputs, then every op result
    in program order (by loc; weights and constants left out), then the outputs by name.
    Quantized tensors are saved dequantized and as integers (see the module docstring)."""
    from ..compiler.interpreter import input_names, output_names, run_function

    func = module.main
    outputs, kept = run_function(func, inputs, weights=module.weights, keep_all=all_tensors)
    ret = func.return_op
    out_types = {} if ret is None else dict(zip(output_names(func),
                                                (v.type for v in ret.operands)))
    if not all_tensors:
        return with_dequantized((n, a, out_types.get(n)) for n, a in outputs.items())
    # the type of the array kept under each name: the interpreter keeps the last value
    # computed under a loc, after the arguments
    types: dict[str, Type] = dict(zip(input_names(func), (a.type for a in func.arguments)))
    for op in func.body:
        tensor_results = [r for r in op.results if isinstance(r.type, TensorType)]
        if op.loc is not None and tensor_results:
            types[op.loc] = tensor_results[-1].type
    result: dict[str, tuple[np.ndarray, Type | None]] = {
        name: (kept[name], types.get(name)) for name in inputs if name in kept}
    for op in func.body:
        if op.operands and op.loc is not None and op.loc in kept:
            result.setdefault(op.loc, (kept[op.loc], types.get(op.loc)))
    for name, array in outputs.items():
        result.setdefault(name, (array, out_types.get(name)))
    return with_dequantized((n, a, t) for n, (a, t) in result.items())


# -- models -----------------------------------------------------------------------------------
@dataclass
class LoadedModel:
    """A model ready to run: its inputs, and `run(inputs, all_tensors) -> tensors by name`.
    `files`: every file it was read from (the model, its weights), never to be overwritten."""

    kind: str
    path: Path
    inputs: list[InputSpec]
    run: Callable[[Mapping[str, np.ndarray], bool], dict[str, np.ndarray]]
    files: list[Path] = field(default_factory=list)


def _open_onnx(path: Path) -> LoadedModel:
    from ..frontend.onnx.reference import graph_inputs, load_model, run_onnx

    model = load_model(path)
    specs = [InputSpec(n, s, np.dtype(d)) for n, s, d in graph_inputs(model)]
    return LoadedModel("onnx", path, specs, lambda feeds, every: run_onnx(
        model, feeds, all_tensors=every, source=str(path)), [path])


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
    files = [path]
    if module.weights is not None and module.weights.path is not None:
        files.append(module.weights.path)
    return LoadedModel("mlir", path, input_specs(module.main),
                       lambda feeds, every: run_interpreter(module, feeds, every), files)


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
                       lambda feeds, every: run_interpreter(module, feeds, every), [path])


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
    from ..frontend.onnx.reference import ReferenceFailure

    try:
        return opener(path)
    except (InputDataError, ReferenceFailure) as e:
        raise UsageError(str(e)) from None


# -- running ----------------------------------------------------------------------------------
def _same_file(a: Path, b: Path) -> bool:
    return a.exists() and b.exists() and a.resolve() == b.resolve()


def _check_not_a_model_file(output: Path, model: LoadedModel) -> None:
    for used in model.files:
        if _same_file(output, used):
            raise UsageError(f"--output {output} would overwrite {used}, which the model "
                             f"{model.path} reads")


def _run_one(model: LoadedModel, source: Path, all_tensors: bool) -> dict[str, np.ndarray]:
    """The tensors of one input file; every user error names that file."""
    from ..frontend.onnx.reference import ReferenceFailure

    try:
        return model.run(load_inputs(source, model.inputs), all_tensors)
    except (InputDataError, ReferenceFailure, UserError) as e:
        message = str(e)
        raise UsageError(message if str(source) in message else f"{source}: {message}") from None


def _run_file(args: argparse.Namespace) -> int:
    output = Path(args.output)
    for given in (args.input, args.model):
        if _same_file(output, Path(given)):
            raise UsageError(f"--output {output} would overwrite the input file {given}")
    if output.suffix.lower() != ".npz":
        raise UsageError(f"--output {output}: give an .npz file name")
    model = open_model(args.model)
    _check_not_a_model_file(output, model)
    tensors = _run_one(model, Path(args.input), args.dump_all_tensors)
    save_npz(output, tensors)
    if not args.quiet:
        what = "tensors" if args.dump_all_tensors else "outputs"
        print(f"{PROG}: {len(tensors)} {what} of {args.model} ({model.kind}) written to "
              f"{output}")
    return 0


def list_input_folder(folder: Path) -> tuple[list[Path], list[str]]:
    """(the .npz files of `folder`, sorted by name; the names of its other files)."""
    npz, others = [], []
    for p in sorted(folder.iterdir(), key=lambda p: p.name):
        if p.is_file():
            (npz if p.suffix.lower() == ".npz" else others).append(p)
    return npz, [p.name for p in others]


def _progress(items: list[Path], quiet: bool):
    from tqdm import tqdm

    return tqdm(items, desc=PROG, unit="file", file=sys.stderr,
                disable=quiet or not sys.stderr.isatty())


def _run_folder(args: argparse.Namespace) -> int:
    folder, output = Path(args.input), Path(args.output)
    if output.exists() and not output.is_dir():
        raise UsageError(f"--output {output}: with a folder --input, --output is a folder "
                         f"(one npz per input file); {output} is a file")
    if not output.exists() and output.suffix.lower() == ".npz":
        raise UsageError(f"--output {output}: with a folder --input, --output is a folder "
                         f"(one npz per input file), not an .npz file name")
    if _same_file(output, folder):
        raise UsageError(f"--output {output} is the input folder: its files would be "
                         f"overwritten")
    files, others = list_input_folder(folder)
    if not files:
        raise UsageError(f"--input {folder}: no .npz files in the folder"
                         + (f" (it has {_listing(others)})" if others else " (it is empty)"))
    if others:
        print(f"{PROG}: warning: {folder}: skipping {len(others)} file(s) that are not .npz: "
              f"{_listing(others)}", file=sys.stderr)
    model = open_model(args.model)
    for source in files:  # every input is good before anything runs or is written
        _check_not_a_model_file(output / source.name, model)
        try:
            load_inputs(source, model.inputs)
        except InputDataError as e:
            raise UsageError(str(e)) from None
    output.mkdir(parents=True, exist_ok=True)
    with _progress(files, args.quiet) as bar:
        for source in bar:
            save_npz(output / source.name, _run_one(model, source, args.dump_all_tensors))
    if not args.quiet:
        what = "tensors" if args.dump_all_tensors else "outputs"
        print(f"{PROG}: {what} of {args.model} ({model.kind}) on {len(files)} input file(s) "
              f"written to {output}")
    return 0


def _listing(names: list[str], at_most: int = 10) -> str:
    shown = ", ".join(names[:at_most])
    return shown if len(names) <= at_most else f"{shown} and {len(names) - at_most} more"


def main(argv: list[str]) -> int:
    args = build_arg_parser().parse_args(argv)
    if Path(args.input).is_dir():
        return _run_folder(args)
    return _run_file(args)


def run(argv: list[str] | None = None) -> int:
    return run_tool(PROG, main, argv)


def entry() -> None:
    sys.exit(run())


if __name__ == "__main__":
    entry()
