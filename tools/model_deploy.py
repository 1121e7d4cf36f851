"""`model_deploy`: lower a float kiln IR to a device model and check it against a reference.

    model_deploy --mlir M.mlir --quantize INT8|INT16|F16|BF16|F32 --model OUT.kmodel
                 [--calibration_table T] [--quantize_table Q] [--processor TARGET]
                 [--asymmetric] [--quant_output] [--export_onnx OUT.onnx]
                 [--test_input IN.npz|IMAGE --test_reference REF.npz
                  [--tolerance 0.99,0.90] [--compare_all] [--excepts a,b]]
                 [--quant_config CFG.json] [--save_quant_config OUT.json]

Pipeline: mark-shape-ops, apply-qtable (`--quantize` is the default mode; the qtable's rows
and the shape layers override it), import-calibration (ranges; layers above 8 bits take their
observed range, not the 8-bit threshold), lower-to-npu for the target, then codegen. Written
beside the model: `<stem>_npu.mlir` (+ weights), the lowered IR that `model_runner` and
`kiln-opt` read. With `--test_input`, the device model is read back and run on it; its
outputs (every tensor with `--compare_all`) go to `<stem>_model_outputs.npz` and are compared
with `--test_reference`. Below tolerance, the per-layer table against the float IR is printed
with the first layer below it, and the tool exits 1 (bad input: 2).

`--quant_config` (docs/quant-config.md) sets layers' bit widths and float layers (its modes
override the qtable's rows) and their ranges (over the table's); both go to the passes as
temporary files, never into the user's. `--save_quant_config` writes every layer's mode as
such a config, to edit by hand and load back.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from ..compiler.ir import Module
from ._cli import ArgParser, UsageError, run_tool, table_source

PROG = "model_deploy"
FLOAT_MODES = ("F16", "BF16", "F32")


def build_arg_parser() -> ArgParser:
    ap = ArgParser(prog=PROG, description=__doc__.split("\n")[0], allow_abbrev=False)
    ap.add_argument("--mlir", required=True, help="float IR from model_transform")
    ap.add_argument("--quantize", required=True,
                    help="default layer mode: INT8, INT16 (INT<n> the target allows), F16, "
                         "BF16, F32")
    ap.add_argument("--model", required=True, help="output device model (.kmodel)")
    ap.add_argument("--calibration_table", help="run_calibration's table (integer modes)")
    ap.add_argument("--quantize_table", help="qtable: per-layer modes (mixed precision)")
    ap.add_argument("--processor", default="int8-sym",
                    help="target name (compiler/targets) or a target .toml file")
    ap.add_argument("--asymmetric", action="store_true",
                    help="affine activations (the table's min/max, a zero point) on a "
                         "symmetric target, as TPU-MLIR's --asymmetric; implied by an "
                         "affine target")
    ap.add_argument("--quant_output", action="store_true",
                    help="keep the model's outputs quantized (default: dequantized to f32)")
    ap.add_argument("--export_onnx", help="also write a QDQ ONNX model for onnxruntime")
    ap.add_argument("--test_input", help="input (.npz, .npy or image) to check the model on")
    ap.add_argument("--test_reference", help="reference tensors (.npz) for --test_input")
    ap.add_argument("--tolerance", default="0.99,0.90",
                    help="minimum cosine,euclidean similarity (default 0.99,0.90)")
    ap.add_argument("--compare_all", action="store_true",
                    help="compare every tensor the reference has, not only the outputs")
    ap.add_argument("--excepts", default="", help="tensors not to compare, e.g. a,b")
    ap.add_argument("--quant_config", help="JSON config: per-layer bits/modes, skipped layers "
                                           "and op types, min/max (docs/quant-config.md)")
    ap.add_argument("--save_quant_config",
                    help="write every layer's mode as a quant config (to edit and load back)")
    ap.add_argument("--quiet", action="store_true", help="print only errors and the result")
    return ap


def _log(args, message: str) -> None:
    if not args.quiet:
        print(f"{PROG}: {message}", file=sys.stderr)


def _pipeline(args, target, table: Path | None, qtable: str | None) -> str:
    from ..calibration.qtable import normalize_mode

    mode = normalize_mode(args.quantize)
    if mode is None:
        raise UsageError(f"--quantize '{args.quantize}': give INT8, INT16, F16, BF16 or F32")
    if mode not in target.modes:
        raise UsageError(f"--quantize {mode}: target {target.name} allows "
                         f"{', '.join(target.modes)}")
    rows = f"table={_quoted(qtable)}," if qtable else ""
    passes = ["mark-shape-ops", f"apply-qtable{{{rows}target={args.processor},default={mode}}}"]
    if table is not None:
        asym = args.asymmetric or not target.activation_symmetric
        wide = str(16 in target.activation_bits).lower()
        passes.append(f"import-calibration{{table={_quoted(table)},asymmetric={str(asym).lower()},"
                      f"wide_tables={wide}}}")
    passes.append(f"lower-to-npu{{target={args.processor},"
                  f"quant_output={str(args.quant_output).lower()},"
                  f"asymmetric={str(args.asymmetric).lower()}}}")
    return ",".join(passes)


def _quoted(path) -> str:
    """A path as a pass option value: quoted, so commas and braces in it stay in it."""
    text = str(path)
    if '"' in text:
        raise UsageError(f"{text}: a path with a double quote cannot be given to the passes")
    return f'"{text}"'


def _needs_table(args, qtable: str | None) -> bool:
    from ..calibration.qtable import normalize_mode, read_qtable
    from ..passes.lowering.scheme import mode_bits

    if mode_bits(normalize_mode(args.quantize) or "F32"):
        return True
    if qtable:
        rows = read_qtable(qtable)
        return any(mode_bits(m) for m in rows.modes.values())
    return False


def _check_paths(args) -> tuple[Path, Path | None]:
    mlir = Path(args.mlir)
    if not mlir.is_file():
        raise UsageError(f"--mlir {mlir}: no such file")
    model = Path(args.model)
    if model.suffix != ".kmodel":
        raise UsageError(f"--model {model}: the device model's name must end in .kmodel")
    for flag in ("calibration_table", "quantize_table", "test_input", "test_reference",
                 "quant_config"):
        value = getattr(args, flag)
        if value and not Path(value).is_file():
            raise UsageError(f"--{flag} {value}: no such file")
    if bool(args.test_input) != bool(args.test_reference):
        raise UsageError("--test_input and --test_reference go together")
    if args.export_onnx and Path(args.export_onnx).suffix != ".onnx":
        raise UsageError(f"--export_onnx {args.export_onnx}: the name must end in .onnx")
    table = Path(args.calibration_table) if args.calibration_table else None
    return mlir, table


def _source_path(args, mlir: Path, table: Path | None) -> Path:
    """The float IR to deploy; when the calibration table was made on an IR that
    run_calibration wrote (--we / --bc / --weight_rounding output), that IR, which the
    table's thresholds and rounded weights belong to."""
    if table is None:
        return mlir
    source = table_source(table, mlir)
    if source != mlir:
        _log(args, f"{table} was made on {source} (weights changed or rounded by "
                   "calibration): deploying that IR")
    return source


def _check_outputs(args, read: list[Path | None]) -> None:
    """No file this run writes may be one it reads (the IR, its weights, the tables, the
    test input or reference): the reference would be compared with the model's own outputs."""
    from .model_runner import _same_file

    model = Path(args.model)
    written = [model, model.with_name(model.stem + "_npu.mlir"),
               model.with_name(model.stem + "_npu_weights.npz")]
    if args.export_onnx:
        written.append(Path(args.export_onnx))
    if args.test_input:
        written.append(model.with_name(model.stem + "_model_outputs.npz"))
    if args.save_quant_config:
        written.append(Path(args.save_quant_config))
    for out in written:
        for src in read:
            if src is not None and _same_file(out, src):
                raise UsageError(f"{out} (which {PROG} writes for --model {model}) would "
                                 f"overwrite {src}, which it reads")


def _lower(args, module: Module, target, table: Path | None, qtable: str | None,
           instruments=()) -> None:
    from ..passes.registry import build_pass_manager

    pipeline = _pipeline(args, target, table, qtable)
    _log(args, f"passes: {pipeline}")
    build_pass_manager(pipeline, instruments).run(module)
    for op in module.walk():
        note = op.attributes.get("kiln.note")
        if note:
            _log(args, f"rule applied at {op.loc or op.name}: {note}")


def _summary(module: Module) -> str:
    """How many computing ops run at each storage type, e.g. `12 float, 300 i8`."""
    from collections import Counter

    from ..compiler.types import TensorType, UniformType

    kinds: Counter = Counter()
    for op in module.walk():
        if op.name in ("top.weight", "top.constant", "top.none", "func.return",
                       "npu.cast") or not op.results:
            continue
        t = op.results[0].type
        quant = isinstance(t, TensorType) and isinstance(t.element, UniformType)
        kinds[t.scalar.name if quant else "float"] += 1
    return ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))


def _apply_quant_config(args, target, module: Module, table: Path | None,
                        scratch: Path) -> tuple[str | None, Path | None, object]:
    """--quant_config: its modes over --quantize_table's rows (the config wins) and its
    min/max over the calibration table, written into `scratch` for the passes."""
    from ..calibration.qtable import read_qtable, write_qtable
    from ..calibration.quant_config import adjust_table, merge_modes, read_quant_config, resolve
    from ..calibration.table import read_table, write_table

    config = read_quant_config(args.quant_config)
    resolved = resolve(config, module, target)
    qtable = args.quantize_table
    if resolved.modes:
        rows, shape = {}, []
        if qtable:
            given = read_qtable(qtable, known_names={op.loc for op in module.walk() if op.loc})
            rows = given.modes
            shape = [n for n in given.shape_layers if n not in resolved.modes]
        merged, changed = merge_modes(rows, resolved)
        if changed:
            _log(args, f"--quant_config {config.source} overrides --quantize_table {qtable} "
                       f"(the config wins) for {len(changed)} layer(s): {', '.join(changed)}")
        qtable = str(scratch / "quant_config_qtable")
        write_qtable(qtable, merged, shape)
    if resolved.ranges:
        if table is None:
            raise UsageError(f"{config.source}: min/max overrides need --calibration_table")
        adjusted = adjust_table(read_table(table), resolved)
        adjusted.mlir = adjusted.weights = None  # already followed by _source_path
        table = scratch / "quant_config_cali_table"
        write_table(table, adjusted)
    _log(args, f"--quant_config {config.source}: {len(resolved.modes)} layer mode(s), "
               f"{len(resolved.ranges)} range override(s)")
    return qtable, table, config


def main(argv: list[str]) -> int:
    args = build_arg_parser().parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="kiln_deploy_") as scratch:
        return _deploy(args, Path(scratch))


def _deploy(args, scratch: Path) -> int:
    from .. import dialects  # noqa: F401  (registers the ops)
    from ..codegen.kmodel import write_kmodel
    from ..compiler.module_io import read_module, write_module
    from ..compiler.target import load_target
    from ..compiler.verifier import verify_module

    start = time.perf_counter()
    mlir, table = _check_paths(args)
    target = load_target(args.processor)
    qtable = args.quantize_table
    if table is None and not args.quant_config and _needs_table(args, qtable):
        _no_table(args, f"--quantize_table {qtable}")
    source = _source_path(args, mlir, table)
    float_module = read_module(source)
    weights = float_module.weights.path if float_module.weights is not None else None
    _check_outputs(args, [mlir, source, weights, table] + [
        Path(f) if f else None
        for f in (args.quantize_table, args.test_input, args.test_reference, args.quant_config)])
    verify_module(float_module)
    config = None
    if args.quant_config:
        qtable, table, config = _apply_quant_config(args, target, float_module, table, scratch)
        if table is None and _needs_table(args, qtable):
            _no_table(args, f"--quant_config {args.quant_config}")
    module = read_module(source)
    recorder = None
    if args.save_quant_config:
        from ..calibration.quant_config import ModeRecorder

        recorder = ModeRecorder()
    _lower(args, module, target, table, qtable, [recorder] if recorder else [])
    model = Path(args.model)
    lowered = model.with_name(model.stem + "_npu.mlir")
    write_module(module, lowered)
    write_kmodel(module, model, target.name)
    _log(args, f"wrote {model} ({_summary(module)}) and {lowered}")
    if recorder is not None:
        from ..calibration.quant_config import config_of_modes, write_quant_config

        write_quant_config(args.save_quant_config, config_of_modes(recorder.modes, config))
        _log(args, f"wrote {args.save_quant_config} (every layer's mode; edit it and load it "
                   "back with --quant_config)")
    if args.export_onnx:
        from ..codegen.onnx_qdq import write_onnx_qdq

        write_onnx_qdq(module, args.export_onnx)
        _log(args, f"wrote {args.export_onnx} (QDQ ONNX for onnxruntime)")
    code = 0
    if args.test_input:
        from .deploy_check import check_model

        code = check_model(args, float_module, model, PROG)
    _log(args, f"done in {time.perf_counter() - start:.1f} s")
    return code


def _no_table(args, source: str) -> None:
    from ..calibration.qtable import normalize_mode
    from ..passes.lowering.scheme import mode_bits

    what = (f"--quantize {args.quantize}" if mode_bits(normalize_mode(args.quantize) or "F32")
            else source)
    raise UsageError(f"{what}: integer layers need --calibration_table (from run_calibration)")


def run(argv: list[str] | None = None) -> int:
    return run_tool(PROG, main, argv)


def entry() -> None:
    sys.exit(run())


if __name__ == "__main__":
    entry()

