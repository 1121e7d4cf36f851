"""`model_transform`: import an ONNX model as top-dialect IR, record its input preprocessing,
and check the IR against onnxruntime tensor by tensor.

    model_transform --model_def M.onnx [--model_name NAME] [--input_shapes [[1,3,224,224]]]
        [--mean 0,0,0] [--scale 1,1,1] [--pixel_format rgb|bgr|gray]
        [--channel_format nchw|nhwc] [--resize_dims H,W] [--keep_aspect_ratio]
        [--pad_value V] [--output_names a,b] [--test_input IMAGE|in.npz|in.npy]
        [--test_result NAME_top_outputs.npz] [--tolerance 0.99,0.99] [--excepts a,b]
        [--mlir NAME.mlir] [--debug]

Writes NAME.mlir and its weights (`<mlir stem>_weights.npz`). The preprocessing flags are
recorded on each image-like input (4-D, with the pixel format's channel count) as argument
attributes; see kiln.data.preprocess for what they mean. With --test_input, beside the
.mlir: NAME_in_f32.npz (the input as fed), NAME_ref_outputs.npz (onnxruntime, every tensor)
and NAME_top_outputs.npz (kiln's interpreter, every tensor, or --test_result); the tensors
present in both are compared and the table printed. Exit 0 when every compared tensor is
within --tolerance (cosine, Euclidean similarity), 1 when one is not, 2 for bad input.
--debug also writes NAME_origin.mlir: the IR as imported, before the transform pipeline.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path

from ..compiler.similarity import DEFAULT_TOLERANCE, compare_tensors, render_table
from ..data.preprocess import (
    CHANNEL_FORMATS,
    PIXEL_FORMATS,
    InputDataError,
    Preprocess,
    input_file_kind,
)
from ._cli import ArgParser, UsageError, run_tool

PROG = "model_transform"
_PRE_FLAGS = ("mean", "scale", "pixel_format", "channel_format", "resize_dims",
              "keep_aspect_ratio", "pad_value")


def build_arg_parser() -> argparse.ArgumentParser:
    ap = ArgParser(prog=PROG, description=__doc__.split("\n")[0], allow_abbrev=False)
    ap.add_argument("--model_def", required=True, help="the ONNX model file")
    ap.add_argument("--model_name", help="name of the model and its files (default: the "
                                         "model file's stem)")
    ap.add_argument("--input_shapes", help="shape of each input, e.g. [[1,3,224,224]]")
    ap.add_argument("--output_names", help="cut the graph at these tensors, e.g. a,b")
    pre = ap.add_argument_group("preprocessing (recorded on image-like inputs)")
    pre.add_argument("--mean", help="per-channel mean, e.g. 123.675,116.28,103.53")
    pre.add_argument("--scale", help="per-channel scale, e.g. 0.0171,0.0175,0.0174")
    pre.add_argument("--pixel_format", choices=PIXEL_FORMATS)
    pre.add_argument("--channel_format", choices=CHANNEL_FORMATS)
    pre.add_argument("--resize_dims", help="resize the image to H,W (then centre crop)")
    pre.add_argument("--keep_aspect_ratio", action="store_true", default=None,
                     help="resize keeping the aspect ratio, padding with --pad_value")
    pre.add_argument("--pad_value", type=_float_flag, help="padding pixel value (default 0)")
    test = ap.add_argument_group("checking against onnxruntime")
    test.add_argument("--test_input", help="an image, .npz or .npy to run both models on")
    test.add_argument("--test_result", help="where to save kiln's tensors "
                                            "(default: NAME_top_outputs.npz beside the .mlir)")
    test.add_argument("--tolerance", default=None,
                      help="minimum cosine,euclidean similarity (default 0.99,0.99)")
    test.add_argument("--excepts", help="tensors not to compare, e.g. a,b")
    ap.add_argument("--mlir", help="output IR file (default: NAME.mlir)")
    ap.add_argument("--debug", action="store_true",
                    help="also write NAME_origin.mlir, the IR before the transform pipeline")
    return ap


def _float_flag(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: '{text}'") from None


def _list(text: str | None) -> list[str]:
    return [t.strip() for t in (text or "").split(",") if t.strip()]


def _floats(text: str, flag: str) -> tuple[float, ...]:
    try:
        values = tuple(float(t) for t in _list(text))
    except ValueError:
        raise UsageError(f"{flag} '{text}': give comma-separated numbers") from None
    if not values:
        raise UsageError(f"{flag} is empty")
    return values


def _resize_dims(text: str) -> tuple[int, int]:
    try:
        dims = tuple(int(t) for t in _list(text))
    except ValueError:
        dims = ()
    if len(dims) != 2 or min(dims) <= 0:
        raise UsageError(f"--resize_dims '{text}': give two positive integers, H,W")
    return dims  # type: ignore[return-value]


def _input_shapes(text: str | None) -> list[list[int]] | None:
    if text is None:
        return None
    try:
        shapes = json.loads(text)
    except json.JSONDecodeError:
        shapes = None
    if isinstance(shapes, list) and shapes and all(isinstance(d, int) for d in shapes):
        shapes = [shapes]
    ok = isinstance(shapes, list) and shapes and all(
        isinstance(s, list) and all(isinstance(d, int) and not isinstance(d, bool) and d > 0
                                    for d in s) for s in shapes)
    if not ok:
        raise UsageError(f"--input_shapes '{text}': give a list of shapes of positive "
                         f"integers, e.g. [[1,3,224,224]] or [[1,3,32,32],[1,10]]")
    return shapes


def _tolerance(text: str | None) -> tuple[float, float]:
    if text is None:
        return DEFAULT_TOLERANCE
    values = _floats(text, "--tolerance")
    if len(values) == 1:
        values = values * 2
    if len(values) != 2 or not all(-1.0 <= v <= 1.0 for v in values):
        raise UsageError(f"--tolerance '{text}': give cosine,euclidean minimums, each at "
                         f"most 1, e.g. 0.99,0.99")
    return values  # type: ignore[return-value]


def _preprocess(args: argparse.Namespace) -> tuple[Preprocess, bool]:
    """The preprocessing the flags ask for, and whether any preprocessing flag was given.
    The pixel format is left empty when not given: it then follows each input's channels."""
    given = any(getattr(args, f) is not None for f in _PRE_FLAGS)
    pre = Preprocess(
        mean=_floats(args.mean, "--mean") if args.mean is not None else (0.0,),
        scale=_floats(args.scale, "--scale") if args.scale is not None else (1.0,),
        pixel_format=args.pixel_format or "",
        channel_format=args.channel_format or "nchw",
        resize_dims=_resize_dims(args.resize_dims) if args.resize_dims is not None else None,
        keep_aspect_ratio=bool(args.keep_aspect_ratio),
        pad_value=args.pad_value if args.pad_value is not None else 0.0)
    return pre, given


def record_preprocessing(func, pre: Preprocess) -> list[str]:
    """Record `pre` on every image-like input of `func`; returns their names. An input is
    image-like when it is 4-D with 1 or 3 channels where the channel format puts them (and
    the pixel format's number, if one is given)."""
    from dataclasses import replace

    from ..data.preprocess import input_specs

    recorded = []
    for index, spec in enumerate(input_specs(func)):
        if len(spec.shape) != 4 or min(spec.shape) <= 0:
            continue
        _, _, _, c = pre.image_size(spec.shape)
        wanted = {"gray": 1, "rgb": 3, "bgr": 3}.get(pre.pixel_format, c)
        if c not in (1, 3) or c != wanted:
            continue
        this = pre if pre.pixel_format else replace(pre, pixel_format="gray" if c == 1 else "rgb")
        try:
            func.arg_attributes[index].update(this.to_attributes(spec.shape))
        except InputDataError as e:
            raise UsageError(f"input '{spec.name}': {e}") from None
        recorded.append(spec.name)
    if not recorded:
        shapes = ", ".join(f"{s.name} {list(s.shape)}" for s in input_specs(func))
        raise UsageError(f"preprocessing flags were given but no input is an image with "
                         f"{pre.pixel_format or '1 or 3'} channel(s) in {pre.channel_format} "
                         f"layout (inputs: {shapes}); check --channel_format/--pixel_format")
    return recorded


def _check_name(name: str) -> str:
    if not name or not re.fullmatch(r"[^/\\\x00]+", name) or name in (".", ".."):
        raise UsageError(f"--model_name '{name}': give a name without path separators")
    return name


def _guard(outputs: list[Path], inputs: list[Path]) -> None:
    for out in outputs:
        for given in inputs:
            if given.exists() and (out.resolve() == given.resolve()):
                raise UsageError(f"output {out} would overwrite the input file {given}")


def main(argv: list[str]) -> int:
    args = build_arg_parser().parse_args(argv)
    from ..frontend.onnx.importer import ImportFailure
    from ..frontend.onnx.reference import ReferenceFailure

    model_def = Path(args.model_def)
    if model_def.suffix.lower() != ".onnx":
        raise UsageError(f"--model_def {model_def}: only ONNX models (.onnx) are supported")
    if not model_def.is_file():
        raise UsageError(f"--model_def {model_def}: no such file")
    name = _check_name(args.model_name or model_def.stem)
    shapes = _input_shapes(args.input_shapes)
    tolerance = _tolerance(args.tolerance)
    pre, pre_given = _preprocess(args)
    mlir_path = Path(args.mlir or f"{name}.mlir")
    if mlir_path.suffix != ".mlir":
        raise UsageError(f"--mlir {mlir_path}: give a file name ending in .mlir")
    out_dir = mlir_path.parent
    paths = {"in": out_dir / f"{name}_in_f32.npz", "ref": out_dir / f"{name}_ref_outputs.npz",
             "top": Path(args.test_result or out_dir / f"{name}_top_outputs.npz"),
             "origin": out_dir / f"{name}_origin.mlir"}
    inputs = [model_def] + ([Path(args.test_input)] if args.test_input else [])
    _guard([mlir_path, out_dir / f"{mlir_path.stem}_weights.npz", *paths.values()], inputs)
    try:
        if args.test_input and input_file_kind(args.test_input) == "image" and not pre_given:
            raise UsageError(f"--test_input {args.test_input} is an image: give the "
                             f"preprocessing that turns it into the input (at least one of "
                             f"--pixel_format, --mean, --scale, --resize_dims, ...)")
        module = _transform(model_def, name, shapes, _list(args.output_names),
                            pre if pre_given else None, mlir_path,
                            paths["origin"] if args.debug else None)
        if not args.test_input:
            return 0
        return _test(module, model_def, Path(args.test_input), paths, tolerance,
                     _list(args.excepts))
    except (ImportFailure, InputDataError, ReferenceFailure) as e:
        raise UsageError(str(e)) from None


def _transform(model_def: Path, name: str, shapes, output_names: list[str],
               pre: Preprocess | None, mlir_path: Path, origin_path: Path | None):
    from .. import dialects  # noqa: F401  (registers the ops)
    from ..compiler.module_io import write_module
    from ..compiler.verifier import verify_module
    from ..frontend.onnx.importer import ImportOptions, import_onnx
    from ..passes.pipelines import PIPELINES
    from ..passes.registry import build_pass_manager

    options = ImportOptions(input_shapes=shapes, output_names=output_names or None,
                            model_name=name)
    module = import_onnx(model_def, options)
    for warning in options.warnings:
        print(f"{PROG}: warning: {warning}", file=sys.stderr)
    if pre is not None:
        recorded = record_preprocessing(module.main, pre)
        print(f"{PROG}: preprocessing recorded on input(s) {', '.join(recorded)}")
    verify_module(module)
    if origin_path is not None:
        _write_origin(module, origin_path)
    build_pass_manager(PIPELINES.get("transform", "canonicalize")).run(module)
    write_module(module, mlir_path)
    n_ops = sum(1 for _ in module.walk())
    print(f"{PROG}: wrote {mlir_path} ({n_ops} ops) and its weights "
          f"{module.attributes.get('kiln.weights')}")
    return module


def _write_origin(module, path: Path) -> None:
    """The imported IR with its own weights file, leaving the module's weights unwritten."""
    from ..compiler.fileio import atomic_write_text
    from ..compiler.module_io import WEIGHTS_ATTR
    from ..compiler.text.printer import print_module

    weights_path = path.parent / f"{path.stem}_weights.npz"
    used = {op.attributes["ref"].name for op in module.walk() if op.name == "top.weight"}
    module.weights.save(weights_path, used)
    saved = module.attributes.get(WEIGHTS_ATTR)
    module.attributes[WEIGHTS_ATTR] = os.path.relpath(weights_path, path.parent)
    try:
        atomic_write_text(path, print_module(module))
    finally:
        module.attributes[WEIGHTS_ATTR] = saved
    print(f"{PROG}: wrote {path} (before the transform pipeline)")


def _test(module, model_def: Path, test_input: Path, paths: dict[str, Path],
          tolerance: tuple[float, float], excepts: list[str]) -> int:
    from ..compiler.fileio import save_npz
    from ..data.preprocess import input_specs, load_inputs
    from ..frontend.onnx.reference import run_onnx
    from .model_runner import run_interpreter

    inputs = load_inputs(test_input, input_specs(module.main))
    save_npz(paths["in"], inputs)
    ref = run_onnx(model_def, inputs, all_tensors=True)
    save_npz(paths["ref"], ref)
    top = run_interpreter(module, inputs, all_tensors=True)
    save_npz(paths["top"], top)
    print(f"{PROG}: wrote {paths['in']}, {paths['ref']}, {paths['top']}")
    unknown = [n for n in excepts if n not in ref and n not in top]
    if unknown:
        print(f"{PROG}: warning: --excepts names no tensor: {', '.join(unknown)}",
              file=sys.stderr)
    comparison = compare_tensors(ref, top, tolerance, excepts, order=list(top))
    if not comparison.rows:
        raise UsageError("no tensor of onnxruntime's has a tensor of the same name in kiln's "
                         "IR, nothing to compare")
    print(render_table(comparison))
    if comparison.passed:
        return 0
    first = comparison.failures[0]
    print(f"{PROG}: error: tensor '{first.name}' is below tolerance: {first.why(tolerance)} "
          f"(first of {len(comparison.failures)})", file=sys.stderr)
    return 1


def run(argv: list[str] | None = None) -> int:
    return run_tool(PROG, main, argv)


def entry() -> None:
    sys.exit(run())


if __name__ == "__main__":
    entry()
