"""kiln.calibration.bias_correction: each conv corrects its own weight-rounding shift only."""

from __future__ import annotations

import numpy as np
from kiln.calibration.bias_correction import correct_biases
from kiln.calibration.simulate import QuantSimulator
from kiln.compiler.interpreter import run_function
from kiln.compiler.text.parser import parse_module
from kiln.compiler.weights import WeightStore

CHAIN = """
module @chain {
  func.func @main(%x: tensor<1x4x6x6xf32>) -> tensor<1x4x6x6xf32> {
    %w1 = top.weight @"w1" : tensor<4x4x1x1xf32>
    %b1 = top.weight @"b1" : tensor<4xf32>
    %a = top.conv %x, %w1, %b1 {strides = [1, 1], pads = [0, 0, 0, 0], dilations = [1, 1], group = 1} : (tensor<1x4x6x6xf32>, tensor<4x4x1x1xf32>, tensor<4xf32>) -> tensor<1x4x6x6xf32> loc("c1")
    %w2 = top.weight @"w2" : tensor<4x4x1x1xf32>
    %b = top.conv %a, %w2 {strides = [1, 1], pads = [0, 0, 0, 0], dilations = [1, 1], group = 1} : (tensor<1x4x6x6xf32>, tensor<4x4x1x1xf32>) -> tensor<1x4x6x6xf32> loc("c2")
    return %b : tensor<1x4x6x6xf32>
  }
}
"""


def _chain(rng) -> tuple:
    from kiln import dialects  # noqa: F401  (registers the ops)

    module = parse_module(CHAIN)
    module.weights = WeightStore()
    # one large weight per output channel sets a coarse step: the others round far off
    for name in ("w1", "w2"):
        w = rng.uniform(-0.3, 0.3, (4, 4, 1, 1)).astype(np.float32)
        w[:, 0] = 4.0
        module.weights.add(name, w)
    module.weights.add("b1", np.array([0.5, -0.5, 1.0, 0.0], np.float32))
    samples = [{"x": rng.uniform(0.5, 2.0, (1, 4, 6, 6)).astype(np.float32)}
               for _ in range(5)]
    return module, samples


def _means(module, samples, quantized: bool) -> np.ndarray:
    sim = QuantSimulator(module, {}, fake_quant="weights")
    outs = [sim.run(s)["c2"] if quantized else
            run_function(module.main, s, weights=module.weights)[0]["c2"] for s in samples]
    return np.mean([o.mean(axis=(0, 2, 3)) for o in outs], axis=0)


def test_linear_chain_gets_the_float_means_back(rng):
    # 1x1 convs, no nonlinearity: with each conv's own shift corrected, the int8-weight
    # chain's output means equal float's (correcting c2 for the shift c1 passes on, as the
    # first version did, overshoots by that shift)
    module, samples = _chain(rng)
    want = _means(module, samples, quantized=False)
    before = _means(module, samples, quantized=True)
    assert np.abs(before - want).max() > 1e-2
    assert correct_biases(module, samples) == ["c1", "c2"]
    after = _means(module, samples, quantized=True)
    np.testing.assert_allclose(after, want, rtol=0, atol=1e-4)
    # the float model now differs from the original one by the corrections only
    assert "b1" in module.weights.names() and "c2_bc_bias" in module.weights.names()


def test_negligible_shift_is_left_alone(rng):
    module, samples = _chain(rng)
    assert correct_biases(module, samples, min_relative=1.0) == []
