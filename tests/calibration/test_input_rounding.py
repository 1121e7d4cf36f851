"""kiln.calibration.input_rounding and its use by lower-to-npu: the mean rounding error of an
integer conv's input is measured on the type the lowering gives it, recorded beside the
float model, taken out of the conv's bias by the lowering (only for that very input type),
and the integer model's mean output error per channel falls; 1x1 maps and small means are
left alone; a padded conv weighs each tap by how often it reads the input."""

from __future__ import annotations

import numpy as np
import pytest
from kiln.calibration import input_rounding as ir
from kiln.calibration.simulate import fake_quant_type
from kiln.calibration.table import CalibrationTable
from kiln.compiler.interpreter import run_function
from kiln.compiler.text.parser import parse_module
from kiln.compiler.weights import WeightStore
from kiln.passes.lower_to_npu import INPUT_ROUNDING_ATTR, INPUT_ROUNDING_TYPE_ATTR, tap_fractions
from kiln.tools.model_runner import run_interpreter
from kiln.tools.run_calibration import lower_with

C, H = 4, 12


def _model(size: int = H) -> str:
    t = f"tensor<1x{C}x{size}x{size}xf32>"
    o = f"tensor<1x3x{size}x{size}xf32>"
    return f"""
module @m {{
  func.func @main(%x: {t}) -> {o} {{
    %a = top.silu %x : ({t}) -> {t} loc("act")
    %w = top.weight @"w" : tensor<3x{C}x3x3xf32>
    %b = top.weight @"b" : tensor<3xf32>
    %c = top.conv %a, %w, %b {{strides = [1, 1], pads = [1, 1, 1, 1], dilations = [1, 1], group = 1}} : ({t}, tensor<3x{C}x3x3xf32>, tensor<3xf32>) -> {o} loc("conv")
    return %c : {o}
  }}
}}
"""


def _case(rng, size: int = H, spread: float = 0.4):
    from kiln import dialects  # noqa: F401  (registers the ops)

    module = parse_module(_model(size))
    module.weights = WeightStore()
    module.weights.add("w", (0.3 * rng.standard_normal((3, C, 3, 3))).astype(np.float32))
    module.weights.add("b", np.array([0.1, -0.2, 0.0], np.float32))
    # SiLU of inputs around -1.5 .. 0: outputs in [-0.28, 0] on a grid of 0.1 (threshold
    # 12.7): each channel's rounding errors have a mean well away from zero
    means = np.linspace(-1.5, 0.0, C, dtype=np.float32).reshape(1, C, 1, 1)

    def samples(n: int) -> list[dict]:
        return [{"x": (means + spread * rng.standard_normal((1, C, size, size))
                       ).astype(np.float32)} for _ in range(n)]

    table = CalibrationTable()
    table.add("x", 4.0, -4.0, 4.0)
    table.add("act", 12.7, -0.28, 12.7)
    table.add("conv", 6.0, -6.0, 6.0)
    return module, table, samples


def _output_bias(module, lowered, samples) -> np.ndarray:
    """Per output channel, the integer model's mean error against float."""
    errs = []
    for s in samples:
        ref = run_function(module.main, s, weights=module.weights)[0]
        got = run_interpreter(lowered, s)
        errs.append((next(iter(got.values())) - next(iter(ref.values())))[0].mean(axis=(1, 2)))
    return np.mean(errs, axis=0)


def test_the_mean_rounding_error_is_measured_on_the_lowered_type(rng):
    module, table, samples = _case(rng)
    lowered = lower_with(module, table, "int8-sym", {})
    data = samples(6)
    assert ir.measure_input_rounding(module, lowered, data) == ["conv"]
    conv = next(op for op in module.walk() if op.name == "top.conv")
    (t,) = conv.attributes[INPUT_ROUNDING_TYPE_ATTR]
    assert t.shape == (C,) and t.element.storage.name == "i8"
    assert t.element.scale == pytest.approx(0.1, rel=1e-6)
    (ref,) = conv.attributes[INPUT_ROUNDING_ATTR]
    got = module.weights.get(ref.name)
    errors = []
    for s in data:
        a = run_function(module.main, s, weights=module.weights, keep_all=True)[1]["act"]
        a = a.astype(np.float64)
        errors.append((fake_quant_type(a, t.element) - a)[0].mean(axis=(1, 2)))
    want = np.mean(errors, axis=0)
    want[np.abs(want) < ir.MIN_MEAN_STEPS * t.element.scale] = 0.0
    assert np.abs(want).max() > 0.01  # a tenth of a step: the case is what it says
    np.testing.assert_allclose(got, want, atol=1e-6)


def test_the_lowering_takes_it_out_of_the_bias_and_the_output_mean_falls(rng):
    module, table, samples = _case(rng)
    plain = lower_with(module, table, "int8-sym", {})
    ir.measure_input_rounding(module, plain, samples(8))
    corrected = lower_with(module, table, "int8-sym", {})
    assert not any(k.startswith("kiln.input_rounding") for op in corrected.walk()
                   for k in op.attributes)

    def bias(low) -> np.ndarray:
        b = next(op for op in low.walk() if op.loc == "conv_bias_i32")
        return low.weights.get(b.attributes["ref"].name)

    assert not np.array_equal(bias(plain), bias(corrected))
    held_out = samples(8)
    before = np.abs(_output_bias(module, plain, held_out))
    after = np.abs(_output_bias(module, corrected, held_out))
    assert after.max() < 0.5 * before.max()


def test_each_scheme_gets_its_own_mean(rng):
    """Measured on the symmetric and the --asymmetric lowering: two means, and each lowering
    takes the one for the type it reads (here both move the bias)."""
    module, table, samples = _case(rng)
    schemes = [lower_with(module, table, "int8-sym", {}, asym) for asym in (False, True)]
    assert ir.measure_input_rounding(module, schemes, samples(6)) == ["conv"]
    conv = next(op for op in module.walk() if op.name == "top.conv")
    kinds = conv.attributes[INPUT_ROUNDING_TYPE_ATTR]
    assert len(kinds) == len(conv.attributes[INPUT_ROUNDING_ATTR]) == 2
    assert kinds[0].element.zp in (None, 0) and kinds[1].element.zp not in (None, 0)
    plain = parse_module(_model())
    plain.weights = module.weights
    for asym in (False, True):
        want = lower_with(plain, table, "int8-sym", {}, asym)
        got = lower_with(module, table, "int8-sym", {}, asym)
        assert not np.array_equal(*(low.weights.get("conv_bias_i32") for low in (want, got)))


def test_another_input_type_ignores_it(rng):
    module, table, samples = _case(rng)
    before = lower_with(module, table, "int8-sym", {})
    ir.measure_input_rounding(module, before, samples(4))
    # --asymmetric (affine i8), another table (other scale), a 16-bit input: no correction
    plain = parse_module(_model())
    plain.weights = module.weights
    wider = CalibrationTable(entries=dict(table.entries))
    wider.add("act", 25.4, -0.28, 25.4)
    for m, t, modes in [(module, wider, {}), (module, table, {"conv": "INT16"})]:
        want, got = lower_with(plain, t, "int8-sym", modes), lower_with(m, t, "int8-sym", modes)
        wb = [want.weights.get(op.attributes["ref"].name) for op in want.walk()
              if op.name == "top.weight" and "bias" in (op.loc or "")]
        gb = [got.weights.get(op.attributes["ref"].name) for op in got.walk()
              if op.name == "top.weight" and "bias" in (op.loc or "")]
        assert len(wb) == len(gb) == 1 and np.array_equal(wb[0], gb[0])


def test_one_by_one_maps_and_small_means_are_left_alone(rng):
    module, table, samples = _case(rng, size=1)  # 6 samples x 1 value per channel
    lowered = lower_with(module, table, "int8-sym", {})
    assert ir.measure_input_rounding(module, lowered, samples(6)) == []
    # SiLU outputs spread over many steps (inputs of std 3, outputs up to ~9 on a grid of
    # 0.1): the rounding errors average out, every channel's mean far below a tenth of a step
    module, table, samples = _case(rng, spread=3.0)
    assert ir.measure_input_rounding(module, lower_with(module, table, "int8-sym", {}),
                                     samples(6)) == []


@pytest.mark.parametrize("size,kernel,strides,pads,dilations", [
    ((3, 12), (5, 5), (1, 1), (2, 2, 2, 2), (1, 1)),
    ((7, 8), (3, 3), (2, 2), (1, 0, 1, 1), (1, 1)),
    ((9, 9), (3, 3), (1, 1), (2, 2, 2, 2), (2, 2)),
])
def test_tap_fractions_count_the_positions_that_read_the_input(size, kernel, strides, pads,
                                                               dilations):
    got = tap_fractions(size, kernel, strides, pads, dilations)
    padded = np.zeros((size[0] + pads[0] + pads[2], size[1] + pads[1] + pads[3]))
    padded[pads[0]:pads[0] + size[0], pads[1]:pads[1] + size[1]] = 1.0
    rows = range(0, padded.shape[0] - dilations[0] * (kernel[0] - 1), strides[0])
    cols = range(0, padded.shape[1] - dilations[1] * (kernel[1] - 1), strides[1])
    want = np.zeros(kernel)
    for i in rows:
        for j in cols:
            want += padded[i:i + dilations[0] * (kernel[0] - 1) + 1:dilations[0],
                           j:j + dilations[1] * (kernel[1] - 1) + 1:dilations[1]]
    np.testing.assert_allclose(got, want / (len(rows) * len(cols)))


def test_a_matmul_takes_its_rows_mean_out_of_a_new_bias(rng):
    from kiln import dialects  # noqa: F401

    t, o = "tensor<1x64x8xf32>", "tensor<1x64x3xf32>"
    module = parse_module(f"""
module @m {{
  func.func @main(%x: {t}) -> {o} {{
    %a = top.silu %x : ({t}) -> {t} loc("act")
    %w = top.weight @"w" : tensor<8x3xf32>
    %y = top.matmul %a, %w : ({t}, tensor<8x3xf32>) -> {o} loc("fc")
    return %y : {o}
  }}
}}
""")
    module.weights = WeightStore()
    module.weights.add("w", (0.5 * rng.standard_normal((8, 3))).astype(np.float32))
    means = np.linspace(-1.5, 0.0, 8, dtype=np.float32)

    def samples(n: int) -> list[dict]:
        return [{"x": (means + 0.4 * rng.standard_normal((1, 64, 8))).astype(np.float32)}
                for _ in range(n)]

    table = CalibrationTable()
    table.add("x", 4.0, -4.0, 4.0)
    table.add("act", 12.7, -0.28, 12.7)
    table.add("fc", 6.0, -6.0, 6.0)
    plain = lower_with(module, table, "int8-sym", {})
    assert ir.measure_input_rounding(module, plain, samples(6)) == ["fc"]
    corrected = lower_with(module, table, "int8-sym", {})
    mm = [op for op in corrected.walk() if op.name == "npu.matmul"]
    assert len(mm) == 1 and len(mm[0].operands) == 3  # a bias where there was none

    def mean_error(low) -> np.ndarray:
        errs = []
        for s in samples(6):
            ref = next(iter(run_function(module.main, s, weights=module.weights)[0].values()))
            errs.append((next(iter(run_interpreter(low, s).values())) - ref)[0].mean(axis=0))
        return np.abs(np.mean(errs, axis=0))

    assert mean_error(corrected).max() < 0.5 * mean_error(plain).max()
