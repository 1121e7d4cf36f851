"""How far a change below one output step travels through each real model's INT8 device
model, beside how far kiln's QDQ export (run in onnxruntime) lies from the device model.

    python bench/perturbation.py [--models yolov8n,ppocr_det,ppocr_cls] [--calib 20]
        [--eval 4] [--convs 8] [--det-size 448] [--seed 0] [--work DIR]

Per model: model_transform, run_calibration (default method) on --calib of the accuracy
bench's pictures, model_deploy INT8 with --export_onnx. On each of --eval other pictures:
- the export in onnxruntime against the device model (kiln's exact integer interpreter on the
  lowered IR, which the .kmodel runs bit-identically): output cosine;
- for each of the first --convs convolutions, one int32 unit added to its first output
  channel's bias (that channel's outputs shift by multiplier / 2^shift of a step, so only
  codes near a rounding boundary move), the device model run again: the number of that conv's
  output codes that moved, and the output cosine against the unperturbed run.
The smallest change integer arithmetic can make bounds how closely any executor that is not
bit-exact (onnxruntime computing a QDQ graph's 16-bit convs in float32 is one) can agree with
the device model: where one bias unit at the first conv already costs more than the
tolerance, the tolerance asks for bit-exactness. Figures to stdout, progress to stderr.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from accuracy import (  # noqa: E402
    images_for,
    kiln_calibrate,
    kiln_int8,
    kiln_transform,
    log,
    preprocess,
    specs,
)
from ort_quant import ort_session  # noqa: E402
from photos import save_crops  # noqa: E402
from realmodels import real_model  # noqa: E402
from tasks import cosine  # noqa: E402


def conv_biases(module, n: int) -> list[tuple[str, str]]:
    """(bias weight, conv result name) of the first `n` convs with an int32 bias, in program
    order."""
    found = []
    for op in module.walk():
        if op.name != "npu.conv2d" or len(op.operands) < 3:
            continue
        bias = op.operands[2].owner
        if bias is not None and bias.name == "top.weight":
            found.append((bias.ref.name, op.loc))
    return found[:n]


def bench_model(name: str, args, work: Path) -> list[dict]:
    from kiln import dialects  # noqa: F401  (registers the ops)
    from kiln.compiler.interpreter import run_module

    work.mkdir(parents=True, exist_ok=True)
    spec = specs(args.det_size)[name]
    calib, evals, _ = images_for(name, spec, args.calib, args.eval, args.seed)
    save_crops(calib, work / "calib")
    mlir = kiln_transform(name, real_model(name), spec, work)
    table, qtable = kiln_calibrate(mlir, work / "calib", len(calib), None)
    qdq = work / "int8_qdq.onnx"
    low = kiln_int8(mlir, table, qtable, export_onnx=qdq)
    session = ort_session(qdq, 1)
    out_name = session.get_outputs()[0].name
    biases = conv_biases(low, args.convs)
    rows = [{"what": "QDQ export in onnxruntime", "moved": [], "cos": []}]
    rows += [{"what": f"+1 in bias[0] of {loc}", "loc": loc, "moved": [], "cos": []}
             for _, loc in biases]
    for i, image in enumerate(evals):
        x = {spec.input: preprocess(image, spec)}
        base = run_module(low, x, keep_all=True)
        rows[0]["cos"].append(cosine(base[out_name], session.run([out_name], x)[0]))
        for row, (bias, loc) in zip(rows[1:], biases):
            original = low.weights.get(bias)
            changed = original.copy()
            changed.flat[0] += 1
            low.weights.add(bias, changed)
            try:
                got = run_module(low, x, keep_all=True)
            finally:
                low.weights.add(bias, original)
            row["moved"].append(int(np.count_nonzero(got[loc] != base[loc])))
            row["cos"].append(cosine(base[out_name], got[out_name]))
        log(f"{name}: picture {i + 1}/{len(evals)} done")
    for row in rows[1:]:
        row["size"] = int(base[row["loc"]].size)
    return rows


def render(name: str, rows: list[dict]) -> str:
    lines = [f"\n{name}: output cosine against the device model (min / median over the "
             "pictures), codes moved in the changed conv's output (median)",
             "| change | output cosine min / median | codes moved |", "| --- | --- | --- |"]
    for row in rows:
        moved = (f"{int(np.median(row['moved']))} of {row['size']}" if row["moved"] else "")
        lines.append(f"| {row['what']} | {min(row['cos']):.6f} / "
                     f"{float(np.median(row['cos'])):.6f} | {moved} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", default="yolov8n,ppocr_det,ppocr_cls")
    ap.add_argument("--calib", type=int, default=20, help="calibration pictures")
    ap.add_argument("--eval", type=int, default=4, help="pictures compared")
    ap.add_argument("--convs", type=int, default=8, help="convs whose bias is changed")
    ap.add_argument("--det-size", type=int, default=448, help="ppocr_det input side (x32)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--work", help="folder for intermediate files (default: a temporary one)")
    args = ap.parse_args(argv)
    names = [n.strip() for n in args.models.split(",") if n.strip()]
    known = specs(args.det_size)
    unknown = [n for n in names if n not in known]
    if unknown:
        ap.error(f"unknown model(s) {', '.join(unknown)}; known: {', '.join(known)}")
    if min(args.calib, args.eval, args.convs) < 1:
        ap.error("--calib, --eval and --convs must be at least 1")
    if args.det_size % 32 or args.det_size < 32:
        ap.error("--det-size must be a positive multiple of 32")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.work) if args.work else Path(tmp)
        for name in names:
            print(render(name, bench_model(name, args, root / name)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
