"""Unit tests of the reference interpreter (kiln.compiler.interpreter) on small IR modules."""

from __future__ import annotations

import weakref

import kiln.dialects.top  # noqa: F401  (registers the top ops with the parser)
import numpy as np
import pytest
from kiln.compiler.interpreter import (
    EvalContext,
    InterpreterError,
    input_names,
    output_names,
    random_inputs,
    run_function,
    run_module,
)
from kiln.compiler.text.parser import parse_module
from kiln.compiler.weights import WeightStore

CHAIN = """
module @chain {
  func.func @main(%x: tensor<2x3xf32>, %y: tensor<2x3xf32> {kiln.name = "y:0"}) -> tensor<2x3xf32> {
    %0 = top.add %x, %y : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32> loc("sum")
    %1 = top.relu %0 : (tensor<2x3xf32>) -> tensor<2x3xf32> loc("act")
    %2 = top.mul %1, %x : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32> loc("out")
    return %2 : tensor<2x3xf32>
  }
}
"""


def _module(text: str):
    return parse_module(text, source="<test>")


def _inputs(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {"x": rng.standard_normal((2, 3)).astype(np.float32),
            "y:0": rng.standard_normal((2, 3)).astype(np.float32)}


def test_runs_and_names():
    module = _module(CHAIN)
    func = module.main
    assert input_names(func) == ["x", "y:0"]
    assert output_names(func) == ["out"]
    inputs = _inputs()
    outputs, kept = run_function(func, inputs)
    x, y = inputs["x"], inputs["y:0"]
    np.testing.assert_allclose(outputs["out"], np.maximum(x + y, 0) * x, rtol=1e-6)
    assert kept == {}
    assert list(run_module(module, inputs)) == ["out"]


def test_input_errors_name_the_inputs():
    func = _module(CHAIN).main
    good = _inputs()
    with pytest.raises(InterpreterError, match=r"missing input\(s\) y:0;.*inputs are: x, y:0"):
        run_function(func, {"x": good["x"]})
    with pytest.raises(InterpreterError, match=r"unknown input\(s\) z"):
        run_function(func, dict(good, z=good["x"]))
    with pytest.raises(InterpreterError, match=r"input 'x' has shape \(3, 2\).*\(2, 3\)"):
        run_function(func, dict(good, x=good["x"].T.copy()))
    with pytest.raises(InterpreterError, match="input 'x' is int32, the model expects float32"):
        run_function(func, dict(good, x=good["x"].astype(np.int32)))


def test_float_inputs_are_converted_to_the_model_dtype():
    func = _module(CHAIN).main
    inputs = _inputs()
    want, _ = run_function(func, inputs)
    got, _ = run_function(func, {k: v.astype(np.float64) for k, v in inputs.items()})
    assert got["out"].dtype == np.float32
    np.testing.assert_array_equal(got["out"], want["out"])


def test_keep_all_and_on_tensor():
    func = _module(CHAIN).main
    inputs = _inputs()
    seen = []
    outputs, kept = run_function(func, inputs, keep_all=True,
                                 on_tensor=lambda loc, a: seen.append((loc, a.shape)))
    assert seen == [("sum", (2, 3)), ("act", (2, 3)), ("out", (2, 3))]
    assert list(kept) == ["x", "y:0", "sum", "act", "out"]
    np.testing.assert_array_equal(kept["sum"], inputs["x"] + inputs["y:0"])
    assert kept["out"] is outputs["out"]
    everything = run_module(_module(CHAIN), inputs, keep_all=True)
    assert set(everything) == {"x", "y:0", "sum", "act", "out"}


def _long_chain(n: int, size: int, unused_every: int = 0) -> str:
    """`n` relus in a row on a 1 x size tensor; every `unused_every`-th also feeds a sigmoid
    that nothing reads."""
    t = f"tensor<1x{size}xf32>"
    lines, prev = [], "%x"
    for i in range(n):
        lines.append(f'    %r{i} = top.relu {prev} : ({t}) -> {t} loc("r{i}")')
        if unused_every and i % unused_every == 0:
            lines.append(f'    %u{i} = top.sigmoid %r{i} : ({t}) -> {t} loc("u{i}")')
        prev = f"%r{i}"
    body = "\n".join(lines)
    return (f"module @long {{\n  func.func @main(%x: {t}) -> {t} {{\n{body}\n"
            f"    return {prev} : {t}\n  }}\n}}\n")


def test_dead_arrays_are_freed_as_soon_as_their_last_user_ran():
    """Memory stays at the live set: when op k runs, the result of op k-2 (and every result
    nothing reads) is already gone; with keep_all nothing is dropped."""
    func = _module(_long_chain(12, 1000, unused_every=3)).main
    refs: dict[str, weakref.ref] = {}
    alive_when: dict[str, list[str]] = {}

    def watch(loc: str, array: np.ndarray) -> None:
        alive_when[loc] = [name for name, r in refs.items() if r() is not None]
        refs[loc] = weakref.ref(array)

    outputs, _ = run_function(func, random_inputs(func), on_tensor=watch)
    for i in range(2, 12):
        # r{i-1} is r{i}'s operand; an unused sigmoid result lives only until it is reported.
        assert alive_when[f"r{i}"] == [f"r{i - 1}"], alive_when[f"r{i}"]
    assert [name for name, r in refs.items() if r() is not None] == ["r11"]
    assert refs["r11"]() is outputs["r11"]

    refs.clear()
    _, kept = run_function(func, random_inputs(func), keep_all=True, on_tensor=watch)
    assert all(r() is not None for r in refs.values())
    assert len(kept) == 1 + 12 + 4


def test_memory_stays_bounded_on_a_long_chain():
    import tracemalloc

    size = 1 << 18  # 1 MiB per float32 tensor
    func = _module(_long_chain(40, size)).main
    inputs = random_inputs(func)
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        run_function(func, inputs)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * 4 * size, f"peak {peak / 2**20:.1f} MiB for 1 MiB tensors"


BAD = """
module @bad {
  func.func @main(%x: tensor<4x4xf32>) -> tensor<4x4xf32> {
    %0 = top.reshape %x {shape = [2, 8]} : (tensor<4x4xf32>) -> tensor<4x4xf32> loc("squash")
    return %0 : tensor<4x4xf32>
  }
}
"""


def test_result_shape_mismatch_names_the_op():
    func = _module(BAD).main
    with pytest.raises(InterpreterError, match=r"'top.reshape' op loc\(\"squash\"\): kernel "
                                               r"made shape \(2, 8\), the IR says \(4, 4\)"):
        run_function(func, random_inputs(func))


def test_result_dtype_mismatch_names_the_op():
    text = BAD.replace('top.reshape %x {shape = [2, 8]} : (tensor<4x4xf32>) -> tensor<4x4xf32>',
                       'top.relu %x : (tensor<4x4xf32>) -> tensor<4x4xf16>')
    text = text.replace("-> tensor<4x4xf32> {", "-> tensor<4x4xf16> {")
    text = text.replace("return %0 : tensor<4x4xf32>", "return %0 : tensor<4x4xf16>")
    func = _module(text).main
    with pytest.raises(InterpreterError,
                       match=r"'top.relu' op loc\(\"squash\"\): kernel made float32, the IR "
                             r"says f16"):
        run_function(func, random_inputs(func))


def test_kernel_failure_names_the_op():
    text = """
module @conv {
  func.func @main(%x: tensor<1x4x5x5xf32>) -> tensor<1x4x5x5xf32> {
    %w = top.weight @"w" : tensor<4x3x3x3xf32>
    %n = top.none : none
    %0 = top.conv %x, %w, %n {strides = [1, 1], pads = [1, 1, 1, 1], dilations = [1, 1],
      group = 1} : (tensor<1x4x5x5xf32>, tensor<4x3x3x3xf32>, none) -> tensor<1x4x5x5xf32>
      loc("c0")
    return %0 : tensor<1x4x5x5xf32>
  }
}
"""
    module = _module(text)
    with pytest.raises(InterpreterError, match=r"'top.weight' op.*no weights file"):
        run_module(module)
    module.weights = WeightStore()
    module.weights.add("w", np.zeros((4, 3, 3, 3), np.float32))
    with pytest.raises(InterpreterError, match=r"'top.conv' op loc\(\"c0\"\): kernel failed: "
                                               r"ValueError: w.shape\[1\]=3"):
        run_module(module)


def test_weights_feed_top_weight_and_the_context():
    text = """
module @w {
  func.func @main(%x: tensor<2xf32>) -> tensor<2xf32> {
    %w = top.weight @"scale" : tensor<2xf32>
    %0 = top.mul %x, %w : (tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32> loc("scaled")
    return %0 : tensor<2xf32>
  }
}
"""
    module = _module(text)
    module.weights = WeightStore()
    module.weights.add("scale", np.array([2.0, -1.0], np.float32))
    out = run_module(module, {"x": np.array([3.0, 4.0], np.float32)})
    np.testing.assert_array_equal(out["scaled"], [6.0, -4.0])
    ctx = EvalContext(module.weights)
    assert ctx.cache == {} and ctx.weights is module.weights


def test_random_inputs_are_deterministic():
    func = _module(CHAIN).main
    a, b = random_inputs(func, seed=3), random_inputs(func, seed=3)
    assert list(a) == ["x", "y:0"]
    assert all(np.array_equal(a[k], b[k]) and a[k].dtype == np.float32 for k in a)


def test_conv_with_fused_relu():
    text = """
module @c {
  func.func @main(%x: tensor<1x2x6x5xf32>) -> tensor<1x3x6x5xf32> {
    %w = top.weight @"w" : tensor<3x2x3x3xf32>
    %b = top.weight @"b" : tensor<3xf32>
    %0 = top.conv %x, %w, %b {strides = [1, 1], pads = [1, 1, 1, 1], dilations = [1, 1],
      do_relu = true} : (tensor<1x2x6x5xf32>, tensor<3x2x3x3xf32>, tensor<3xf32>)
      -> tensor<1x3x6x5xf32> loc("c")
    return %0 : tensor<1x3x6x5xf32>
  }
}
"""
    from kiln.kernels.conv import conv

    module = _module(text)
    rng = np.random.default_rng(5)
    w, b = rng.standard_normal((3, 2, 3, 3), np.float32), rng.standard_normal(3, np.float32)
    module.weights = WeightStore()
    module.weights.add("w", w)
    module.weights.add("b", b)
    x = rng.standard_normal((1, 2, 6, 5), np.float32)
    got = run_module(module, {"x": x})["c"]
    want = conv(x, w, b, strides=[1, 1], pads=[1, 1, 1, 1], dilations=[1, 1], group=1)
    assert (want < 0).any()
    np.testing.assert_array_equal(got, np.maximum(want, 0))
