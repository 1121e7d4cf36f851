"""kiln.calibration.weight_rounding: output-aware rounding on the target's grid. The
rounding lowers the output error E||x (W - Q)||^2 below nearest rounding on held-out inputs,
keeps each channel's scale (the lowering finds the chosen integers exactly, also with
power-of-two scales) and the float weight beside it, handles grouped and depthwise convs
and matmuls, and leaves layers with too few input rows alone."""

from __future__ import annotations

import numpy as np
import pytest
from kiln.calibration import weight_rounding as wr
from kiln.compiler.interpreter import run_function
from kiln.compiler.target import load_target
from kiln.compiler.text.parser import parse_module
from kiln.compiler.weights import WeightStore
from kiln.passes.lower_to_npu import ROUNDED_WEIGHT_ATTR
from kiln.passes.lowering.scheme import QScheme


def test_columns_beat_nearest_and_keep_the_pinned_weight(rng):
    k, r = 24, 6
    mix = rng.standard_normal((k, k))
    x = rng.standard_normal((4000, k)) @ mix  # correlated inputs
    h = x.T @ x
    w = rng.standard_normal((r, k))
    s = np.abs(w).max(axis=1) / 127
    pinned = np.argmax(np.abs(w), axis=1)
    q = wr.round_columns(w, h, s, 127, pinned)
    nearest = np.sign(w) * np.floor(np.abs(w) / s[:, None] + 0.5)
    assert np.all(q == np.round(q)) and np.abs(q).max() <= 127
    assert np.all(q[np.arange(r), pinned] == nearest[np.arange(r), pinned])
    assert np.all(np.abs(q).max(axis=1) == 127)  # the scale is kept

    def err(qq):
        e = w - qq * s[:, None]
        return np.einsum("rk,kl,rl->", e, h, e)

    assert err(q) < 0.75 * err(nearest)


def _model(group: int, cin: int, cout: int) -> str:
    t_in = f"tensor<1x{cin}x12x12xf32>"
    t_out = f"tensor<1x{cout}x12x12xf32>"
    return f"""
module @m {{
  func.func @main(%x: {t_in}) -> tensor<1x{cout}x3xf32> {{
    %w = top.weight @"w" : tensor<{cout}x{cin // group}x3x3xf32>
    %c = top.conv %x, %w {{strides = [1, 1], pads = [1, 1, 1, 1], dilations = [1, 1], group = {group}}} : ({t_in}, tensor<{cout}x{cin // group}x3x3xf32>) -> {t_out} loc("conv")
    %s = top.slice %c {{starts = [0, 0, 0, 0], ends = [1, {cout}, 1, 12], steps = [1, 1, 1, 1]}} : ({t_out}) -> tensor<1x{cout}x1x12xf32> loc("row")
    %r = top.reshape %s {{shape = [1, {cout}, 12]}} : (tensor<1x{cout}x1x12xf32>) -> tensor<1x{cout}x12xf32> loc("flat")
    %m = top.weight @"m" : tensor<12x3xf32>
    %y = top.matmul %r, %m : (tensor<1x{cout}x12xf32>, tensor<12x3xf32>) -> tensor<1x{cout}x3xf32> loc("fc")
    return %y : tensor<1x{cout}x3xf32>
  }}
}}
"""


def _samples(rng, cin: int, n: int) -> list[dict]:
    base = np.linspace(-1.0, 1.5, cin).reshape(cin, 1, 1)  # the same for every call
    return [{"x": (base + 0.5 * rng.standard_normal((1, cin, 12, 12))).astype(np.float32)}
            for _ in range(n)]


@pytest.mark.parametrize("group,cin,cout,target", [(1, 4, 8, "int8-sym"),
                                                   (2, 4, 6, "int8-sym"),
                                                   (4, 4, 4, "int8-sym"),
                                                   (1, 4, 8, "dfp-int16")])
def test_layers_are_rounded_on_the_grid_and_closer_on_new_inputs(rng, group, cin, cout,
                                                                 target):
    from kiln import dialects  # noqa: F401  (registers the ops)

    module = parse_module(_model(group, cin, cout))
    module.weights = WeightStore()
    w = rng.standard_normal((cout, cin // group, 3, 3)).astype(np.float32)
    module.weights.add("w", w)
    m = rng.standard_normal((12, 3)).astype(np.float32)
    module.weights.add("m", m)
    scheme = QScheme.of(load_target(target))
    done = wr.round_weights(module, _samples(rng, cin, 10), scheme, max_rows=64)
    assert done == ["conv"]  # the matmul sees cout rows per sample: too few for 12 columns
    conv = next(op for op in module.walk() if op.name == "top.conv")
    new = module.weights.get(conv.attributes[ROUNDED_WEIGHT_ATTR].name)
    assert conv.operands[1].owner.attributes["ref"].name == "w"  # the float weight stays
    assert not np.array_equal(new, w)
    q_new, s_new = scheme.weights(new, 0, 8)
    _, s_old = scheme.weights(w, 0, 8)
    np.testing.assert_array_equal(s_new, s_old)  # same scales: the lowering keeps the grid
    np.testing.assert_allclose(q_new * s_new[:, None, None, None], new, rtol=1e-6, atol=0)

    # on held-out inputs, the conv's output is closer to float than with nearest rounding
    q_old, _ = scheme.weights(w, 0, 8)
    nearest = (q_old * s_old[:, None, None, None]).astype(np.float32)
    held = _samples(rng, cin, 6)
    from kiln.kernels.conv import conv as conv_kernel

    def error(weight):
        total = 0.0
        for s in held:
            kw = dict(strides=[1, 1], pads=[1, 1, 1, 1], dilations=[1, 1], group=group)
            d = conv_kernel(s["x"], weight, None, **kw) - conv_kernel(s["x"], w, None, **kw)
            total += float((d.astype(np.float64) ** 2).sum())
        return total

    assert error(new) < 0.8 * error(nearest)
    out, _ = run_function(module.main, held[0], weights=module.weights)
    assert out["fc"].shape == (1, cout, 3)
