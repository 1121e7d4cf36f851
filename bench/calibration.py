"""Calibration wall time and peak memory: kiln's run_calibration against onnxruntime's
calibrators (MinMax, Entropy, Percentile) on the same images, measured in one run.

    python bench/calibration.py [--model yolov8n] [--images 100] [--mem-counts 100,800]
                                [--mem-model resnet50] [--skip-ort] [--skip-memory]

Time: kiln makes one pass over the data (statistics of every activation), then computes each
method's thresholds from those statistics; a method's time is the pass plus its thresholds.
onnxruntime runs its calibrator per method (augmented model over every image, then
compute_data). Memory: each configuration runs in a fresh subprocess and reports its peak
resident set (VmHWM), so numpy's and onnxruntime's own buffers are counted.

Needs the bench extra (`pip install -e '.[bench]'`: scikit-image's photos) and network once
for the model wheels (bench/realmodels.py).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from photos import photo_crops, save_crops  # noqa: E402
from realmodels import light_model, real_model  # noqa: E402

SIZES = {"yolov8n": 320, "resnet50": 224}
METHODS = ["kl", "mse", "max", "percentile9999", "aciq_gauss", "aciq_laplace"]


def model_path(name: str) -> Path:
    return real_model(name) if name == "yolov8n" else light_model(name)


def transform(name: str, work: Path) -> Path:
    from kiln.tools import model_transform

    size = SIZES[name]
    mlir = work / f"{name}.mlir"
    if not mlir.exists():
        code = model_transform.run(["--model_name", name, "--model_def", str(model_path(name)),
                                    "--input_shapes", f"[[1,3,{size},{size}]]", "--mean",
                                    "0,0,0", "--scale", "0.0039216,0.0039216,0.0039216",
                                    "--pixel_format", "rgb", "--mlir", str(mlir)])
        if code != 0:
            raise SystemExit(f"model_transform failed for {name}")
    return mlir


def images(work: Path, n: int, size: int) -> Path:
    folder = work / f"imgs_{n}_{size}"
    if not folder.exists():
        save_crops(photo_crops(n, size, seed=0), folder)
    return folder


def kiln_times(mlir: Path, folder: Path, n: int) -> dict[str, float]:
    """One pass, then each method's thresholds; the same code path as run_calibration."""
    from kiln import dialects  # noqa: F401
    from kiln.calibration.exclusion import analyze_exact
    from kiln.compiler.module_io import read_module
    from kiln.data.dataset import load_dataset
    from kiln.tools.run_calibration import collect_statistics, thresholds_for

    module = read_module(mlir)
    skip = set(analyze_exact(module.main, weights=module.weights).tensors_without_range())
    dataset = load_dataset(module.main, dataset=str(folder), input_num=n)
    t0 = time.perf_counter()
    collector = collect_statistics(module, dataset, skip, 2048)
    pass_time = time.perf_counter() - t0
    out = {"pass": pass_time}
    for method in METHODS:
        t1 = time.perf_counter()
        thresholds_for(collector, method)
        out[method] = pass_time + time.perf_counter() - t1
    return out


class _Reader:
    """onnxruntime's CalibrationDataReader over the same preprocessed images."""

    def __init__(self, arrays: list[np.ndarray], name: str) -> None:
        self.items = iter([{name: a} for a in arrays])

    def get_next(self):
        return next(self.items, None)

    def rewind(self):  # some onnxruntime versions call it
        pass


def ort_times(name: str, folder: Path, n: int, methods=("MinMax", "Entropy", "Percentile")
              ) -> dict[str, float]:
    import onnx
    from onnxruntime.quantization.calibrate import CalibrationMethod, create_calibrator


    arrays = _preprocessed(folder, n, SIZES[name])
    model = onnx.load(str(model_path(name)))
    input_name = model.graph.input[0].name
    out = {}
    for method in methods:
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            calibrator = create_calibrator(str(model_path(name)),
                                           augmented_model_path=str(Path(tmp) / "aug.onnx"),
                                           calibrate_method=getattr(CalibrationMethod, method))
            calibrator.collect_data(_Reader(arrays, input_name))
            calibrator.compute_data()
            out[method] = time.perf_counter() - t0
    return out


def _preprocessed(folder: Path, n: int, size: int) -> list[np.ndarray]:
    from PIL import Image

    files = sorted(folder.glob("*.png"))[:n]
    return [(np.asarray(Image.open(f).convert("RGB").resize((size, size)), np.float32)
             .transpose(2, 0, 1)[None] / 255.0).astype(np.float32) for f in files]


def _child(args) -> None:
    """Run one configuration and print its peak RSS (MiB) and time as JSON."""
    work = Path(args.work)
    t0 = time.perf_counter()
    if args.child == "kiln":
        kiln_times(transform(args.model, work), images(work, args.images, SIZES[args.model]),
                   args.images)
    else:
        ort_times(args.model, images(work, args.images, SIZES[args.model]), args.images,
                  methods=(args.child,))
    print(json.dumps({"peak_mib": _peak_rss_mib(), "seconds": time.perf_counter() - t0}))


def _peak_rss_mib() -> float:
    """This process's peak resident set. VmHWM, not ru_maxrss: after fork+exec ru_maxrss
    still carries the parent's peak (the parent may have run onnxruntime's calibrators)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(child: str, model: str, n: int, work: Path) -> dict:
    cmd = [sys.executable, __file__, "--child", child, "--model", model, "--images", str(n),
           "--work", str(work)]
    done = subprocess.run(cmd, capture_output=True, text=True, env=os.environ.copy())
    if done.returncode in (-9, 137):
        return {"error": "killed by the kernel: out of memory (the machine has 24 GiB)"}
    if done.returncode != 0:
        lines = [ln for ln in done.stderr.strip().splitlines() if "Removing initializer" not in ln]
        return {"error": lines[-1:]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="yolov8n", choices=sorted(SIZES))
    ap.add_argument("--images", type=int, default=100)
    ap.add_argument("--mem-model", default="resnet50", choices=sorted(SIZES))
    ap.add_argument("--mem-counts", default="100,800")
    ap.add_argument("--skip-ort", action="store_true")
    ap.add_argument("--skip-memory", action="store_true")
    ap.add_argument("--work", default=str(Path(tempfile.gettempdir()) / "kiln-bench-cal"))
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        _child(args)
        return
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    size = SIZES[args.model]
    folder = images(work, args.images, size)
    mlir = transform(args.model, work)

    print(f"== calibration time: {args.model}, {args.images} photo crops {size}x{size} ==")
    kiln = kiln_times(mlir, folder, args.images)
    ort = {} if args.skip_ort else ort_times(args.model, folder, args.images)
    print(f"kiln one pass (all methods' statistics): {kiln['pass']:.1f} s")
    for method in METHODS:
        print(f"  kiln {method:15s} {kiln[method]:7.1f} s")
    for method, seconds in ort.items():
        print(f"  onnxruntime {method:10s} {seconds:7.1f} s")
    if "Entropy" in ort:
        print(f"ratio kiln kl / onnxruntime Entropy: {kiln['kl'] / ort['Entropy']:.2f} "
              f"(floor <= 1.5)")
    if "Percentile" in ort:
        print(f"ratio kiln percentile9999 / onnxruntime Percentile: "
              f"{kiln['percentile9999'] / ort['Percentile']:.2f}")
    if "MinMax" in ort:
        print(f"ratio kiln max / onnxruntime MinMax: {kiln['max'] / ort['MinMax']:.2f}")

    if args.skip_memory:
        return
    print(f"== peak memory (fresh process each): {args.mem_model} ==")
    counts = [int(c) for c in args.mem_counts.split(",")]
    peaks = {}
    for n in counts:
        r = measure("kiln", args.mem_model, n, work)
        peaks[n] = r.get("peak_mib")
        print(f"  kiln, {n:4d} images: peak {r.get('peak_mib', float('nan')):8.0f} MiB "
              f"({r.get('seconds', float('nan')):.0f} s) {r.get('error', '')}")
    if not args.skip_ort:
        r = measure("Entropy", args.mem_model, counts[0], work)
        print(f"  onnxruntime Entropy, {counts[0]} images: peak "
              f"{r.get('peak_mib', float('nan')):8.0f} MiB {r.get('error', '')}")
    if len(peaks) >= 2 and all(peaks.values()):
        lo, hi = min(peaks.values()), max(peaks.values())
        print(f"kiln peak spread across input counts: {100 * (hi - lo) / lo:.1f}% (floor <= 10%)")


if __name__ == "__main__":
    main()
