"""`run_calibration NAME.mlir --dataset DIR -o NAME_cali_table`: activation ranges for
quantization, TPU-MLIR style.

    run_calibration NAME.mlir (--dataset DIR | --data_list FILE) [--input_num N]
        [-o NAME_cali_table] [--qtable NAME_qtable]
        [--cali_method percentile9999|kl|mse|max|aciq_gauss|aciq_laplace]
        [--histogram_bin_num 2048] [--score_branch max|method]
        [--search search_threshold] [--inference_num 30]
        [--tune_num N] [--we] [--weight_rounding output|nearest] [--weight_rounding_num 16] [--bc]
        [--bc_inference_num 30] [--input_rounding correct|keep] [--input_rounding_num 16]
        [--processor TARGET]
        [--seed 0] [--debug_log] [--quant_config CFG.json]

Every sample runs once through the float model in kiln's interpreter; each activation updates
its streamed statistics (exact min/max, moments, a 2048-bin histogram of |x|) and is dropped,
so memory does not grow with --input_num, and every method's threshold comes from that one
pass. The table rows are `name threshold min max`, keyed by the ONNX tensor names (locs).
Layers that compute shapes, indices or masks are found from the graph, never get a range,
and are listed in the qtable's shape-layers section. The layers that only compute a
detector's sigmoid class scores or a classifier's softmax logits (score branches, found from
the graph) keep their max |x| unless `--score_branch method`: their rare peaks are the answer.

Weights: by default (`--weight_rounding output`) each conv / matmul weight is rounded on the
target's grid to minimize its layer's output error on the float inputs of
--weight_rounding_num samples (calibration/weight_rounding.py); the new weights are written
beside the table (NAME_cali_table.mlir and its weights, which the table names and
model_deploy deploys), as with --we / --bc. `--weight_rounding nearest` leaves the IR alone.
Then (`--input_rounding correct`, the default) each conv / matmul the table's lowering makes
an integer layer with an 8-bit input gets that input's mean rounding error per channel on
--input_rounding_num samples (calibration/input_rounding.py), which model_deploy takes out of
the layer's bias when it lowers the layer with that same input type.

`--quant_config` (docs/quant-config.md) is checked against the model and the target; when its
`fake_quant` is "weights" or "activations", the int8 simulation with only that side
quantized (and the config's float layers, bit widths and min/max) is compared with float on
--inference_num samples and its output cosine logged next to the one of both sides, to tell
which side loses accuracy. The table itself does not depend on the config.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from ..compiler.fileio import atomic_write_text
from ..compiler.module_io import read_module, write_module
from ..compiler.verifier import verify_module
from ._cli import ArgParser, UsageError, run_tool

PROG = "run_calibration"
SEARCH_METHODS = ("kl", "mse", "max", "percentile9999", "aciq_gauss", "aciq_laplace")


def build_arg_parser() -> ArgParser:
    ap = ArgParser(prog=PROG, description=__doc__.split("\n")[0], allow_abbrev=False)
    ap.add_argument("mlir", help="the top-dialect IR written by model_transform")
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--dataset", help="folder of images, .npy/.npz, or one folder per sample")
    src.add_argument("--data_list", help="file listing one sample per line")
    ap.add_argument("--input_num", type=int, help="number of samples (default: all)")
    ap.add_argument("-o", "--output", dest="table",
                    help="calibration table (default: NAME_cali_table beside the IR)")
    ap.add_argument("--qtable", help="qtable with the shape layers (default: NAME_qtable)")
    ap.add_argument("--cali_method", default="percentile9999", choices=SEARCH_METHODS)
    ap.add_argument("--histogram_bin_num", type=int, default=2048)
    ap.add_argument("--score_branch", choices=["max", "method"], default="max",
                    help="thresholds of the layers that only compute a detector's sigmoid "
                         "class scores: max (keep their rare peaks, the detections; the "
                         "default) or method (the --cali_method threshold like every layer)")
    ap.add_argument("--search", choices=["search_threshold", "search_qtable"],
                    help="search_threshold: try every method, keep the best output cosine; "
                         "search_qtable: the fewest layers above INT8 reaching --expected_cos")
    ap.add_argument("--expected_cos", type=float, default=0.99,
                    help="search_qtable: output similarity to reach (default 0.99)")
    ap.add_argument("--max_float_layers", type=int, default=5,
                    help="search_qtable: at most this many layers above INT8 (default 5)")
    ap.add_argument("--quantize_method_list", default=None,
                    help="search_qtable: methods tried per sensitive layer, e.g. KL,MSE,MAX,"
                         "Percentile9999 (default: --cali_method only)")
    ap.add_argument("--fp_type", default="auto",
                    help="search_qtable: float type of mixed layers: auto|F16|BF16|F32")
    ap.add_argument("--mix_mode", default="auto",
                    help="search_qtable: auto (the target's widest integer mode first, then "
                         "--fp_type), or one mode: INT16, F16, ...")
    ap.add_argument("--post_process", help="python file defining PostProcess(outputs), "
                                           "applied to outputs before comparing")
    ap.add_argument("--global_compare_layers",
                    help="compare these layers instead of the outputs: a,b or a:0.3,b:0.7")
    ap.add_argument("--quantize_table",
                    help="search_qtable: the mixed qtable written (default NAME_mix_qtable)")
    ap.add_argument("--inference_num", type=int, default=30,
                    help="samples the search compares outputs on")
    ap.add_argument("--tune_num", type=int, help="same as --inference_num (TPU-MLIR name)")
    ap.add_argument("--we", action="store_true", help="cross-layer weight equalization")
    ap.add_argument("--weight_rounding", choices=("output", "nearest"), default="output",
                    help="output: conv / matmul weights rounded on the target's grid to "
                         "minimize each layer's output error on its float inputs (GPTQ-style; "
                         "writes new weights beside the table); nearest: model_deploy rounds "
                         "them to the nearest grid point")
    ap.add_argument("--weight_rounding_num", type=int, default=16,
                    help="samples whose layer inputs --weight_rounding output uses")
    ap.add_argument("--input_rounding", choices=("correct", "keep"), default="correct",
                    help="correct: each integer conv / matmul gets its 8-bit input's mean "
                         "rounding error per channel (measured on the table's lowering), which "
                         "model_deploy takes out of its bias (writes the IR beside the table); "
                         "keep: no correction")
    ap.add_argument("--input_rounding_num", type=int, default=16,
                    help="samples --input_rounding correct measures on")
    ap.add_argument("--bc", action="store_true", help="bias correction")
    ap.add_argument("--bc_inference_num", type=int, default=30)
    ap.add_argument("--processor", "--target", dest="processor", default="int8-sym",
                    help="target (compiler/targets/*.toml, or a .toml path): its default "
                         "activation bit width is what thresholds are computed for")
    ap.add_argument("--seed", type=int, default=0, help="sample choice")
    ap.add_argument("--debug_log", action="store_true",
                    help="write NAME_cali_table.log with every tensor's statistics")
    ap.add_argument("--quant_config",
                    help="JSON quant config (docs/quant-config.md); with fake_quant weights or "
                         "activations, log that simulation's output cosine")
    return ap


def _log(message: str) -> None:
    print(f"{PROG}: {message}", file=sys.stderr)


def _progress(iterable, total: int, desc: str):
    """A progress bar with rate and ETA on a terminal; silent otherwise."""
    from tqdm import tqdm

    return tqdm(iterable, total=total, desc=desc, unit="sample", disable=None, leave=False)


def collect_statistics(module, dataset, skip: set[str], bins: int):
    """One pass over the data: streamed statistics of every float activation."""
    from ..calibration.statistics import StatsCollector
    from ..compiler.interpreter import input_names, run_function

    func = module.main
    constant_locs = {op.loc for op in module.walk()
                     if op.name in ("top.weight", "top.constant", "top.none")}
    collector = StatsCollector(bins)

    def tap(loc: str, array) -> None:
        if loc not in skip and loc not in constant_locs and array.dtype.kind == "f":
            collector.update(loc, array)

    for sample in _progress(dataset, len(dataset), "calibration"):
        for name in input_names(func):
            tap(name, sample[name])
        run_function(func, sample, weights=module.weights, on_tensor=tap)
    return collector


def thresholds_for(collector, method: str, bits: int = 8) -> dict[str, float]:
    from ..calibration.thresholds import METHODS

    fn = METHODS[method]
    return {name: float(fn(collector[name], bits=bits)) for name in collector.names()}


def keep_score_peaks(func, collector, thresholds: dict[str, float], log=None) -> None:
    """Score-branch tensors keep their max |x| (calibration/score_branch.py says why)."""
    from ..calibration.score_branch import score_branch_layers

    kept = [n for n in score_branch_layers(func) if n in thresholds and collector[n].has_range]
    for name in kept:
        thresholds[name] = float(collector[name].absmax)
    if kept and log is not None:
        log(f"score branches: {len(kept)} tensor(s) keep their max |x| (from "
            f"{kept[0]} to {kept[-1]}; --score_branch method to give them the method's "
            "threshold)")


def build_table(collector, thresholds: dict[str, float], method: str, bins: int,
                samples: int):
    """The calibration table of these thresholds: one row per tensor that has a range."""
    from ..calibration.table import CalibrationTable

    table = CalibrationTable(method=method, histogram_bins=bins, samples=samples)
    for name in collector.names():
        stats = collector[name]
        if stats.has_range:
            table.add(name, thresholds[name], stats.min, stats.max)
    return table


def fake_quant_cosines(module, collector, thresholds: dict[str, float], resolved,
                       samples: list, bits: int = 8, processor: str = "int8-sym"
                       ) -> dict[str, float]:
    """Output cosine to float of the simulation with the config's side quantized and with
    both sides: float layers as in the config, its bit widths and its min/max over the
    table's ranges. Activations are rounded to the types model_deploy's lowering gives them
    for this table and config (simulate.lowered_activation_types), weights per channel."""
    from ..calibration.simulate import QuantSimulator, lowered_activation_types, output_cosine
    from ..compiler.interpreter import run_function
    from ..passes.lowering.scheme import mode_bits

    floats = [n for n, m in resolved.modes.items() if mode_bits(m) is None]
    table = build_table(collector, dict(thresholds), "config", 0, 0)
    for name, (lo, hi) in resolved.ranges.items():
        if name in table:
            e = table[name]
            table.add(name, e.threshold, e.min if lo is None else lo, e.max if hi is None else hi)
    types = lowered_activation_types(lower_with(module, table, processor, resolved.modes))
    reference = [run_function(module.main, s, weights=module.weights)[0] for s in samples]
    sides = dict.fromkeys([resolved.config.fake_quant or "both", "both"])
    out = {}
    for side in sides:
        sim = QuantSimulator(module, thresholds, bits=bits, fake_quant=side,
                             float_layers=floats, activation_types=types)
        out[side] = output_cosine(reference, [sim.run(s) for s in samples])
    return out


def lower_with(module, table, processor: str, modes, asymmetric: bool = False) -> object:
    """`module` (a copy of it) lowered as model_deploy lowers it with this table and modes.
    `module` is left as it was: writing the copy does not repoint its weights at the
    temporary folder (gone on return)."""
    import tempfile

    from ..calibration.mixed import Evaluator
    from ..compiler.module_io import WEIGHTS_ATTR
    from ..compiler.target import load_target

    store = module.weights
    kept = (store.path, store.dirty) if store is not None else None
    attr = module.attributes.get(WEIGHTS_ATTR)
    try:
        with tempfile.TemporaryDirectory(prefix="kiln-lower-") as tmp:
            mlir = Path(tmp) / "model.mlir"
            if store is not None:  # its own weights file: the module's may be a search's
                store.dirty = True  # temporary one, already gone
            write_module(module, mlir)
            lowered = Evaluator(mlir, load_target(processor), []).lower(
                table, dict(modes), asymmetric=asymmetric)
            lowered.weights.names()  # read while the file exists
            return lowered
    finally:
        if store is not None:
            store.path, store.dirty = kept
        if attr is None:
            module.attributes.pop(WEIGHTS_ATTR, None)
        else:
            module.attributes[WEIGHTS_ATTR] = attr


def _default_paths(args) -> tuple[Path, Path]:
    mlir = Path(args.mlir)
    stem = mlir.stem
    table = Path(args.table) if args.table else mlir.with_name(f"{stem}_cali_table")
    if args.qtable:
        qtable = Path(args.qtable)
    elif table.name.endswith("_cali_table"):
        qtable = table.with_name(table.name[: -len("_cali_table")] + "_qtable")
    else:
        qtable = table.with_name(table.name + "_qtable")
    return table, qtable


def _debug_log(path: Path, collector, tables: dict[str, dict[str, float]]) -> None:
    methods = list(tables)
    lines = ["# name count nonfinite min max mean std " + " ".join(methods)]
    def fmt(v):
        return "-" if v is None else f"{v:.6g}"

    for name in collector.names():
        s = collector[name]
        lines.append(" ".join([name, str(s.count), str(s.nonfinite_count), fmt(s.min),
                               fmt(s.max), fmt(s.mean), fmt(s.std)]
                              + [f"{tables[m][name]:.6g}" for m in methods]))
    atomic_write_text(path, "\n".join(lines) + "\n")


def main(argv: list[str]) -> int:
    args = build_arg_parser().parse_args(argv)
    from .. import dialects  # noqa: F401
    from ..calibration.exclusion import analyze_exact
    from ..calibration.qtable import write_qtable
    from ..calibration.table import write_table
    from ..compiler.target import load_target
    from ..data.dataset import load_dataset

    if args.histogram_bin_num < 16:
        raise UsageError("--histogram_bin_num must be at least 16")
    if args.input_num is not None and args.input_num < 1:
        raise UsageError("--input_num must be at least 1")
    for option in ("weight_rounding_num", "input_rounding_num"):
        if getattr(args, option) < 1:
            raise UsageError(f"--{option} must be at least 1")
    bits = load_target(args.processor).default_activation_bits
    table_path, qtable_path = _default_paths(args)
    if not Path(args.mlir).is_file():
        raise UsageError(f"{args.mlir}: no such file")
    module = read_module(args.mlir)
    verify_module(module)
    if args.search == "search_qtable":
        from ._search import check_search_args

        check_search_args(args, module)
    func = module.main
    resolved = None
    if args.quant_config:
        from ..calibration.quant_config import read_quant_config, resolve

        resolved = resolve(read_quant_config(args.quant_config), module,
                           load_target(args.processor))
    start = time.perf_counter()

    replacement = None
    if args.we:
        from ..calibration.equalize import equalize_weights
        pairs = equalize_weights(module)
        _log(f"weight equalization: {pairs} conv pair(s) equalized")
        replacement = pairs > 0

    analysis = analyze_exact(func, weights=module.weights)
    skip = set(analysis.tensors_without_range())
    dataset = load_dataset(func, dataset=args.dataset, data_list=args.data_list,
                           input_num=args.input_num, seed=args.seed)
    for line in [*dataset.warnings, *dataset.notes]:
        _log(line)
    if args.weight_rounding == "output":
        from ..calibration.weight_rounding import round_weights
        from ..passes.lowering.scheme import QScheme

        t0 = time.perf_counter()
        rounded = round_weights(module, dataset.take(args.weight_rounding_num),
                                QScheme.of(load_target(args.processor)), seed=args.seed)
        _log(f"weight rounding: {len(rounded)} layer(s) rounded on their inputs in "
             f"{time.perf_counter() - t0:.1f} s")
        replacement = replacement or bool(rounded)
    collector = collect_statistics(module, dataset, skip, args.histogram_bin_num)
    _log(f"statistics of {len(collector)} tensor(s) from {len(dataset)} sample(s) in "
         f"{time.perf_counter() - start:.1f} s")

    shape_layers = [loc for loc in analysis.shape_layers() if not any(c.isspace() for c in loc)]
    method = args.cali_method
    if args.search == "search_threshold":
        n = args.tune_num or args.inference_num
        samples = list(dataset.take(n))
        from ._search import run_search_threshold

        method, _ = run_search_threshold(args, module, collector, len(dataset), samples,
                                         shape_layers, bits, _log)
        _log(f"search_threshold: keeping {method}")
    thresholds = thresholds_for(collector, method, bits)
    if args.score_branch == "max":
        keep_score_peaks(func, collector, thresholds, _log)

    if args.bc:
        from ..calibration.bias_correction import correct_biases
        fixed = correct_biases(module, dataset.take(args.bc_inference_num))
        _log(f"bias correction: {len(fixed)} conv(s) corrected")
        replacement = replacement or bool(fixed)

    table = build_table(collector, thresholds, method, args.histogram_bin_num, len(dataset))
    if args.input_rounding == "correct":
        from ..calibration.input_rounding import measure_input_rounding

        t0 = time.perf_counter()
        modes = resolved.modes if resolved is not None else {}
        schemes = [False] + ([True] if load_target(args.processor).activation_symmetric
                             else [])  # and model_deploy --asymmetric's
        lowered = [lower_with(module, table, args.processor, modes, asym) for asym in schemes]
        measured = measure_input_rounding(module, lowered,
                                          dataset.take(args.input_rounding_num))
        _log(f"input rounding: {len(measured)} layer(s) get their input's mean rounding error "
             f"in {time.perf_counter() - t0:.1f} s")
        replacement = replacement or bool(measured)
    if replacement:
        from ..passes.dce import eliminate_dead_code
        eliminate_dead_code(func)
        new_mlir = table_path.with_name(table_path.name + ".mlir")
        # always beside it: a search may have written the module to a temporary folder,
        # which its weights would otherwise still point to
        module.weights.dirty = True
        write_module(module, new_mlir)
        table.mlir = new_mlir.name
        table.weights = new_mlir.with_name(new_mlir.stem + "_weights.npz").name
        _log(f"changed weights: wrote {new_mlir} (the table names it)")
    if args.search == "search_qtable":
        from ._search import run_search_qtable

        source = table_path.with_name(table.mlir) if table.mlir else Path(args.mlir)
        run_search_qtable(args, source, table, collector, dataset, shape_layers, bits, _log)
    write_table(table_path, table)
    if resolved is not None and resolved.config.fake_quant in ("weights", "activations"):
        samples = list(dataset.take(args.tune_num or args.inference_num))
        cos = fake_quant_cosines(module, collector, thresholds, resolved, samples, bits,
                                 args.processor)
        side = resolved.config.fake_quant
        _log(f"fake quant {side} only ({args.quant_config}): output cosine {cos[side]:.6f} "
             f"(both sides: {cos['both']:.6f}) on {len(samples)} sample(s)")
    write_qtable(qtable_path, {}, shape_layers)
    if args.debug_log:
        tables = {m: thresholds_for(collector, m, bits) for m in SEARCH_METHODS}
        _debug_log(table_path.with_name(table_path.name + ".log"), collector, tables)
    _log(f"wrote {table_path} ({len(table)} tensors, method {method}) and {qtable_path} "
         f"({len(analysis.shape_layers())} shape layer(s)) in {time.perf_counter() - start:.1f} s")
    return 0


def run(argv: list[str] | None = None) -> int:
    return run_tool(PROG, main, argv)


def entry() -> None:
    sys.exit(run())


if __name__ == "__main__":
    entry()
