"""Mixed precision on YOLOv8n-320: run_calibration --search search_qtable wall time, the
layers it raises above INT8, and detections agreeing with float before and after.

    python bench/mixed_precision.py [--calib 100] [--inference 30] [--eval 50]
        [--expected_cos 0.99] [--compare /model.22/Sigmoid_output_0] [--work DIR]

The search compares the class scores that can become detections (`--post_process`
bench/yolo_scores.py; the output's cosine is dominated by box pixels and hardly moves when
the scores are ruined, and the whole sigmoid map by the thousands of near-zero scores); at
most 10% of the layers may go above 8 bits. Calibration, inference and evaluation pictures
are photo crops (bench/photos.py), the evaluation ones from another seed. Figures print to
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

from accuracy import preprocess, specs  # noqa: E402
from photos import photo_crops, save_crops  # noqa: E402
from realmodels import real_model  # noqa: E402
from tasks import DetectionScore, cosine, detect  # noqa: E402


def _run(tool, argv: list[str], what: str) -> float:
    start = time.perf_counter()
    code = tool.run([str(a) for a in argv])
    if code != 0:
        raise SystemExit(f"{what} failed (exit {code})")
    return time.perf_counter() - start


def evaluate(module, ref_outputs, inputs) -> dict:
    from kiln.compiler.interpreter import run_module

    scores = {c: DetectionScore() for c in (0.25, 0.1)}
    cos = []
    for x, ref in zip(inputs, ref_outputs):
        got = run_module(module, {"images": x})["output0"]
        cos.append(cosine(ref, got))
        for c, s in scores.items():
            s.add(detect(ref, c), detect(got, c))
    return {"cos": float(np.mean(cos)), "f1_25": scores[0.25].f1, "f1_10": scores[0.1].f1}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--calib", type=int, default=100)
    ap.add_argument("--inference", type=int, default=30)
    ap.add_argument("--eval", type=int, default=50)
    ap.add_argument("--expected_cos", type=float, default=0.99)
    ap.add_argument("--compare", default="/model.22/Sigmoid_output_0")
    ap.add_argument("--post_process", default=str(HERE / "yolo_scores.py"),
                    help="compare what this PostProcess returns (default: class scores above "
                         "0.05, what detections are made of); '' to use --compare")
    ap.add_argument("--work")
    args = ap.parse_args(argv)
    from kiln.compiler.interpreter import run_module
    from kiln.compiler.module_io import read_module
    from kiln.tools import model_deploy, model_transform, run_calibration

    work = Path(args.work or tempfile.mkdtemp(prefix="kiln_mixed_"))
    spec = specs(448)["yolov8n"]
    mlir = work / "yolov8n.mlir"
    _run(model_transform, ["--model_name", "yolov8n", "--model_def", real_model("yolov8n"),
                           "--input_shapes", "[[1,3,320,320]]", "--mean", "0,0,0", "--scale",
                           "0.0039216,0.0039216,0.0039216", "--pixel_format", "rgb", "--mlir",
                           mlir], "model_transform")
    save_crops(photo_crops(args.calib, 320, 0), work / "calib")
    layers = sum(1 for op in read_module(mlir).walk()
                 if op.name not in ("top.weight", "top.constant", "top.none", "func.return"))
    limit = max(1, layers // 10)
    plain = _run(run_calibration, [mlir, "--dataset", work / "calib", "-o", work / "int8_table"],
                 "run_calibration")
    searched = _run(run_calibration, [
        mlir, "--dataset", work / "calib", "-o", work / "mix_table", "--search",
        "search_qtable", "--inference_num", args.inference, "--expected_cos", args.expected_cos,
        "--max_float_layers", limit, "--quantize_table", work / "mix_qtable",
        *(["--post_process", args.post_process] if args.post_process else
          ["--global_compare_layers", args.compare])], "search_qtable")
    for name, table, extra in (("int8", "int8_table", []),
                               ("mix", "mix_table", ["--quantize_table", work / "mix_qtable"])):
        _run(model_deploy, ["--mlir", mlir, "--quantize", "INT8", "--calibration_table",
                            work / table, "--model", work / f"{name}.kmodel", "--quiet",
                            *extra], "model_deploy")
    from kiln.calibration.qtable import read_qtable

    raised = read_qtable(work / "mix_qtable").modes
    float_module = read_module(mlir)
    inputs = [preprocess(img, spec) for img in photo_crops(args.eval, 320, 1)]
    refs = [run_module(float_module, {"images": x})["output0"] for x in inputs]
    rows = {name: evaluate(read_module(work / f"{name}_npu.mlir"), refs, inputs)
            for name in ("int8", "mix")}
    print(f"YOLOv8n-320: {layers} layers, search limit {limit} (10%); calibration "
          f"{args.calib}, inference {args.inference}, evaluation {args.eval} photo crops")
    print(f"search_qtable wall time {searched:.1f} s (plain calibration {plain:.1f} s; the "
          f"search itself {searched - plain:.1f} s)")
    print(f"layers above INT8: {len(raised)} ({', '.join(f'{k} {v}' for k, v in raised.items())})")
    print(f"{'model':6s} {'cos mean':>9s} {'F1@0.25':>8s} {'F1@0.1':>8s}")
    for name, r in rows.items():
        print(f"{name:6s} {r['cos']:9.5f} {r['f1_25']:8.3f} {r['f1_10']:8.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
