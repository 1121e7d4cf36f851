"""Parse and print throughput of kiln's text IR on a generated 20,000-op module.

    python bench/ir_text.py [--ops 20000] [--repeat 3]

The module mixes what real printed modules hold: weights, convs with attribute dictionaries,
activations, adds, calibrated and quantized types, locs. Prints ops/s for parse and print
(best of --repeat) and checks that the printed text reads back to itself. Floor (issue 2):
10,000 ops/s each on the 2-core CI machine.
"""

from __future__ import annotations

import argparse
import time

import kiln.dialects  # noqa: F401
from kiln.compiler.text.parser import parse_module
from kiln.compiler.text.printer import print_module

T = "tensor<1x16x32x32xf32>"
W = "tensor<16x16x3x3xf32>"
C = "tensor<1x16x32x32x!quant.calibrated<f32<-4.125:7.93>>>"
Q = "tensor<1x16x32x32x!quant.uniform<i8:f32, 0.0621>>"


def generate(n_ops: int) -> str:
    lines = ['module @bench attributes {kiln.weights = "bench_weights.npz"} {',
             f"  func.func @main(%input: {T}) -> {T} {{"]
    prev, i = "%input", 0
    while i < n_ops - 1:
        k = i % 6
        if k == 0:
            lines.append(f'    %w{i} = top.weight @"layer{i}.weight" : {W} loc("layer{i}.weight")')
        elif k == 1:
            lines.append(f"    %{i} = top.conv {prev}, %w{i - 1} {{strides = [1, 1], pads = [1, 1, "
                         f"1, 1], dilations = [1, 1], group = 1}} : ({T}, {W}) -> {T} "
                         f'loc("/layer{i}/Conv")')
            prev = f"%{i}"
        elif k in (2, 4):
            lines.append(f'    %{i} = top.relu {prev} : ({T}) -> {T} loc("/layer{i}/Relu")')
            prev = f"%{i}"
        elif k == 3:
            lines.append(f'    %{i} = test.observe {prev} : ({T}) -> {C} loc("/layer{i}/Cal")')
        else:
            lines.append(f'    %{i} = test.quantize {prev} : ({T}) -> {Q} loc("/layer{i}/Q")')
        i += 1
    lines.append(f"    return {prev} : {T}")
    lines += ["  }", "}"]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ops", type=int, default=20000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    text = print_module(parse_module(generate(args.ops)))  # canonical printed form
    n = args.ops
    parse_times, print_times = [], []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        module = parse_module(text)
        t1 = time.perf_counter()
        printed = print_module(module)
        t2 = time.perf_counter()
        parse_times.append(t1 - t0)
        print_times.append(t2 - t1)
        assert printed == text, "round trip changed the text"
    best_parse, best_print = min(parse_times), min(print_times)
    print(f"module: {n} ops, {len(text) / 1e6:.2f} MB of text")
    print(f"parse: {n / best_parse:10,.0f} ops/s  ({best_parse * 1e3:.0f} ms, best of "
          f"{args.repeat})")
    print(f"print: {n / best_print:10,.0f} ops/s  ({best_print * 1e3:.0f} ms)")


if __name__ == "__main__":
    main()
