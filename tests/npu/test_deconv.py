"""npu.deconv2d, the integer transposed conv (PP-OCRv4 detection's DB head upsamples with
two): the kernel against float on dequantized integers, the lowering of top.conv_transpose
on every target, the QDQ export in onnxruntime against kiln's integer result, and what stays
float (group > 1)."""

from __future__ import annotations

import kiln.dialects  # noqa: F401  (registers the ops)
import numpy as np
import onnx
import onnxruntime as ort
import pytest
from kiln.codegen.onnx_qdq import export_qdq
from kiln.compiler.interpreter import run_module
from kiln.compiler.similarity import cosine_similarity
from kiln.compiler.text.parser import parse_module
from kiln.compiler.verifier import verify_module
from kiln.dialects.quant import quantize_multipliers
from kiln.kernels import conv as conv_kernels
from kiln.kernels import integer as ik
from kiln.passes.registry import build_pass_manager

ATTRS = dict(strides=[2, 2], pads=[1, 0, 0, 1], dilations=[1, 1], output_padding=[1, 0])


@pytest.mark.parametrize("dtype,zp,relu", [(np.int8, -3, False), (np.uint8, 128, True)])
def test_kernel_matches_float_on_the_integers(dtype, zp, relu):
    rng = np.random.default_rng(2)
    s_in, s_out = 0.05, 0.1
    lo, hi = (-128, 128) if dtype == np.int8 else (0, 256)
    x = rng.integers(lo, hi, (2, 3, 5, 4)).astype(dtype)
    w = rng.integers(-127, 128, (3, 4, 3, 2)).astype(np.int8)
    w_scale = rng.uniform(0.005, 0.02, 4)
    bias = rng.integers(-2000, 2000, 4).astype(np.int32)
    mult, shift = quantize_multipliers(s_in * w_scale / s_out)
    got = ik.deconv2d(x, w, bias, input_zp=zp, multiplier=mult, shift=shift, output_zp=2,
                      dtype=np.int8, do_relu=relu, **ATTRS)
    real = (x.astype(np.float64) - zp) * s_in
    y = conv_kernels.conv_transpose(real, w * w_scale[None, :, None, None], bias * s_in * w_scale,
                                    group=1, **ATTRS)
    if relu:
        y = np.maximum(y, 0)
    want = ik.quantize(y, s_out, 2, np.int8)
    assert got.shape == want.shape == (2, 4, 11, 7)
    diff = np.abs(got.astype(np.int64) - want.astype(np.int64))
    assert diff.max() <= 1 and (diff == 0).mean() >= 0.95


def _case(group: int) -> tuple[str, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    w = rng.normal(0, 0.3, (3, 4 if group == 1 else 1, 2, 2)).astype(np.float32)
    b = rng.normal(0, 0.1, w.shape[1] * group).astype(np.float32)
    cin, m = w.shape[0], w.shape[1] * group

    def dense(a: np.ndarray) -> str:
        return np.array2string(a, separator=", ", threshold=10**6,
                               formatter={"float_kind": lambda v: repr(float(v))})

    t_in = f"tensor<1x{cin}x4x4x!quant.calibrated<f32<-2.0:2.0>>>"
    t_out = f"tensor<1x{m}x8x8x!quant.calibrated<f32<-3.0:3.0>>>"
    t_w = f"tensor<{'x'.join(map(str, w.shape))}xf32>"
    t_b = f"tensor<{b.shape[0]}xf32>"
    attrs = ("strides = [2, 2], pads = [0, 0, 0, 0], dilations = [1, 1], "
             f"output_padding = [0, 0], group = {group}")
    text = f"""
func.func @main(%x: {t_in}) -> {t_out} {{
  %w = top.constant {{value = dense<{dense(w)}> : {t_w}}} : {t_w}
  %b = top.constant {{value = dense<{dense(b)}> : {t_b}}} : {t_b}
  %y = top.conv_transpose %x, %w, %b {{{attrs}}} : ({t_in}, {t_w}, {t_b}) -> {t_out} loc("up")
  return %y : {t_out}
}}
"""
    return text, w, b


@pytest.mark.parametrize("target", ["int8-sym", "uint8-affine", "dfp-int16", "feature12"])
def test_conv_transpose_lowers_to_an_integer_op(target):
    text, w, b = _case(1)
    module = parse_module(text)
    build_pass_manager(f"lower-to-npu{{target={target}}}").run(module)
    verify_module(module)
    ops = {op.loc: op for op in module.walk() if op.loc}
    assert ops["up"].name == "npu.deconv2d"
    x = np.random.default_rng(4).uniform(-2, 2, (1, 3, 4, 4)).astype(np.float32)
    (got,) = run_module(module, {"x": x}).values()
    want = conv_kernels.conv_transpose(x, w, b, strides=[2, 2], pads=[0, 0, 0, 0],
                                       dilations=[1, 1], group=1, output_padding=[0, 0])
    # input step 4/255 (1/64 on dfp), output step 6/255: a few output steps at most
    assert np.abs(got - want).max() < 4 * 6 / 255
    assert cosine_similarity(want, got) > 0.999

    model = export_qdq(module)
    onnx.checker.check_model(model, full_check=True)
    assert "ConvTranspose" in [n.op_type for n in model.graph.node]
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    sess = ort.InferenceSession(model.SerializeToString(), opts,
                                providers=["CPUExecutionProvider"])
    (exported,) = sess.run(None, {"x": x})
    step = 6 / 255 if target != "dfp-int16" else 2.0 ** -5
    assert np.abs(exported - got).max() <= step * 1.01


def test_grouped_conv_transpose_stays_float():
    text, _, _ = _case(3)
    module = parse_module(text)
    build_pass_manager("lower-to-npu").run(module)
    names = [op.name for op in module.walk()]
    assert "top.conv_transpose" in names and "npu.deconv2d" not in names
