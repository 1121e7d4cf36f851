"""Mixed precision on YOLOv8n-320 (or PP-OCRv4 det): run_calibration --search
search_qtable wall time, the layers it raises above INT8, and the task figure before and
after (detections agreeing with float; text-mask IoU with float).

    python bench/mixed_precision.py [--model yolov8n|ppocr_det] [--calib 100]
        [--inference 30] [--eval 300|150] [--expected_cos 0.99] [--processor int8-sym]
        [--compare /model.22/Sigmoid_output_0] [--methods KL,MSE,MAX] [--seed 0] [--work DIR]

The search compares the class scores that can become detections (`--post_process`
bench/yolo_scores.py: how surely each anchor's class score is a detection at conf 0.25 and
0.1; the output's cosine is dominated by box pixels and hardly moves when the scores are
ruined, and the whole sigmoid map by the thousands of near-zero scores); at
most 10% of the layers may go above 8 bits. Calibration, inference and evaluation pictures
are bench/photos.py people_scenes for YOLOv8n (nudenet's detector of faces and body parts)
and text scenes for PP-OCRv4 det, the evaluation ones from another seed. Figures print to
stdout, progress to stderr.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from accuracy import images_for, preprocess, specs  # noqa: E402
from photos import save_crops  # noqa: E402
from realmodels import real_model  # noqa: E402
from tasks import DetectionScore, cosine, detect, mask_iou  # noqa: E402

MODELS = {  # name: (input, output, model_transform preprocessing)
    "yolov8n": ("images", "output0", ["--mean", "0,0,0", "--scale",
                                      "0.0039216,0.0039216,0.0039216"]),
    "ppocr_det": ("x", "sigmoid_0.tmp_0", ["--mean", "123.675,116.28,103.53", "--scale",
                                           "0.017125,0.017507,0.017429"]),
}


def _run(tool, argv: list[str], what: str) -> float:
    start = time.perf_counter()
    code = tool.run([str(a) for a in argv])
    if code != 0:
        raise SystemExit(f"{what} failed (exit {code})")
    return time.perf_counter() - start


def evaluate(name: str, module, ref_outputs, inputs) -> dict:
    from kiln.compiler.interpreter import run_module

    x_name, out_name, _ = MODELS[name]
    scores = {c: DetectionScore() for c in (0.25, 0.1)}
    cos, ious = [], []
    for x, ref in zip(inputs, ref_outputs):
        got = run_module(module, {x_name: x})[out_name]
        cos.append(cosine(ref, got))
        if name == "yolov8n":
            for c, s in scores.items():
                s.add(detect(ref, c), detect(got, c))
        else:
            ious.append(mask_iou(ref, got))
    if name == "yolov8n":
        return {"cos": float(np.mean(cos)), "task": f"F1@0.25 {scores[0.25].f1:.3f}, "
                f"F1@0.1 {scores[0.1].f1:.3f}"}
    return {"cos": float(np.mean(cos)), "task": f"mask IoU mean {np.mean(ious):.4f}, "
            f"min {np.min(ious):.4f}"}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="yolov8n", choices=sorted(MODELS))
    ap.add_argument("--size", type=int, default=448, help="PP-OCRv4 det input size")
    ap.add_argument("--calib", type=int, default=100)
    ap.add_argument("--inference", type=int, default=30)
    ap.add_argument("--eval", type=int, help="evaluation pictures (default: 300 for yolov8n, "
                    "about 380 float detections; 150 for ppocr_det)")
    ap.add_argument("--expected_cos", type=float, default=0.99)
    ap.add_argument("--processor", default="int8-sym",
                    help="target of the calibration, the search and the deploys")
    ap.add_argument("--compare", default="/model.22/Sigmoid_output_0")
    ap.add_argument("--post_process", default=str(HERE / "yolo_scores.py"),
                    help="compare what this PostProcess returns (default: how surely each "
                         "class score is a detection); '' to use --compare")
    ap.add_argument("--methods", default="",
                    help="--quantize_method_list of the search, e.g. KL,MSE,MAX,Percentile9999 "
                         "(default: the calibration method only)")
    ap.add_argument("--seed", type=int, default=0,
                    help="pictures: calibration from this seed, evaluation from the next")
    ap.add_argument("--work")
    args = ap.parse_args(argv)
    from kiln.compiler.interpreter import run_module
    from kiln.compiler.module_io import read_module
    from kiln.tools import model_deploy, model_transform, run_calibration

    work = Path(args.work or tempfile.mkdtemp(prefix="kiln_mixed_"))
    name = args.model
    args.eval = args.eval or (300 if name == "yolov8n" else 150)
    spec = specs(args.size)[name]
    x_name, out_name, prep = MODELS[name]
    if name != "yolov8n":
        args.post_process = ""  # compare the probability map itself
    mlir = work / f"{name}.mlir"
    _run(model_transform, ["--model_name", name, "--model_def", real_model(name),
                           "--input_shapes", f"[[1,3,{spec.height},{spec.width}]]", *prep,
                           "--pixel_format", "rgb", "--mlir", mlir], "model_transform")
    calib, evals, _ = images_for(name, spec, args.calib, args.eval, args.seed)
    save_crops(calib, work / "calib")
    layers = sum(1 for op in read_module(mlir).walk()
                 if op.name not in ("top.weight", "top.constant", "top.none", "func.return"))
    limit = max(1, layers // 10)
    target = ["--processor", args.processor]
    plain = _run(run_calibration, [mlir, "--dataset", work / "calib", "-o", work / "int8_table",
                                   *target], "run_calibration")
    searched = _run(run_calibration, [
        mlir, "--dataset", work / "calib", "-o", work / "mix_table", "--search",
        "search_qtable", "--inference_num", args.inference, "--expected_cos", args.expected_cos,
        "--max_float_layers", limit, "--quantize_table", work / "mix_qtable", *target,
        *(["--quantize_method_list", args.methods] if args.methods else []),
        *(["--post_process", args.post_process] if args.post_process else
          ["--global_compare_layers", args.compare] if name == "yolov8n" else [])],
        "search_qtable")
    for kind, table, extra in (("int8", "int8_table", []),
                               ("mix", "mix_table", ["--quantize_table", work / "mix_qtable"])):
        _run(model_deploy, ["--mlir", mlir, "--quantize", "INT8", "--calibration_table",
                            work / table, "--model", work / f"{kind}.kmodel", "--quiet",
                            *target, *extra], "model_deploy")
    from kiln.calibration.qtable import read_qtable

    raised = read_qtable(work / "mix_qtable").modes
    float_module = read_module(mlir)
    inputs = [preprocess(img, spec) for img in evals]
    refs = [run_module(float_module, {x_name: x})[out_name] for x in inputs]
    rows = {kind: evaluate(name, read_module(work / f"{kind}_npu.mlir"), refs, inputs)
            for kind in ("int8", "mix")}
    print(f"{name} ({spec.height}x{spec.width}) on {args.processor}: {layers} layers, search "
          f"limit {limit} (10%); "
          f"calibration {args.calib}, inference {args.inference}, evaluation {args.eval}")
    print(f"search_qtable wall time {searched:.1f} s (plain calibration {plain:.1f} s; the "
          f"search itself {searched - plain:.1f} s)")
    print(f"layers above INT8: {len(raised)} ({', '.join(f'{k} {v}' for k, v in raised.items())})")
    for kind, r in rows.items():
        print(f"{kind:5s} output cosine {r['cos']:.5f}; {r['task']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
