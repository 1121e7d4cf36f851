"""INT8 accuracy on real models: kiln's INT8 lowering against onnxruntime's quantize_static,
judged against the float model by output cosine and by what each model's output is for.

    python bench/accuracy.py [--models yolov8n,ppocr_det,ppocr_cls] [--calib 100] [--eval 150]
        [--yolo-eval 300] [--cls-eval 1000]
        [--json out.json] [--det-size 448] [--act-types QInt8,QUInt8] [--kiln-methods kl,max]
        [--hist-budget-mib 6144] [--threads 1] [--work DIR] [--seed 0]

Per model, everyone calibrates on the same images (kiln reads them as PNGs, onnxruntime as the
same preprocessed arrays) and is evaluated on the same preprocessed arrays. Rows:
- float: onnxruntime on the original model (the reference);
- onnxruntime quantize_static QDQ (after its quant_pre_process), per-channel QInt8 weights,
  QInt8 / QUInt8 activations, and QInt8 with the output nodes left float ("f32-out", as kiln
  keeps its outputs f32) with affine activations (onnxruntime's default) and with symmetric
  ones ("sym": zero point 0, the scheme of kiln's default target int8-sym), for MinMax /
  Entropy / Percentile with default options otherwise. A method
  calibrates once; its other rows reuse the ranges (calibration cache). Entropy and
  Percentile keep every intermediate tensor of every sample in memory, so they calibrate on
  the first images that fit --hist-budget-mib (printed);
- kiln INT8: model_transform, run_calibration (default method), model_deploy (`kiln_int8`),
  the lowered IR run in kiln's interpreter.
Task figures: yolov8n (nudenet's detector of faces and body parts, calibrated and judged on
bench/photos.py people_scenes: photos of people, LFW face mosaics and other photos)
detections against float's (class-wise NMS 0.45, same class and IoU >=
0.5, F1 over the eval set) at confidence 0.25 and 0.1; ppocr_det text-mask IoU with float at
0.3 on rendered text scenes; ppocr_cls accuracy on rendered lines of known direction, and
agreement with float. The summary sets kiln's default INT8 against onnxruntime's best row
and against its best symmetric row, each with the paired difference of per-sample cosines
(mean and standard error: the two models see the same samples) and, for the classifier,
McNemar's counts of lines only one of them agrees with float on. Progress goes to stderr;
tables and summary to stdout.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from ort_quant import ort_prepare, ort_quantize, run_ort  # noqa: E402
from photos import people_scenes, photo_crops, save_crops  # noqa: E402
from realmodels import real_model  # noqa: E402
from tasks import (  # noqa: E402
    DetectionScore,
    agreement,
    cosine,
    detect,
    discordant,
    mask_iou,
    orientation_accuracy,
    paired_difference,
    paired_f1_difference,
)
from textlines import text_lines, text_scenes  # noqa: E402

_START = time.perf_counter()
ORT_METHODS = ("MinMax", "Entropy", "Percentile")
HIST_METHODS = ("Entropy", "Percentile")
YOLO_CONFS = (0.25, 0.1)


@dataclass(frozen=True)
class Spec:
    """A model's input: name, size, and preprocessing (x - mean) * scale on RGB pixels."""

    input: str
    height: int
    width: int
    mean: tuple[float, float, float]
    scale: tuple[float, float, float]


def specs(det_size: int) -> dict[str, Spec]:
    return {
        "yolov8n": Spec("images", 320, 320, (0.0, 0.0, 0.0), (1 / 255,) * 3),
        "ppocr_det": Spec("x", det_size, det_size, (123.675, 116.28, 103.53),
                          (1 / 58.395, 1 / 57.12, 1 / 57.375)),
        "ppocr_cls": Spec("x", 48, 192, (127.5,) * 3, (1 / 127.5,) * 3),
    }


def log(message: str) -> None:
    print(f"[{time.perf_counter() - _START:7.1f}s] {message}", file=sys.stderr, flush=True)


def preprocess(image: np.ndarray, spec: Spec) -> np.ndarray:
    """An H x W x 3 uint8 RGB image as the model's 1 x 3 x H x W float32 input."""
    x = image.astype(np.float32).transpose(2, 0, 1)[None]
    mean = np.asarray(spec.mean, np.float32).reshape(1, 3, 1, 1)
    scale = np.asarray(spec.scale, np.float32).reshape(1, 3, 1, 1)
    return ((x - mean) * scale).astype(np.float32)


def images_for(name: str, spec: Spec, n_calib: int, n_eval: int, seed: int):
    """(calibration images, eval images, eval labels or None); eval uses other seeds."""
    size = spec.height
    if name == "yolov8n":
        return people_scenes(n_calib, size, seed), people_scenes(n_eval, size, seed + 1), None
    if name == "ppocr_det":
        def scenes(n: int, s: int) -> list[np.ndarray]:
            return text_scenes(n, size, s, backgrounds=photo_crops((n + 1) // 2, size, s + 2))
        return scenes(n_calib, seed), scenes(n_eval, seed + 1), None
    backgrounds = photo_crops(16, 256, seed + 2)
    calib, _ = text_lines(n_calib, seed, spec.height, spec.width, backgrounds)
    evals, labels = text_lines(n_eval, seed + 1, spec.height, spec.width, backgrounds)
    return calib, evals, labels


def limit_threads(threads: int) -> None:
    """Hold numpy's BLAS (kiln's interpreter) and onnxruntime's sessions to `threads`: fair
    timings, and on a shared machine OpenBLAS's spinning threads made kiln 3 to 5 times slower
    than one thread."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=threads, user_api="blas")


# -- kiln ---------------------------------------------------------------------------------------

def _tool(run, argv: list[str], what: str) -> None:
    with contextlib.redirect_stdout(sys.stderr):
        code = run([str(a) for a in argv])
    if code != 0:
        raise SystemExit(f"{what} failed with exit code {code}")


def kiln_transform(name: str, onnx_path: Path, spec: Spec, work: Path) -> Path:
    """model_transform with the input's preprocessing recorded in the IR."""
    from kiln.tools import model_transform

    mlir = work / f"{name}.mlir"
    _tool(model_transform.run, [
        "--model_name", name, "--model_def", onnx_path,
        "--input_shapes", f"[[1,3,{spec.height},{spec.width}]]",
        "--mean", ",".join(repr(v) for v in spec.mean),
        "--scale", ",".join(repr(v) for v in spec.scale),
        "--pixel_format", "rgb", "--mlir", mlir], "model_transform")
    return mlir


def kiln_calibrate(mlir: Path, folder: Path, n: int, method: str | None) -> tuple[Path, Path]:
    """run_calibration on the PNGs (its default method when `method` is None): the
    calibration table and the qtable beside it."""
    from kiln.tools import run_calibration

    stem = mlir.with_name(f"{mlir.stem}_{method or 'default'}")
    table = stem.with_name(stem.name + "_cali_table")
    _tool(run_calibration.run, [mlir, "--dataset", folder, "--input_num", n, "-o", table]
          + (["--cali_method", method] if method else []), "run_calibration")
    return table, stem.with_name(stem.name + "_qtable")


def kiln_int8(mlir: Path, table: Path, qtable: Path, extra: tuple[str, ...] = (),
              export_onnx: Path | None = None):
    """The int8-sym device model, as model_deploy lowers it (beside the .kmodel it writes the
    lowered IR, which kiln's interpreter runs bit-identically to the device model); with
    `export_onnx`, model_deploy also writes the QDQ export there."""
    from kiln import dialects  # noqa: F401  (registers the ops)
    from kiln.compiler.module_io import read_module
    from kiln.tools import model_deploy

    tag = "".join(f"_{e.strip('-')}" for e in extra)
    model = table.with_name(table.name.removesuffix("_cali_table") + f"_int8{tag}.kmodel")
    _tool(model_deploy.run, ["--mlir", mlir, "--quantize", "INT8", "--calibration_table", table,
                             "--model", model, "--quiet", *extra]
          + (["--quantize_table", qtable] if qtable.exists() else [])
          + (["--export_onnx", export_onnx] if export_onnx else []), "model_deploy")
    return read_module(model.with_name(model.stem + "_npu.mlir"))


def _table_method(table: Path) -> str:
    from kiln.calibration.table import read_table

    return read_table(table).method


def run_kiln(module, input_name: str, arrays: list[np.ndarray]
             ) -> tuple[list[np.ndarray], float]:
    from kiln.compiler.interpreter import run_module

    t0 = time.perf_counter()
    outs = [next(iter(run_module(module, {input_name: a}).values())) for a in arrays]
    return outs, 1000 * (time.perf_counter() - t0) / max(1, len(arrays))


def layer_fidelity(mlir: Path, low, input_name: str, x: np.ndarray) -> list[dict]:
    """Where kiln's INT8 loses accuracy on one input: each layer of the lowered module whose
    (dequantized) result can be compared with the float IR's tensor of the same name, with its
    cosine, the cosine of its least faithful input (so a layer is blamed for what it loses, not
    what it inherits) and both |max| (a kiln |max| well below float's is a clipping range).
    Casts and requantizations (`<loc>_quantize`, `_requant`, ...) compare with `<loc>`.
    `table_input` marks values only tables (npu.lut) read: the lowering may clip them where
    the table's function saturates, which loses nothing downstream."""
    from kiln import dialects  # noqa: F401
    from kiln.compiler.interpreter import run_function, run_module
    from kiln.compiler.module_io import read_module
    from kiln.compiler.types import TensorType, UniformType

    ref = run_module(read_module(mlir), {input_name: x}, keep_all=True)
    _, got = run_function(low.main, {input_name: x}, weights=low.weights, keep_all=True)
    cos_of: dict[int, float] = {}
    rows = []
    for op in low.walk():
        if not op.results or op.loc not in got or op.name in ("top.weight", "top.constant"):
            continue
        name = op.loc if op.loc in ref else op.loc.rsplit("_", 1)[0]
        value, t = got[op.loc], op.result.type
        if name not in ref or value.shape != ref[name].shape:
            continue
        if value.dtype.kind in "iu" and isinstance(t, TensorType) \
                and isinstance(t.element, UniformType):
            value = (value.astype(np.float64) - (t.element.zero_point or 0)) * t.element.scale
        cos = cosine(ref[name], value)
        cos_of[id(op.result)] = cos
        inputs = [cos_of[id(v)] for v in op.operands if id(v) in cos_of]
        users = op.result.users
        rows.append({"loc": op.loc, "op": op.name, "in_cos": min(inputs, default=1.0),
                     "cos": cos, "ref_absmax": float(np.abs(ref[name]).max()),
                     "got_absmax": float(np.abs(value).max()),
                     "table_input": bool(users) and all(u.name == "npu.lut" for u in users)})
    return rows


# -- figures ------------------------------------------------------------------------------------

def figures(name: str, ref: list[np.ndarray], outs: list[np.ndarray],
            labels: np.ndarray | None, scores: dict | None = None) -> dict[str, float]:
    """The row's figures; `scores` (when given) receives the per-sample cosines ("cos") and
    the detector's DetectionScore per confidence ("F1@0.25": score), for paired comparisons."""
    cos = [cosine(r, o) for r, o in zip(ref, outs)]
    if scores is not None:
        scores["cos"] = np.array(cos)
    fig = {"cos_mean": float(np.mean(cos)), "cos_min": float(np.min(cos))}
    if name == "yolov8n":
        for conf in YOLO_CONFS:
            score = DetectionScore(iou=0.5)
            for r, o in zip(ref, outs):
                score.add(detect(r, conf, 0.45), detect(o, conf, 0.45))
            if scores is not None:
                scores[f"F1@{conf}"] = score
            fig |= {f"F1@{conf}": score.f1, f"P@{conf}": score.precision,
                    f"R@{conf}": score.recall, f"dets@{conf}": float(score.n_got)}
    elif name == "ppocr_det":
        ious = [mask_iou(r, o, 0.3) for r, o in zip(ref, outs)]
        fig |= {"mIoU": float(np.mean(ious)), "minIoU": float(np.min(ious)),
                "text%": 100 * float(np.mean([np.mean(o > 0.3) for o in outs]))}
    else:
        probs = np.concatenate([o.reshape(1, -1) for o in outs])
        ref_probs = np.concatenate([r.reshape(1, -1) for r in ref])
        fig |= {"acc": orientation_accuracy(probs, labels), "agree": agreement(ref_probs, probs)}
    return fig


def primary_figure(name: str, float_row: dict, n_eval: int) -> str:
    """The task figure the summary compares on. yolov8n: F1 at 0.25, or at 0.1 when float finds
    fewer than one object per image at 0.25 on these photos."""
    if name == "yolov8n":
        return "F1@0.25" if float_row["dets@0.25"] >= n_eval else "F1@0.1"
    return {"ppocr_det": "mIoU", "ppocr_cls": "acc"}[name]


def render(name: str, rows: list[dict]) -> str:
    keys = [k for k in rows[0] if k not in ("method", "prep_s", "infer_ms")]
    head = f"{'method':40s}" + "".join(f"{k:>10s}" for k in keys) + f"{'prep s':>9s}{'ms/img':>9s}"
    lines = [f"== {name} ==", head, "-" * len(head)]
    for r in rows:
        cells = "".join(f"{r[k]:10.0f}" if k.startswith("dets") else f"{r[k]:10.4f}"
                        for k in keys)
        lines.append(f"{r['method']:40s}{cells}{r['prep_s']:9.1f}{r['infer_ms']:9.1f}")
    return "\n".join(lines)


# -- one model ----------------------------------------------------------------------------------

def bench_model(name: str, spec: Spec, args, work: Path) -> dict:
    work.mkdir(parents=True, exist_ok=True)
    onnx_path = real_model(name)
    n_eval = {"ppocr_cls": args.cls_eval, "yolov8n": args.yolo_eval}.get(name, args.eval)
    log(f"{name}: rendering {args.calib} calibration and {n_eval} eval images")
    calib_imgs, eval_imgs, labels = images_for(name, spec, args.calib, n_eval, args.seed)
    folder = work / "calib"
    save_crops(calib_imgs, folder)
    calib = [preprocess(im, spec) for im in calib_imgs]
    evals = [preprocess(im, spec) for im in eval_imgs]
    notes: list[str] = []

    rows: list[dict] = []
    per_sample: dict[str, dict] = {}  # row -> per-sample cosines (and classes), for verdict

    def add_row(label: str, outs: list[np.ndarray], prep: float, ms: float) -> None:
        scores: dict = {}
        rows.append({"method": label, **figures(name, ref, outs, labels, scores),
                     "prep_s": prep, "infer_ms": ms})
        per_sample[label] = {"cos": scores.pop("cos"),
                             "probs": np.stack(outs) if name == "ppocr_cls" else None,
                             "detections": scores}

    ref, ms = run_ort(onnx_path, evals, args.threads)
    add_row("float (onnxruntime)", ref, 0.0, ms)
    log(f"{name}: float done ({ms:.1f} ms/img)")

    t0 = time.perf_counter()
    pre, mib = ort_prepare(onnx_path, (1, 3, spec.height, spec.width), work)
    pre_s = time.perf_counter() - t0
    n_hist = max(1, min(len(calib), int(args.hist_budget_mib // max(mib, 1e-6))))
    if n_hist < len(calib):
        notes.append(f"onnxruntime Entropy/Percentile calibrate on the first {n_hist} of the "
                     f"{len(calib)} images ({mib:.0f} MiB of tensors per image kept in memory, "
                     f"budget {args.hist_budget_mib} MiB)")
    for method in ORT_METHODS:
        (work / f"ort_{method}_ranges.json").unlink(missing_ok=True)  # a --work reused
        subset = calib[:n_hist] if method in HIST_METHODS else calib
        variants = [(a, False, False) for a in args.act_types] + \
            [(args.act_types[0], True, False), ("QInt8", True, True)]
        for act, f32out, sym in variants:
            t0 = time.perf_counter()
            label = f"ort {method} {act}{' sym' if sym else ''}{' f32-out' if f32out else ''}"
            log(f"{name}: {label} (calibration on {len(subset)} images)")
            qpath = ort_quantize(pre, subset, spec.input, method, act, work, f32out, sym)
            prep = pre_s + time.perf_counter() - t0
            outs, ms = run_ort(qpath, evals, args.threads)
            add_row(label, outs, prep, ms)

    t0 = time.perf_counter()
    mlir = kiln_transform(name, onnx_path, spec, work)
    transform_s = time.perf_counter() - t0
    lossy, clipped, worst = [], [], 0
    for i, method in enumerate(args.kiln_methods):
        t0 = time.perf_counter()
        log(f"{name}: kiln run_calibration ({method or 'default method'}) on {len(calib)} "
            f"images")
        table, qtable = kiln_calibrate(mlir, folder, len(calib), method)
        low = kiln_int8(mlir, table, qtable)
        prep = transform_s + time.perf_counter() - t0
        log(f"{name}: kiln INT8 on {len(evals)} eval images")
        outs, ms = run_kiln(low, spec.input, evals)
        add_row(f"kiln INT8 ({method or _table_method(table)})", outs, prep, ms)
        if i == 0 and args.kiln_asymmetric:
            t1 = time.perf_counter()
            outs_a, ms_a = run_kiln(kiln_int8(mlir, table, qtable, ("--asymmetric",)),
                                    spec.input, evals)
            add_row(f"kiln INT8 --asymmetric ({method or _table_method(table)})", outs_a,
                    prep + time.perf_counter() - t1, ms_a)
        if i == 0:
            worst = int(np.argmin([cosine(r, o) for r, o in zip(ref, outs)]))
            layers = [r for r in layer_fidelity(mlir, low, spec.input, evals[worst])
                      if not r["table_input"] and r["op"] != "npu.cast"]
            lossy = sorted(layers, key=lambda r: r["cos"] - r["in_cos"])[:8]
            clipped = sorted(layers, key=lambda r: r["got_absmax"] / max(r["ref_absmax"],
                                                                          1e-12))[:5]
    return {"rows": rows, "notes": notes, "hist_calib": n_hist, "per_sample": per_sample,
            "primary": primary_figure(name, rows[0], len(evals)),
            "kiln_lossy_layers": lossy, "kiln_clipped_layers": clipped,
            "kiln_lossy_image": worst}


def verdict(name: str, result: dict) -> dict:
    """kiln's default INT8 row against onnxruntime's best row on the model's task figure, and
    against the best of the rows with symmetric activations (zero point 0, the scheme of
    kiln's default target). With each: the paired difference of the per-sample cosines
    (kiln minus onnxruntime, mean and standard error) and, for the classifier, McNemar's
    counts of the lines on which only one of the two agrees with float."""
    key = result["primary"]
    ort_rows = [r for r in result["rows"] if r["method"].startswith("ort ")]
    kiln = next(r for r in result["rows"] if r["method"].startswith("kiln "))
    per_sample = result["per_sample"]

    def against(rows: list[dict]) -> dict:
        best = max(rows, key=lambda r: (r[key], r["cos_mean"]))
        mine, theirs = per_sample[kiln["method"]], per_sample[best["method"]]
        mean, se = paired_difference(mine["cos"], theirs["cos"])
        out = {"method": best["method"], "value": best[key], "kiln_ge": kiln[key] >= best[key],
               "cos_diff": mean, "cos_diff_se": se}
        for conf, score in mine["detections"].items():
            out[f"{conf}_diff"], out[f"{conf}_diff_se"] = paired_f1_difference(
                score, theirs["detections"][conf])
        if mine["probs"] is not None:
            out["only_kiln_agrees"], out["only_ort_agrees"] = discordant(
                per_sample["float (onnxruntime)"]["probs"], mine["probs"], theirs["probs"])
        return out

    best = against(ort_rows)
    return {"figure": key, "kiln": kiln[key], "ort_best": best["method"],
            "ort_best_value": best["value"], "kiln_ge_ort_best": best["kiln_ge"],
            "kiln_cos_mean": kiln["cos_mean"],
            "ort_best_cos_mean": max(r["cos_mean"] for r in ort_rows),
            "kiln_cos_ge_ort_best": kiln["cos_mean"] >= max(r["cos_mean"] for r in ort_rows),
            "paired": best,
            "symmetric": against([r for r in ort_rows if " sym" in r["method"]])}


def _paired_line(v: dict) -> str:
    line = (f"per-sample cosine kiln - {v['method']}: {v['cos_diff']:+.5f} "
            f"(standard error {v['cos_diff_se']:.5f})")
    for conf in YOLO_CONFS:
        if f"F1@{conf}_diff" in v:
            line += (f"; F1@{conf} kiln - onnxruntime {v[f'F1@{conf}_diff']:+.4f} (bootstrap "
                     f"standard error {v[f'F1@{conf}_diff_se']:.4f})")
    if "only_kiln_agrees" in v:
        line += (f"; lines only kiln / only onnxruntime agree with float on: "
                 f"{v['only_kiln_agrees']} / {v['only_ort_agrees']}")
    return line


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", default="yolov8n,ppocr_det,ppocr_cls")
    ap.add_argument("--calib", type=int, default=100, help="calibration images")
    ap.add_argument("--eval", type=int, default=150, help="evaluation images of ppocr_det")
    ap.add_argument("--yolo-eval", type=int, default=300,
                    help="evaluation pictures of yolov8n (bench/photos.py people_scenes: 300 "
                         "hold about 380 float detections at 0.25, each flip 0.3%% of F1; "
                         "150 crops of all the photos held 37)")
    ap.add_argument("--cls-eval", type=int, default=1000,
                    help="evaluation lines of ppocr_cls: its output cosine is carried by the "
                         "few lines whose two logits nearly tie; on 150 lines one or two of "
                         "them decided the ranking of methods, and changed with any "
                         "perturbation (cheap: ~30 ms a line)")
    ap.add_argument("--det-size", type=int, default=448, help="ppocr_det input side (x32)")
    ap.add_argument("--act-types", default="QInt8,QUInt8",
                    help="onnxruntime activation types, e.g. QInt8")
    ap.add_argument("--hist-budget-mib", type=float, default=6144,
                    help="memory onnxruntime's Entropy/Percentile may keep tensors in")
    ap.add_argument("--kiln-methods", default="",
                    help="run_calibration methods for kiln rows, e.g. kl,max (default: its "
                         "default method only); the summary judges the first")
    ap.add_argument("--kiln-asymmetric", action="store_true",
                    help="also a row for model_deploy --asymmetric (affine int8 activations "
                         "from the table's min/max)")
    ap.add_argument("--threads", type=int, default=1,
                    help="threads of onnxruntime and numpy's BLAS in the evaluation runs")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--work", help="folder for intermediate files (default: a temporary one)")
    ap.add_argument("--json", help="write the figures here as JSON")
    args = ap.parse_args(argv)
    args.act_types = [a.strip() for a in args.act_types.split(",") if a.strip()]
    args.kiln_methods = [m.strip() for m in args.kiln_methods.split(",") if m.strip()] or [None]
    if args.det_size % 32 or args.det_size < 32:
        ap.error("--det-size must be a positive multiple of 32")
    if min(args.calib, args.eval, args.cls_eval, args.yolo_eval) < 1:
        ap.error("--calib, --eval, --yolo-eval and --cls-eval must be at least 1")
    limit_threads(args.threads)
    table = specs(args.det_size)
    names = [n.strip() for n in args.models.split(",") if n.strip()]
    unknown = [n for n in names if n not in table]
    if unknown:
        ap.error(f"unknown model(s) {', '.join(unknown)}; known: {', '.join(table)}")

    results = {}
    with contextlib.ExitStack() as stack:
        root = Path(args.work) if args.work else Path(stack.enter_context(
            tempfile.TemporaryDirectory(prefix="kiln_accuracy_")))
        for name in names:
            results[name] = bench_model(name, table[name], args, root / name)
            results[name]["verdict"] = verdict(name, results[name])
            print(render(name, results[name]["rows"]))
            print("prep s: calibration + quantization (an ort method's later rows reuse its first "
                  "row's ranges; kiln's includes model_transform and model_deploy); ms/img on a "
                  f"shared machine, {args.threads} thread(s)")
            for note in results[name]["notes"]:
                print(f"note: {note}")
            print(flush=True)

    print("== summary: kiln INT8 against onnxruntime's best method ==")
    for name, res in results.items():
        v = res["verdict"]
        print(f"{name:10s} {v['figure']:8s} kiln {v['kiln']:.4f} "
              f"{'>=' if v['kiln_ge_ort_best'] else '< '} {v['ort_best']} "
              f"{v['ort_best_value']:.4f}; cos mean kiln {v['kiln_cos_mean']:.4f} "
              f"{'>=' if v['kiln_cos_ge_ort_best'] else '< '} onnxruntime's best "
              f"{v['ort_best_cos_mean']:.4f}")
        print(f"{'':10s} {_paired_line(v['paired'])}")
        sym = v["symmetric"]
        print(f"{'':10s} like for like (symmetric activations): kiln {v['kiln']:.4f} "
              f"{'>=' if sym['kiln_ge'] else '< '} {sym['method']} {sym['value']:.4f}; "
              f"{_paired_line(sym)}")
        print(f"{'':10s} kiln layers on eval image {res['kiln_lossy_image']} (cosine to float: "
              f"input -> result; |max| float -> kiln), most lossy, then most clipped:")
        for r in res["kiln_lossy_layers"][:4] + res["kiln_clipped_layers"][:3]:
            print(f"{'':12s}{r['loc']:34s} {r['op']:14s} {r['in_cos']:.4f} -> {r['cos']:.4f}"
                  f"   |max| {r['ref_absmax']:.4g} -> {r['got_absmax']:.4g}")
    for res in results.values():
        res.pop("per_sample")
    if args.json:
        config = {k: v for k, v in vars(args).items() if k != "json"}
        Path(args.json).write_text(json.dumps({"config": config, "models": results},
                                              indent=2, default=float))
        log(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
