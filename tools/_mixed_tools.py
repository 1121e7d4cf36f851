"""What run_qtable and run_sensitive_layer share: their command line (TPU-MLIR's) and the
run around calibration/sensitivity.py."""

from __future__ import annotations

import time
from pathlib import Path

from ..calibration.mixed import best_float_mode
from ..calibration.search_qtable import parse_methods
from ..calibration.table import read_table, write_table
from ..compiler.fileio import atomic_write_text
from ..compiler.target import load_target
from ._cli import ArgParser, UsageError, run_tool, table_source
from ._search import evaluators, load_post_process, mix_modes


def build_parser(prog: str, description: str, sensitive: bool) -> ArgParser:
    ap = ArgParser(prog=prog, description=description, allow_abbrev=False)
    ap.add_argument("mlir", help="the float IR written by model_transform")
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--dataset", help="folder of images, .npy/.npz, or one folder per sample")
    src.add_argument("--data_list", help="file listing one sample per line")
    ap.add_argument("--calibration_table", required=True, help="run_calibration's table")
    ap.add_argument("--processor", default="int8-sym", help="target")
    ap.add_argument("--fp_type", default="auto", help="auto|F16|BF16|F32")
    ap.add_argument("--mix_mode", default="auto",
                    help="auto (--fp_type, as TPU-MLIR) or a mode: INT16, F16, ...")
    ap.add_argument("--input_num", type=int, default=10, help="samples read (default 10)")
    ap.add_argument("--inference_num", type=int, default=10,
                    help="samples the outputs are compared on (default 10)")
    ap.add_argument("--tune_num", type=int, help="samples for per-layer figures (default 5)")
    ap.add_argument("--expected_cos", type=float, default=0.99)
    ap.add_argument("--post_process", help="python file defining PostProcess(outputs)")
    ap.add_argument("--global_compare_layers", help="a,b or a:0.3,b:0.7")
    ap.add_argument("-o", "--output", required=True, help="the qtable written")
    ap.add_argument("--seed", type=int, default=0)
    if sensitive:
        ap.add_argument("--max_float_layers", type=int, default=5)
        ap.add_argument("--quantize_method_list", default="KL,MSE,MAX,Percentile9999")
        ap.add_argument("--candidates", type=int, default=20,
                        help="layers measured one by one (the worst of the cheap ranking)")
        ap.add_argument("--histogram_bin_num", type=int, default=2048)
    else:
        ap.add_argument("--min_layer_cos", type=float, default=0.99)
        ap.add_argument("--max_float_layers", type=int, default=50)
        ap.add_argument("--loss_table", default="full_loss_table.txt",
                        help="every layer's cosine, worst first (default full_loss_table.txt "
                             "beside the qtable)")
    return ap


def run(args, prog: str, sensitive: bool, log) -> int:
    from .. import dialects  # noqa: F401
    from ..calibration.exclusion import analyze_exact
    from ..calibration.qtable import write_qtable
    from ..compiler.module_io import read_module
    from ..data.dataset import load_dataset
    from .run_calibration import collect_statistics, thresholds_for

    start = time.perf_counter()
    mlir = Path(args.mlir)
    if not mlir.is_file():
        raise UsageError(f"{mlir}: no such file")
    if not 0 < args.expected_cos <= 1:
        raise UsageError("--expected_cos must be in (0, 1]")
    target = load_target(args.processor)
    source = table_source(Path(args.calibration_table), mlir)
    module = read_module(mlir)
    names = {op.loc for op in module.walk() if op.loc} | {a.name_hint for a in
                                                          module.main.arguments}
    table = read_table(args.calibration_table, known_names=names)
    mode = mix_modes(args, target)[-1] if args.mix_mode.upper() == "AUTO" else \
        mix_modes(args, target)[0]
    load_post_process(args.post_process)
    if sensitive:
        try:
            methods = parse_methods(args.quantize_method_list)
        except ValueError as e:
            raise UsageError(str(e)) from None
    if source != mlir:  # the table's rounded (or changed) weights: what model_deploy deploys
        log(f"{prog}: {args.calibration_table} was made on {source}: searching on that IR")
        mlir, module = source, read_module(source)
    analysis = analyze_exact(module.main, weights=module.weights)
    shape = [n for n in analysis.shape_layers() if not any(c.isspace() for c in n)]
    dataset = load_dataset(module.main, dataset=args.dataset, data_list=args.data_list,
                           input_num=max(args.input_num, args.inference_num), seed=args.seed)
    ev, tune = evaluators(args, mlir, target, dataset, shape)
    say = lambda s: log(f"{prog}: {s}")  # noqa: E731
    from ..calibration import sensitivity

    if sensitive:
        collector = collect_statistics(module, dataset, set(analysis.tensors_without_range()),
                                       args.histogram_bin_num)
        tables = {m: thresholds_for(collector, m, target.default_activation_bits)
                  for m in methods}
        out = sensitivity.run_sensitive_layer(
            ev, tune, table, tables, mode=mode, float_mode=best_float_mode(target, "auto"),
            max_float_layers=args.max_float_layers, candidates=args.candidates, log=say)
        new_table = Path(args.output).with_name("new_cali_table.txt")
        write_table(new_table, out.table)
        extra = f" and {new_table} (each layer's best threshold)"
    else:
        out = sensitivity.run_qtable(ev, tune, table, mode=mode,
                                     min_layer_cos=args.min_layer_cos,
                                     expected_cos=args.expected_cos,
                                     max_layers=args.max_float_layers, log=say)
        loss = Path(args.output).with_name(args.loss_table)
        rows = [f"# platform: {target.name} mix_mode: {mode}", "###"]
        rows += [f"No.{i} : Layer: {r.name} Cos: {r.cosine:.6f}"
                 for i, r in enumerate(out.losses)]
        atomic_write_text(loss, "\n".join(rows) + "\n")
        extra = f" and {loss}"
    write_qtable(args.output, out.modes, shape)
    atomic_write_text(Path(args.output).with_name(Path(args.output).name + ".log"),
                      "\n".join(out.log) + "\n")
    log(f"{prog}: int8 outputs_cos {out.int8_cos:.6f}, mix model outputs_cos "
        f"{out.mixed_cos:.6f}; wrote {args.output}{extra} in "
        f"{time.perf_counter() - start:.1f} s")
    return 0


def tool(prog: str, doc: str, sensitive: bool):
    """(main, run, entry) of one of the two tools, as every kiln tool has them."""
    import sys

    def log(message: str) -> None:
        print(message, file=sys.stderr)

    def main(argv: list[str]) -> int:
        return run(build_parser(prog, doc.split("\n")[0], sensitive).parse_args(argv),
                   prog, sensitive, log)

    def run_(argv: list[str] | None = None) -> int:
        return run_tool(prog, main, argv)

    def entry() -> None:
        sys.exit(run_())

    return main, run_, entry
