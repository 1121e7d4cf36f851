"""`npz_tool`: compare two tensor dumps, or look inside one.

    npz_tool compare REF.npz OTHER.npz [--tolerance COS,EUCLID] [--excepts a,b] [-v]
    npz_tool dump X.npz [NAME]

`compare` prints, for each tensor present in both files, the cosine similarity, Euclidean
similarity, max abs error and SQNR (dB) of OTHER against REF (kiln.compiler.similarity says
how each is computed); exit 0 when every tensor is within the tolerance (default 0.99,0.99),
1 when one is not, 2 for bad input. `-v` adds shapes and dtypes and lists the tensors found
in one file only. `dump` prints each array's shape, dtype and statistics, or one array's
values.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from ..compiler.fileio import load_npz
from ..compiler.similarity import DEFAULT_TOLERANCE, compare_tensors, render_table
from ._cli import ArgParser, UsageError, run_tool

PROG = "npz_tool"


def build_arg_parser() -> argparse.ArgumentParser:
    ap = ArgParser(prog=PROG, description=__doc__.split("\n")[0], allow_abbrev=False)
    sub = ap.add_subparsers(dest="command", metavar="{compare,dump}")
    sub.required = True
    cmp = sub.add_parser("compare", help="compare the tensors of two npz files",
                         allow_abbrev=False)
    cmp.add_argument("reference", help="the reference npz (e.g. onnxruntime's tensors)")
    cmp.add_argument("other", help="the npz to check against it")
    cmp.add_argument("--tolerance", default=None,
                     help="minimum cosine,euclidean similarity (default 0.99,0.99)")
    cmp.add_argument("--excepts", default="", help="tensors not to compare, e.g. a,b")
    cmp.add_argument("-v", "--verbose", action="store_true",
                     help="show shapes, dtypes and the tensors found in one file only")
    dump = sub.add_parser("dump", help="shapes, dtypes and statistics of an npz file",
                          allow_abbrev=False)
    dump.add_argument("file")
    dump.add_argument("name", nargs="?", help="print this array's values")
    return ap


def parse_tolerance(text: str | None) -> tuple[float, float]:
    if text is None:
        return DEFAULT_TOLERANCE
    try:
        values = [float(t) for t in text.split(",") if t.strip()]
    except ValueError:
        values = []
    if len(values) == 1:
        values *= 2
    if len(values) != 2 or not all(-1.0 <= v <= 1.0 for v in values):
        raise UsageError(f"--tolerance '{text}': give cosine,euclidean minimums, each at "
                         f"most 1, e.g. 0.99,0.99")
    return values[0], values[1]


def compare(args: argparse.Namespace) -> int:
    tolerance = parse_tolerance(args.tolerance)
    a, b = load_npz(args.reference), load_npz(args.other)
    excepts = [n.strip() for n in args.excepts.split(",") if n.strip()]
    comparison = compare_tensors(a, b, tolerance, excepts, order=list(a))
    if not comparison.rows:
        raise UsageError(f"{args.reference} and {args.other} have no tensor name in common "
                         f"(after --excepts)")
    print(render_table(comparison, verbose=args.verbose))
    if comparison.passed:
        return 0
    first = comparison.failures[0]
    print(f"{PROG}: tensor '{first.name}' is below tolerance: {first.why(tolerance)} "
          f"(first of {len(comparison.failures)})", file=sys.stderr)
    return 1


def _stats(array: np.ndarray) -> str:
    if array.size == 0 or array.dtype.kind not in "biuf":
        return ""
    x = array.astype(np.float64)
    finite = np.isfinite(x)
    extra = "" if finite.all() else f"  non-finite={int((~finite).sum())}"
    x = x[finite]
    if x.size == 0:
        return extra.strip()
    return (f"min={x.min():.6g}  max={x.max():.6g}  mean={x.mean():.6g}  std={x.std():.6g}"
            f"{extra}")


def dump(args: argparse.Namespace) -> int:
    arrays = load_npz(args.file)
    if args.name is not None:
        if args.name not in arrays:
            raise UsageError(f"{args.file}: no array named '{args.name}' (it has "
                             f"{', '.join(sorted(arrays)) or 'none'})")
        array = arrays[args.name]
        print(f"{args.name}: shape {list(array.shape)} {array.dtype}  {_stats(array)}".rstrip())
        with np.printoptions(threshold=1000, edgeitems=4, linewidth=100):
            print(array)
        return 0
    rows = [(name, str(list(a.shape)), str(a.dtype), _stats(a)) for name, a in arrays.items()]
    widths = [max([len(r[k]) for r in rows] + [len(h)]) for k, h in
              enumerate(("name", "shape", "dtype"))]
    print(f"{'name':<{widths[0]}}  {'shape':<{widths[1]}}  {'dtype':<{widths[2]}}  stats")
    for name, shape, dtype, stats in rows:
        print(f"{name:<{widths[0]}}  {shape:<{widths[1]}}  {dtype:<{widths[2]}}  {stats}".rstrip())
    print(f"{len(rows)} array(s)")
    return 0


def main(argv: list[str]) -> int:
    args = build_arg_parser().parse_args(argv)
    return compare(args) if args.command == "compare" else dump(args)


def run(argv: list[str] | None = None) -> int:
    return run_tool(PROG, main, argv)


def entry() -> None:
    sys.exit(run())


if __name__ == "__main__":
    entry()
