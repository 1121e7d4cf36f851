"""The command-line side of the mixed-precision searches: samples, evaluators, post-process
functions, and the files they write (qtable, log with every layer's loss)."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path

from ..calibration.mixed import Evaluator, best_float_mode, parse_compare_layers, wide_int_mode
from ..calibration.qtable import normalize_mode, write_qtable
from ..calibration.search_qtable import SearchOutcome, parse_methods, search_qtable
from ..calibration.table import CalibrationTable
from ..compiler.fileio import atomic_write_text
from ..compiler.target import load_target
from ._cli import UsageError


def load_post_process(path: str | None) -> Callable | None:
    """`PostProcess` from the user's python file (TPU-MLIR's convention), or None."""
    if not path:
        return None
    file = Path(path)
    if not file.is_file():
        raise UsageError(f"--post_process {path}: no such file")
    spec = importlib.util.spec_from_file_location("kiln_user_post_process", file)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as e:  # the user's code: report it as theirs, with its message
        raise UsageError(f"--post_process {path}: failed to load: {type(e).__name__}: "
                         f"{e}") from None
    fn = getattr(module, "PostProcess", None)
    if not callable(fn):
        raise UsageError(f"--post_process {path}: defines no function PostProcess(outputs)")
    return fn


def mix_modes(args, target) -> list[str]:
    """The modes a searched layer may take, cheapest first."""
    if args.mix_mode.upper() != "AUTO":
        mode = normalize_mode(args.mix_mode)
        if mode is None or mode not in target.modes:
            raise UsageError(f"--mix_mode {args.mix_mode}: target {target.name} allows "
                             f"{', '.join(target.modes)}")
        return [mode]
    try:
        modes = [wide_int_mode(target), best_float_mode(target, args.fp_type)]
    except ValueError as e:
        raise UsageError(str(e)) from None
    return [m for m in modes if m]


def _compare_options(args, shape_layers) -> dict:
    """The Evaluator options every search takes from the command line."""
    try:
        compare = parse_compare_layers(args.global_compare_layers)
    except ValueError as e:
        raise UsageError(str(e)) from None
    return dict(post_process=load_post_process(args.post_process), compare_layers=compare,
                shape_layers=shape_layers)


def evaluators(args, mlir: Path, target, dataset, shape_layers, tune_default: int = 5):
    common = _compare_options(args, shape_layers)
    samples = list(dataset.take(args.inference_num))
    n_tune = args.tune_num or min(tune_default, len(samples))
    ev = Evaluator(mlir, target, samples, **common)
    tune = Evaluator(mlir, target, samples[:n_tune], **common)
    return ev, tune


def write_search_outputs(qtable: Path, outcome: SearchOutcome, shape_layers, header: str
                         ) -> Path:
    write_qtable(qtable, outcome.modes, shape_layers)
    log = qtable.with_name(qtable.name + ".log")
    lines = [header, *outcome.log, "", "# every quantized layer, worst first",
             "# rank layer op cosine loss method"]
    lines += [f"{i} {r.name} {r.op} {r.cosine:.6f} {r.loss:.6f} {r.method or '-'}"
              for i, r in enumerate(outcome.losses)]
    atomic_write_text(log, "\n".join(lines) + "\n")
    return log


def check_search_args(args, module) -> None:
    """Every search option checked before the (long) statistics pass."""
    target = load_target(args.processor)
    if not 0 < args.expected_cos <= 1:
        raise UsageError("--expected_cos must be in (0, 1]")
    if args.max_float_layers < 1:
        raise UsageError("--max_float_layers must be at least 1")
    try:
        parse_methods(args.quantize_method_list or args.cali_method)
        compare = parse_compare_layers(args.global_compare_layers)
    except ValueError as e:
        raise UsageError(str(e)) from None
    if compare:
        from ..compiler.interpreter import output_names

        known = {op.loc for op in module.walk() if op.loc} | set(output_names(module.main))
        missing = [n for n in compare if n not in known]
        if missing:
            raise UsageError(f"--global_compare_layers: no layer named {', '.join(missing)}")
    mix_modes(args, target)
    load_post_process(args.post_process)


def run_search_qtable(args, mlir: Path, table: CalibrationTable, collector, dataset,
                      shape_layers, bits: int, log) -> None:
    from .run_calibration import thresholds_for

    target = load_target(args.processor)
    methods = parse_methods(args.quantize_method_list or args.cali_method)
    method_tables = {m: thresholds_for(collector, m, bits) for m in methods}
    modes = mix_modes(args, target)
    ev, tune = evaluators(args, mlir, target, dataset, shape_layers)
    log(f"search_qtable: {len(ev.samples)} inference and {len(tune.samples)} tune "
        f"sample(s), methods {', '.join(methods)}, mixed modes {', '.join(modes)}")
    outcome = search_qtable(ev, tune, table, method_tables, expected_cos=args.expected_cos,
                            max_float_layers=args.max_float_layers, mix_modes=modes,
                            log=lambda s: log(f"search_qtable: {s}"))
    mlir_path = Path(args.mlir)
    qtable = Path(args.quantize_table) if args.quantize_table else \
        mlir_path.with_name(f"{mlir_path.stem}_mix_qtable")
    path = write_search_outputs(qtable, outcome, shape_layers,
                                f"# search_qtable on {target.name}, expected_cos "
                                f"{args.expected_cos}")
    log(f"search_qtable: int8 outputs_cos {outcome.int8_cos:.6f}, mix model outputs_cos "
        f"{outcome.mixed_cos:.6f}, {len(outcome.modes)} layer(s) above INT8; wrote {qtable} "
        f"and {path} in {outcome.seconds:.1f} s")


def run_search_threshold(args, module, collector, n_calibration: int, samples: list,
                         shape_layers, bits: int, log) -> tuple[str, dict[str, float]]:
    """search_threshold: each method's table, with the score branches as the written table
    will have them, lowered for the target as model_deploy lowers it and run by the integer
    interpreter on `samples`; the method of the best output similarity (post-processed and
    compare layers as for search_qtable) is kept. Judged on the device model, not on a
    float simulation: on PP-OCR's direction classifier (30 samples) the symmetric float
    simulation, without the score-branch maxima, scored kl 0.659 where its device model
    gives 0.9967."""
    import tempfile

    from ..compiler.module_io import write_module
    from .run_calibration import SEARCH_METHODS, build_table, keep_score_peaks, thresholds_for

    target = load_target(args.processor)
    common = _compare_options(args, shape_layers)
    scores: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="kiln-search-") as tmp:
        mlir = Path(tmp) / "model.mlir"   # the module as it is now (--we may have changed it)
        write_module(module, mlir)
        ev = Evaluator(mlir, target, samples, **common)
        for method in SEARCH_METHODS:
            thresholds = thresholds_for(collector, method, bits)
            if args.score_branch == "max":
                keep_score_peaks(module.main, collector, thresholds)
            table = build_table(collector, thresholds, method, args.histogram_bin_num,
                                n_calibration)
            scores[method] = ev.score(table, {})
            log(f"search_threshold: {method:15s} output cosine {scores[method]:.6f} "
                f"({target.name}, {len(samples)} sample(s))")
    best = max(SEARCH_METHODS, key=lambda m: (scores[m], -SEARCH_METHODS.index(m)))
    return best, scores
