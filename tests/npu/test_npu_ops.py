# ruff: noqa: E501  (IR text lines)
"""npu ops through the parser, verifier and reference interpreter: each op's result equals
its integer kernel, and the whole chain stays within one LSB of a fake-quant float model."""

from __future__ import annotations

from pathlib import Path

import kiln.dialects  # noqa: F401  (registers the ops)
import numpy as np
import pytest
from kiln.compiler.interpreter import run_module
from kiln.compiler.text.parser import parse_module
from kiln.compiler.text.printer import print_module
from kiln.compiler.verifier import verify_module
from kiln.dialects.quant import quantize_multipliers
from kiln.kernels import activation as act
from kiln.kernels import conv as conv_kernels
from kiln.kernels import integer as ik

OPS = Path(__file__).parents[2] / "lit_tests" / "dialects" / "npu" / "ops.mlir"


def _module(text: str):
    module = parse_module(text, source="<test>")
    verify_module(module)
    return module


def test_every_op_runs_and_round_trips():
    module = _module(OPS.read_text())
    names = {op.name for op in module.main.body}
    assert {"npu.cast", "npu.conv2d", "npu.add", "npu.requant", "npu.max_pool",
            "npu.avg_pool", "npu.lut", "npu.concat", "npu.matmul", "npu.mul"} <= names
    rng = np.random.default_rng(0)
    inputs = {"x": rng.standard_normal((1, 4, 6, 6)).astype(np.float32),
              "b": rng.integers(0, 256, (1, 8, 3, 3)).astype(np.uint8)}
    out = run_module(module, inputs, keep_all=True)
    assert all(a.dtype != np.float64 for a in out.values())
    again = _module(print_module(module))
    out2 = run_module(again, inputs)
    (name,) = out2
    assert (out2[name] == out[name]).all()


QCONV = """
func.func @main(%x: tensor<1x3x8x8x!quant.uniform<u8:f32, 0.03:120>>) -> tensor<1x6x8x8x!quant.uniform<i8:f32, 0.0078125>> {
  %w = top.constant {value = dense<W> : tensor<6x3x3x3xi8>} : tensor<6x3x3x3xi8>
  %b = top.constant {value = dense<B> : tensor<6xi32>} : tensor<6xi32>
  %0 = npu.conv2d %x, %w, %b {strides = [1, 1], pads = [1, 1, 1, 1], dilations = [1, 1], input_zp = 120, multiplier = M, shift = S, output_zp = -4} : (tensor<1x3x8x8x!quant.uniform<u8:f32, 0.03:120>>, tensor<6x3x3x3xi8>, tensor<6xi32>) -> tensor<1x6x8x8x!quant.uniform<i8:f32, 0.1:-4>> loc("conv")
  %1 = npu.lut %0 {table = dense<T> : tensor<256xi8>} : (tensor<1x6x8x8x!quant.uniform<i8:f32, 0.1:-4>>) -> tensor<1x6x8x8x!quant.uniform<i8:f32, 0.0078125>> loc("lut")
  return %1 : tensor<1x6x8x8x!quant.uniform<i8:f32, 0.0078125>>
}
"""


def _list(a) -> str:
    return "[" + ", ".join(str(int(v)) for v in np.ravel(a)) + "]"


@pytest.mark.parametrize("seed", range(2))
def test_conv_then_lut_matches_fake_quant(seed):
    rng = np.random.default_rng(seed)
    w = rng.integers(-127, 128, (6, 3, 3, 3))
    w_scale = rng.uniform(0.005, 0.02, 6).astype(np.float32)
    b = rng.integers(-3000, 3000, 6)
    m, s = quantize_multipliers(np.float32(0.03) * w_scale.astype(np.float64)
                                / np.float32(0.1))
    table = ik.make_lut(act.sigmoid, 0.1, -4, 0.0078125, 0, np.int8)
    text = (QCONV.replace("dense<W>", f"dense<{_list(w)}>")
            .replace("dense<B>", f"dense<{_list(b)}>").replace("= M", f"= {_list(m)}")
            .replace("= S", f"= {_list(s)}").replace("dense<T>", f"dense<{_list(table)}>"))
    module = _module(text)
    x = rng.integers(0, 256, (1, 3, 8, 8)).astype(np.uint8)
    out = run_module(module, {"x": x}, keep_all=True)
    conv_out = out["conv"]
    # integer conv vs fake-quant float conv
    y = conv_kernels.conv((x.astype(np.float64) - 120) * np.float32(0.03),
                          w * w_scale[:, None, None, None].astype(np.float64),
                          b * np.float32(0.03) * w_scale.astype(np.float64),
                          strides=[1, 1], pads=[1, 1, 1, 1], dilations=[1, 1], group=1)
    want = ik.quantize(y, np.float32(0.1), -4, np.int8)
    diff = np.abs(conv_out.astype(int) - want.astype(int))
    assert diff.max() <= 1 and (diff == 0).mean() > 0.95
    final = out["lut"]
    assert final.dtype == np.int8
    assert (final == ik.lut(conv_out, table)).all()


def test_requant_per_channel_and_cast():
    m, s = quantize_multipliers([0.5, 0.25])
    text = f"""
func.func @main(%x: tensor<2x2xi32>) -> tensor<2x2xf32> {{
  %0 = npu.requant %x {{multiplier = {_list(m)}, shift = {_list(s)}, axis = 1, output_zp = 1}} : (tensor<2x2xi32>) -> tensor<2x2x!quant.uniform<i8:f32, 0.5:1>>
  %1 = npu.cast %0 : (tensor<2x2x!quant.uniform<i8:f32, 0.5:1>>) -> tensor<2x2xf32>
  return %1 : tensor<2x2xf32>
}}
"""
    module = _module(text)
    out = run_module(module, {"x": np.array([[3, -6], [-3, 1000]], np.int32)})
    (y,) = out.values()
    # q: 1.5 -> 2, -1.5 -> -2 (ties away), -1.5 -> -2, 250 -> 127 (clamp); then + zp 1
    assert y.dtype == np.float32
    assert y.tolist() == [[1.0, -1.0], [-1.0, 63.0]]


def test_quantize_cast_per_axis():
    text = """
func.func @main(%x: tensor<2x3xf32>) -> tensor<2x3x!quant.uniform<i8:f32:0, {0.5, 0.25}>> {
  %0 = npu.cast %x : (tensor<2x3xf32>) -> tensor<2x3x!quant.uniform<i8:f32:0, {0.5, 0.25}>>
  return %0 : tensor<2x3x!quant.uniform<i8:f32:0, {0.5, 0.25}>>
}
"""
    x = np.array([[0.25, -0.75, 1.0], [0.125, -0.375, 100.0]], np.float32)
    (q,) = run_module(_module(text), {"x": x}).values()
    assert q.dtype == np.int8 and q.tolist() == [[1, -2, 2], [1, -2, 127]]
