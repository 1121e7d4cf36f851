"""`quant_debug`: per-layer accuracy of a deployed model against its float IR over a debug set.

    quant_debug --mlir FLOAT.mlir --model DEPLOYED.kmodel|DEPLOYED_npu.mlir
                --debug_dir DIR | --data_list F [--input_num N] [--threshold 0.99]
                [--dump] [--post_process FILE] -o OUT_DIR [--quiet]

Runs the float IR (model_transform's) and the deployed model (model_deploy's .kmodel or
_npu.mlir) on every sample of the debug set (a folder or list of images / .npy / .npz, read
as run_calibration reads its dataset) and compares every layer both have (by loc, in the
float IR's program order; the deployed model's tensors dequantized). Per layer over the
samples: cosine mean / min / max, Euclidean similarity mean, max abs error, SQNR mean, and the
deployed op and storage type. Written to OUT_DIR:

    layers.txt     the table and the diagnosis (also printed)
    layers.csv     the table
    layers.png     cosine mean per layer with the min..max band, the threshold, layers below
    report.html    the plot, the diagnosis and the table, self-contained
    diagnosis.txt  which failure pattern of the Magik guide the run shows, with the layers
    dumps/float.npz, dumps/deployed.npz   (--dump) every tensor of the first sample

The exit code is 0 when the report is written, whatever it finds; 2 for bad input.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from ._cli import ArgParser, UsageError, run_tool

PROG = "quant_debug"
MODEL_SUFFIXES = (".kmodel", ".mlir")
OUTPUTS = ("layers.txt", "layers.csv", "layers.png", "report.html", "diagnosis.txt")
DUMPS = ("dumps/float.npz", "dumps/deployed.npz")


def build_arg_parser() -> ArgParser:
    ap = ArgParser(prog=PROG, description=__doc__.split("\n")[0], allow_abbrev=False)
    ap.add_argument("--mlir", required=True, help="float IR from model_transform")
    ap.add_argument("--model", required=True,
                    help="deployed model: the .kmodel or the _npu.mlir from model_deploy")
    data = ap.add_mutually_exclusive_group(required=True)
    data.add_argument("--debug_dir", help="folder of debug samples (images, .npy, .npz, or one "
                                          "sub-folder per sample)")
    data.add_argument("--data_list", help="file with one sample per line")
    ap.add_argument("--input_num", type=int, default=None,
                    help="number of samples to use (default: all)")
    ap.add_argument("--threshold", type=float, default=0.99,
                    help="cosine similarity a layer should reach (default 0.99)")
    ap.add_argument("--dump", action="store_true",
                    help="write every tensor of the first sample: dumps/float.npz, "
                         "dumps/deployed.npz (dequantized and NAME@int)")
    ap.add_argument("--post_process",
                    help="Python file defining PostProcess(outputs: dict) -> dict of arrays "
                         "or one array, applied to both models' outputs and compared")
    ap.add_argument("-o", "--output", required=True, help="output folder")
    ap.add_argument("--quiet", action="store_true",
                    help="no progress bar or log lines (the table is still printed)")
    return ap


def _log(args, message: str) -> None:
    if not args.quiet:
        print(f"{PROG}: {message}", file=sys.stderr)


def _check_args(args) -> tuple[Path, Path, Path]:
    mlir, model, out = Path(args.mlir), Path(args.model), Path(args.output)
    if not mlir.is_file():
        raise UsageError(f"--mlir {mlir}: no such file")
    if model.suffix.lower() not in MODEL_SUFFIXES:
        raise UsageError(f"--model {model}: give the .kmodel or the _npu.mlir that "
                         f"model_deploy wrote")
    if not model.is_file():
        raise UsageError(f"--model {model}: no such file")
    if args.input_num is not None and args.input_num < 1:
        raise UsageError("--input_num must be at least 1")
    if not -1.0 <= args.threshold <= 1.0:
        raise UsageError(f"--threshold {args.threshold:g}: a cosine similarity is between "
                         f"-1 and 1")
    if out.exists() and not out.is_dir():
        raise UsageError(f"-o {out}: is a file, give a folder")
    return mlir, model, out


def _check_outputs(out: Path, read: list[Path | None]) -> None:
    """No file this run writes may be one it reads."""
    from .model_runner import _same_file

    for name in OUTPUTS + DUMPS:
        for src in read:
            if src is not None and _same_file(out / name, src):
                raise UsageError(f"-o {out}: writing {out / name} would overwrite {src}, "
                                 f"which {PROG} reads")


def _read_float(mlir: Path):
    from .. import dialects  # noqa: F401  (registers the ops)
    from ..compiler.module_io import read_module
    from ..compiler.verifier import verify_module

    module = read_module(mlir)
    verify_module(module)
    state = module.attributes.get("kiln.state")
    if isinstance(state, str) and not state.startswith("top"):
        raise UsageError(f"--mlir {mlir}: is a lowered model (kiln.state = {state}); give the "
                         f"float IR from model_transform")
    return module


def _deployed_ops(model: Path):
    """The deployed model's op per loc; its module is read here and dropped (open_model
    reads its own copy to run)."""
    from ..codegen import read_kmodel
    from ..compiler.module_io import read_module
    from ..debug.collect import deployed_ops

    module = read_kmodel(model) if model.suffix.lower() == ".kmodel" else read_module(model)
    return deployed_ops(module)


def _signature(specs) -> list[str]:
    """Each input as `name: 1x3x32x32xfloat32`, to compare two models' inputs."""
    return [f"{s.name}: {'x'.join(str(d) for d in s.shape)}x{s.dtype}" for s in specs]


def _progress(args, total: int):
    from tqdm import tqdm

    def wrap(iterable):
        return tqdm(iterable, total=total, desc=PROG, unit="sample", file=sys.stderr,
                    disable=True if args.quiet else None, leave=False)
    return wrap


def main(argv: list[str]) -> int:
    args = build_arg_parser().parse_args(argv)
    from ..compiler.fileio import atomic_write_bytes, atomic_write_text, save_npz
    from ..data.dataset import load_dataset
    from ..data.preprocess import input_specs
    from ..debug.collect import compare_models
    from ..debug.diagnose import diagnose
    from ..debug.plot import cosine_png
    from ..debug.postprocess import load_post_process
    from ..debug.render import Header, csv_text, html_report, text_report
    from .model_runner import open_model

    start = time.perf_counter()
    mlir, model_path, out = _check_args(args)
    post_fn = load_post_process(args.post_process) if args.post_process else None
    float_module = _read_float(mlir)
    ops = _deployed_ops(model_path)
    model = open_model(model_path)
    weights = float_module.weights.path if float_module.weights is not None else None
    _check_outputs(out, [mlir, weights, *model.files,
                         Path(args.post_process) if args.post_process else None])
    float_inputs = _signature(input_specs(float_module.main))
    deployed_inputs = _signature(model.inputs)
    if float_inputs != deployed_inputs:
        raise UsageError(f"--model {model_path}: its inputs ({', '.join(deployed_inputs)}) are "
                         f"not the float IR's ({', '.join(float_inputs)}): was it deployed "
                         f"from {mlir}?")
    dataset = load_dataset(float_module.main, dataset=args.debug_dir, data_list=args.data_list,
                           input_num=args.input_num)
    for line in [*dataset.warnings, *dataset.notes]:
        _log(args, line)

    def dump(reference, deployed) -> None:
        save_npz(out / DUMPS[0], reference)
        save_npz(out / DUMPS[1], deployed)

    run = compare_models(float_module, model, ops, dataset, float_name=str(mlir),
                         post_process=post_fn,
                         threshold=args.threshold, on_first=dump if args.dump else None,
                         progress=_progress(args, len(dataset)))
    diagnosis = diagnose(run, args.threshold)
    header = Header(str(mlir), str(model_path), args.threshold)
    report = text_report(run, diagnosis, header)
    png = cosine_png(run, args.threshold)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "layers.txt", report)
    atomic_write_text(out / "layers.csv", csv_text(run, args.threshold))
    atomic_write_bytes(out / "layers.png", png)
    atomic_write_text(out / "report.html", html_report(run, diagnosis, header, png))
    atomic_write_text(out / "diagnosis.txt", diagnosis.text())
    print(report, end="")
    written = ", ".join(OUTPUTS + (DUMPS if args.dump else ()))
    _log(args, f"wrote {written} to {out} in {time.perf_counter() - start:.1f} s")
    return 0


def run(argv: list[str] | None = None) -> int:
    return run_tool(PROG, main, argv)


def entry() -> None:
    sys.exit(run())


if __name__ == "__main__":
    entry()
