"""Per-inference time and peak memory of kiln's reference interpreter against onnxruntime.

    python bench/interpreter.py                           # every model, 1 and 2 threads
    python bench/interpreter.py --models yolov8n --threads 1 --runs 30
    python bench/interpreter.py --int8 ''                 # without the INT8 rows

(`python -m kiln.bench.interpreter` is the same; needs `pip install -e '.[bench]'` for
threadpoolctl.)

Time: one subprocess per thread count imports each model, warms both engines up, then runs
them interleaved (kiln, ort, ort, kiln, ...) so that both see the same load on a shared
machine, and reports the median of `--runs` per engine and their ratio. Both are held to the
same thread count: numpy's BLAS through threadpoolctl, onnxruntime through
`intra_op_num_threads` (graph optimizations at onnxruntime's default, as deployed). The
cosine similarity of the outputs shows that the interpreter computed the same thing.

INT8 rows (`--int8`, default yolov8n and ppocr_det): the model deployed as model_deploy
does (run_calibration on `--calib` pictures, then `--quantize INT8` on int8-sym), and its
lowered IR (`*_npu.mlir`, exact integer kernels) run by the interpreter in the same
subprocess as the float IR and onnxruntime, the three interleaved; its ratio is to the same
onnxruntime float runs, and its 1-cos includes the quantization error. With an INT8 row, the
three engines run on one more picture (a photo crop for YOLOv8n, rendered text over a photo
for the text detector, not one of the calibration pictures) instead of random numbers, on
which a detector's INT8 output says little.

Memory: peak resident set size of a fresh subprocess per engine and model that loads the
model (kiln: the imported module read back from its file, as `model_runner` does; onnxruntime:
an InferenceSession) and runs it `--mem-runs` times. `base` is the RSS after the imports,
before the model. The peak is VmHWM, the counter `ru_maxrss` reads, minus what `ru_maxrss`
carries over from the parent across fork+exec. tracemalloc would not do: it sees only
allocations made through Python's allocator hooks, not OpenBLAS's per-thread packing buffers
nor onnxruntime's arena.

Every subprocess runs without OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE: some machines set them for
old OpenBLAS builds, and they slow down the OpenBLAS a current numpy ships. The BLAS each
subprocess really used (threadpoolctl.threadpool_info()) is printed with the table. Nothing
here asserts: it measures.

On a machine shared with other work, two-thread numbers mean little: OpenBLAS's threads wait
for each other by spinning, so when the second core is taken every GEMM stalls until the
scheduler comes back to it (kiln's run then burns as much CPU as it takes wall time, several
times the one-thread time). The `load` column tells when that was the case.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from kiln.bench.realmodels import ModelUnavailable, light_model, real_model

# name: (path getter, input shape to import and run with; None = the model's own)
MODELS: dict[str, tuple[Callable[[], Path], tuple[int, ...] | None]] = {
    "yolov8n": (lambda: real_model("yolov8n"), (1, 3, 320, 320)),
    "resnet50": (lambda: light_model("resnet50"), None),
    "ppocr_det": (lambda: real_model("ppocr_det"), (1, 3, 320, 320)),
    "ppocr_cls": (lambda: real_model("ppocr_cls"), (1, 3, 48, 192)),
}
BLAS_ENV = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
# name: (pictures, preprocessing (x - mean) * scale of their RGB pixels) for the INT8 rows:
# photo crops for the detector, rendered text scenes over photos for the text detector
INT8_MODELS: dict[str, tuple[str, tuple[float, ...], tuple[float, ...]]] = {
    "yolov8n": ("photos", (0.0, 0.0, 0.0), (1 / 255,) * 3),
    "ppocr_det": ("text", (123.675, 116.28, 103.53), (1 / 58.395, 1 / 57.12, 1 / 57.375)),
}


def _limit_threads(threads: int) -> list[dict]:
    """Hold numpy's BLAS to `threads`; returns threadpoolctl's view of the BLAS libraries."""
    import numpy  # noqa: F401  (threadpoolctl only sees libraries already loaded)
    from threadpoolctl import threadpool_info, threadpool_limits

    threadpool_limits(limits=threads, user_api="blas")
    return [{k: v for k, v in info.items() if k != "filepath"}
            for info in threadpool_info() if info.get("user_api") == "blas"]


def _ort_session(path: Path, threads: int):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    # Idle workers must not spin: between its runs they would take the core from the other
    # engine (and, on a shared machine, from onnxruntime's own next run).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _import(name: str):
    from kiln.frontend.onnx.importer import ImportOptions, import_onnx

    getter, shape = MODELS[name]
    options = ImportOptions(input_shapes=None if shape is None else [list(shape)])
    return import_onnx(getter(), options)


# -- subprocess: time the engines side by side -------------------------------------------------
def _child_time(name: str, threads: int, runs: int, warmup: int,
                int8_file: str | None = None) -> dict:
    blas = _limit_threads(threads)
    from kiln.compiler.interpreter import input_names, random_inputs, run_function
    from kiln.compiler.similarity import cosine_similarity
    from kiln.frontend.onnx.reference import run_onnx

    module = _import(name)
    func = module.main
    if int8_file is None:
        inputs = random_inputs(func, seed=0)
    else:
        inputs = {input_names(func)[0]: _pictures(name, 1, seed=1)[0]}
    session = _ort_session(MODELS[name][0](), threads)
    feeds = {spec.name: inputs[n] for spec, n in zip(session.get_inputs(), input_names(func))}

    def kiln() -> object:
        return run_function(func, inputs, weights=module.weights)

    def ort() -> object:
        return session.run(None, feeds)

    engines: dict[str, Callable[[], object]] = {"kiln": kiln, "ort": ort}
    if int8_file is not None:
        from kiln.compiler.module_io import read_module
        from kiln.dialects import npu, top  # noqa: F401  (registers the ops the parser needs)

        lowered = read_module(int8_file)
        inputs8 = dict(zip(input_names(lowered.main), inputs.values()))

        def int8() -> dict:
            return run_function(lowered.main, inputs8, weights=lowered.weights)[0]

        engines["int8"] = int8
    for _ in range(warmup):
        for run in engines.values():
            run()
    order = list(engines)
    times: dict[str, list[float]] = {engine: [] for engine in order}
    for i in range(runs):  # each engine takes each place in the order equally often
        for engine in order[i % len(order):] + order[:i % len(order)]:
            start = time.perf_counter()
            engines[engine]()
            times[engine].append(time.perf_counter() - start)
    load = os.getloadavg()[0]
    reference = run_onnx(MODELS[name][0](), feeds)  # unoptimized, as every kiln check uses
    outputs = run_function(func, inputs, weights=module.weights)[0]
    cosine = min(cosine_similarity(reference[k], outputs[k]) for k in outputs)
    ms = {engine: 1000 * statistics.median(t) for engine, t in times.items()}
    out = {"kiln_ms": ms["kiln"], "ort_ms": ms["ort"], "ratio": ms["kiln"] / ms["ort"],
           "cosine": cosine, "load": load, "blas": blas}
    if int8_file is not None:
        outputs8 = engines["int8"]()
        out["int8"] = {"kiln_ms": ms["int8"], "ort_ms": ms["ort"],
                       "ratio": ms["int8"] / ms["ort"], "load": load,
                       "cosine": min(cosine_similarity(reference[k], outputs8[k])
                                     for k in outputs8)}
    return out


# -- subprocess: peak memory of one engine -----------------------------------------------------
def _status_kb(field: str) -> int | None:
    """A `/proc/self/status` field in KiB (Linux), None where there is no /proc."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _peak_rss_kb() -> int:
    """Peak RSS of this process's own address space. `ru_maxrss` is the same kernel counter
    but also keeps the peak of the address space before `exec`, i.e. of the forked parent,
    so a fresh subprocess of a big parent would report the parent's size; VmHWM does not."""
    import resource

    hwm = _status_kb("VmHWM")
    return hwm if hwm is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _child_memory(engine: str, name: str, threads: int, runs: int, module_file: str) -> dict:
    _limit_threads(threads)
    import numpy as np

    if engine == "kiln":  # the float IR, or the lowered INT8 one
        from kiln.compiler.interpreter import random_inputs, run_function
        from kiln.compiler.module_io import read_module
        from kiln.dialects import npu, top  # noqa: F401  (registers the ops the parser needs)

        base = _status_kb("VmRSS") or 0
        module = read_module(module_file)
        inputs = random_inputs(module.main, seed=0)
        for _ in range(runs):
            run_function(module.main, inputs, weights=module.weights)
    else:
        import onnxruntime  # noqa: F401

        base = _status_kb("VmRSS") or 0
        session = _ort_session(MODELS[name][0](), threads)
        shape = MODELS[name][1]
        rng = np.random.default_rng(0)
        feeds = {}
        for spec in session.get_inputs():
            dims = shape or tuple(d if isinstance(d, int) else 1 for d in spec.shape)
            feeds[spec.name] = rng.standard_normal(dims).astype(np.float32)
        for _ in range(runs):
            session.run(None, feeds)
    return {"base_mb": base / 1024, "peak_mb": _peak_rss_kb() / 1024}


# -- parent ------------------------------------------------------------------------------------
def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    for key in BLAS_ENV:
        env.pop(key, None)
    return env


def _run_child(args: list[str]) -> dict:
    cmd = [sys.executable, "-m", "kiln.bench.interpreter", *args]
    done = subprocess.run(cmd, capture_output=True, text=True, env=_child_env())
    if done.returncode != 0:  # the exception's message, which may span several lines
        lines = done.stderr.strip().splitlines() or ["(no message)"]
        start = max((i for i, line in enumerate(lines) if re.match(r"[\w.]+: ", line)),
                    default=len(lines) - 1)
        return {"error": " ".join(line.strip() for line in lines[start:])}
    return json.loads(done.stdout.strip().splitlines()[-1])


def _prepare(name: str, workdir: Path) -> str:
    """Import `name` and write it as a module file for the memory subprocess."""
    from kiln.compiler.module_io import write_module

    path = workdir / f"{name}.mlir"
    write_module(_import(name), path)
    return str(path)


def _pictures(name: str, n: int, seed: int) -> list:
    """`n` pictures for `name`'s INT8 row, preprocessed (1 x 3 x H x W float32)."""
    import numpy as np
    from kiln.bench.photos import photo_crops
    from kiln.bench.textlines import text_scenes

    kind, *norm = INT8_MODELS[name]
    mean, scale = (np.asarray(v, np.float32).reshape(1, 3, 1, 1) for v in norm)
    size = MODELS[name][1][2]
    images = photo_crops(n, size, seed) if kind == "photos" else \
        text_scenes(n, size, seed, backgrounds=photo_crops((n + 1) // 2, size, seed + 2))
    return [((image.astype(np.float32).transpose(2, 0, 1)[None] - mean) * scale)
            .astype(np.float32) for image in images]


def _prepare_int8(name: str, float_file: str, workdir: Path, n_calib: int) -> str:
    """Deploy `name` at INT8 as model_deploy does, calibrated on `n_calib` pictures (saved as
    preprocessed .npy tensors); returns the lowered IR's file."""
    import contextlib

    import numpy as np
    from kiln.tools import model_deploy, run_calibration

    folder = workdir / f"{name}_calib"
    folder.mkdir()
    for i, x in enumerate(_pictures(name, n_calib, seed=0)):
        np.save(folder / f"{i:04d}.npy", x)
    table, qtable = workdir / f"{name}_cali_table", workdir / f"{name}_qtable"
    model = workdir / f"{name}_int8.kmodel"
    steps = [(run_calibration.run, [float_file, "--dataset", folder, "--input_num", n_calib,
                                    "-o", table, "--qtable", qtable]),
             (model_deploy.run, ["--mlir", float_file, "--quantize", "INT8",
                                 "--calibration_table", table, "--model", model, "--quiet"])]
    for tool, argv in steps:
        if tool is model_deploy.run and qtable.exists():
            argv += ["--quantize_table", qtable]
        with contextlib.redirect_stdout(sys.stderr):
            code = tool([str(a) for a in argv])
        if code != 0:
            raise RuntimeError(f"{tool.__module__.rsplit('.', 1)[-1]} exited with {code}")
    return str(model.with_name(model.stem + "_npu.mlir"))


def _fmt(value: float | None, width: int, decimals: int = 0) -> str:
    return f"{'-':>{width}}" if value is None else f"{value:{width}.{decimals}f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--runs", type=int, default=20, help="timed runs per engine")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--mem-runs", type=int, default=2)
    parser.add_argument("--no-memory", action="store_true")
    parser.add_argument("--int8", default=",".join(INT8_MODELS),
                        help="models that also get an INT8 row (of %(default)s)")
    parser.add_argument("--calib", type=int, default=8, help="calibration pictures, INT8 rows")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:  # internal: one measurement, printed as a JSON line
        kind, *rest = args.child
        if kind == "time":
            name, threads = rest[0], int(rest[1])
            out = _child_time(name, threads, args.runs, args.warmup, *rest[2:3])
        else:
            engine, name, threads, module_file = rest[0], rest[1], int(rest[2]), rest[3]
            out = _child_memory(engine, name, threads, args.mem_runs, module_file)
        print(json.dumps(out))
        return 0

    from kiln.frontend.onnx.importer import ImportFailure

    names = [n for n in args.models.split(",") if n]
    int8_names = {n for n in args.int8.split(",") if n}
    unknown = int8_names - set(INT8_MODELS)
    if unknown:
        parser.error(f"--int8: no INT8 setup for {', '.join(sorted(unknown))}")
    thread_counts = [int(t) for t in args.threads.split(",")]
    unset = [k for k in BLAS_ENV if k in os.environ]
    print(f"unset in the benchmark's subprocesses: {', '.join(unset) or 'none (not set)'}")
    rows, blas_seen = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            int8_file = None
            try:
                module_file = None if args.no_memory and name not in int8_names \
                    else _prepare(name, Path(tmp))
                if name in int8_names:
                    int8_file = _prepare_int8(name, module_file, Path(tmp), args.calib)
            except (ModelUnavailable, ImportFailure, RuntimeError) as e:  # a row, not a crash
                rows.append((name, None, {"error": " ".join(f"{type(e).__name__}: {e}".split())},
                             {}, {}))
                continue
            for threads in thread_counts:
                timing = _run_child(["--runs", str(args.runs), "--warmup", str(args.warmup),
                                     "--child", "time", name, str(threads),
                                     *([int8_file] if int8_file else [])])
                for lib in timing.pop("blas", []):
                    blas_seen[threads] = lib
                int8_timing = timing.pop("int8", None)
                mem = {}
                if not args.no_memory:
                    for engine, file in (("kiln", module_file), ("ort", module_file),
                                         ("int8", int8_file)):
                        if file is not None:
                            mem[engine] = _run_child(
                                ["--mem-runs", str(args.mem_runs), "--child", "memory",
                                 "kiln" if engine == "int8" else engine, name, str(threads),
                                 file])
                rows.append((name, threads, timing, mem.get("kiln", {}), mem.get("ort", {})))
                if int8_timing is not None:
                    rows.append((f"{name} int8", threads, int8_timing, mem.get("int8", {}), {}))
    _print_table(rows, args.runs)
    for threads, lib in sorted(blas_seen.items()):
        print(f"BLAS ({threads} thread(s)): " + ", ".join(f"{k}={v}" for k, v in lib.items()))
    return 0


def _print_table(rows: list, runs: int) -> None:
    head = (f"{'model':14} {'thr':>3} {'kiln ms':>9} {'ort ms':>8} {'ratio':>6} {'1-cos':>8} "
            f"{'kiln MB':>8} {'ort MB':>7} {'base k/o':>9} {'load':>5}")
    print(f"ms: median of {runs} interleaved runs; 1-cos: kiln's outputs vs onnxruntime's "
          "reference run;\nMB: peak RSS of a fresh process (base: after the imports); load: "
          "1-minute load average after the runs;\nint8: the lowered INT8 model in kiln's "
          "interpreter, timed in the same runs as the float row above it")
    print(head)
    print("-" * len(head))
    for name, threads, t, mk, mo in rows:
        if "error" in t:
            print(f"{name:14} {threads or '-':>3} {t['error']}")
            continue
        base = f"{_fmt(mk.get('base_mb'), 0)}/{_fmt(mo.get('base_mb'), 0)}"
        print(f"{name:14} {threads:>3} {t['kiln_ms']:9.1f} {t['ort_ms']:8.1f} {t['ratio']:6.2f} "
              f"{1 - t['cosine']:8.1e} {_fmt(mk.get('peak_mb'), 8)} "
              f"{_fmt(mo.get('peak_mb'), 7)} {base:>9} {t['load']:5.1f}")


if __name__ == "__main__":
    sys.exit(main())
