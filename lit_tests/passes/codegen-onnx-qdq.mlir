// The QDQ ONNX export of a lowered module: u8 activations with zero points, a filter without
// a scale of its own (derived from the multipliers), an add, a table, a max pool, a requant
// to i8 and a float op after the dequantize. The model passes onnx.checker, runs in
// onnxruntime and gives kiln's outputs (the integers exactly, the float sigmoid to 1e-6);
// the same module gives the same bytes.
// RUN: %kiln-opt %s -p "codegen{format=onnx-qdq,path=%t.onnx}" -o %t.mlir
// RUN: %kiln-opt %s -p "codegen{format=onnx-qdq,path=%t.2.onnx}" -o %t.2.mlir
// RUN: %python -c "import sys; a, b = (open(p, 'rb').read() for p in sys.argv[1:]); print('same bytes', a == b)" %t.onnx %t.2.onnx | filecheck %s --check-prefix=SAME
// RUN: %python -c "import sys, numpy as np, onnx, onnxruntime as ort, kiln.dialects; \
// RUN:   from kiln.compiler.module_io import read_module; from kiln.compiler.interpreter import run_module; \
// RUN:   m = onnx.load(sys.argv[1]); onnx.checker.check_model(m, full_check=True); \
// RUN:   print('opset', m.opset_import[0].version, 'inputs', [i.name for i in m.graph.input], 'outputs', [o.name for o in m.graph.output]); \
// RUN:   print('nodes', ' '.join(n.name + ':' + n.op_type for n in m.graph.node)); \
// RUN:   rng = np.random.default_rng(0); f = {'images': 3 * rng.standard_normal((1, 4, 4, 4), np.float32), 'skip': 2 * rng.standard_normal((1, 4, 4, 4), np.float32)}; \
// RUN:   s = ort.InferenceSession(m.SerializeToString(), providers=['CPUExecutionProvider']); got = dict(zip([o.name for o in s.get_outputs()], s.run(None, f))); \
// RUN:   want = run_module(read_module(sys.argv[2]), f); d = max(float(np.abs(got[k] - want[k]).max()) for k in want); print('max |onnxruntime - kiln| below 1e-6:', d < 1e-6)" %t.onnx %s | filecheck %s

// SAME: same bytes True
// CHECK: opset 21 inputs ['images', 'skip'] outputs ['out', 'tanh']
// CHECK: nodes x_quantize:QuantizeLinear x_quantize/dequantized:DequantizeLinear w/dequantized:DequantizeLinear conv/Conv:Conv conv/Relu:Relu conv:QuantizeLinear
// CHECK-SAME: skip_quantize:QuantizeLinear conv/dequantized:DequantizeLinear skip_quantize/dequantized:DequantizeLinear add/Add:Add add:QuantizeLinear
// CHECK-SAME: tanh_table/Cast:Cast tanh_table:Gather pool:MaxPool pool/dequantized:DequantizeLinear requant:QuantizeLinear
// CHECK-SAME: dequantize:DequantizeLinear out:Sigmoid tanh_dequantize:DequantizeLinear{{$}}
// CHECK: max |onnxruntime - kiln| below 1e-6: True
module @qdq attributes {kiln.state = "npu"} {
  func.func @main(%x: tensor<1x4x4x4xf32> {kiln.name = "images"}, %y: tensor<1x4x4x4xf32> {kiln.name = "skip"}) -> (tensor<1x4x2x2xf32>, tensor<1x4x4x4xf32>) attributes {kiln.outputs = ["out", "tanh"]} {
    %qx = npu.cast %x : (tensor<1x4x4x4xf32>) -> tensor<1x4x4x4x!quant.uniform<u8:f32, 0.0511:128>> loc("x_quantize")
    %w = top.constant {value = dense<[[[[1]], [[-2]], [[3]], [[4]]], [[[1]], [[1]], [[1]], [[1]]], [[[0]], [[0]], [[0]], [[1]]], [[[-1]], [[2]], [[-3]], [[4]]]]> : tensor<4x4x1x1xi8>} : tensor<4x4x1x1xi8> loc("w")
    %c = npu.conv2d %qx, %w {strides = [1, 1], pads = [0, 0, 0, 0], dilations = [1, 1], group = 1, input_zp = 128, multiplier = [1334191623, 1334191623, 1334191623, 1334191623], shift = [6, 6, 6, 6], output_zp = 10, do_relu = true} : (tensor<1x4x4x4x!quant.uniform<u8:f32, 0.0511:128>>, tensor<4x4x1x1xi8>) -> tensor<1x4x4x4x!quant.uniform<u8:f32, 0.1037:10>> loc("conv")
    %qy = npu.cast %y : (tensor<1x4x4x4xf32>) -> tensor<1x4x4x4x!quant.uniform<u8:f32, 0.0413:100>> loc("skip_quantize")
    %a = npu.add %c, %qy {lhs_zp = 10, rhs_zp = 100, lhs_multiplier = 1073741824, lhs_shift = 0, rhs_multiplier = 1710531816, rhs_shift = 2, left_shift = 20, output_multiplier = 1826858526, output_shift = 19, output_zp = 30} : (tensor<1x4x4x4x!quant.uniform<u8:f32, 0.1037:10>>, tensor<1x4x4x4x!quant.uniform<u8:f32, 0.0413:100>>) -> tensor<1x4x4x4x!quant.uniform<u8:f32, 0.1219:30>> loc("add")
    %t = npu.lut %a {table = dense<[36, 38, 40, 42, 44, 46, 49, 51, 54, 56, 59, 62, 65, 68, 71, 74, 77, 80, 84, 87, 90, 94, 98, 101, 105, 109, 113, 116, 120, 124, 128, 132, 136, 140, 143, 147, 151, 155, 158, 162, 166, 169, 172, 176, 179, 182, 185, 188, 191, 194, 197, 200, 202, 205, 207, 210, 212, 214, 216, 218, 220, 222, 223, 225, 227, 228, 230, 231, 232, 233, 235, 236, 237, 238, 239, 240, 240, 241, 242, 243, 243, 244, 245, 245, 246, 246, 247, 247, 248, 248, 249, 249, 249, 250, 250, 250, 251, 251, 251, 251, 251, 252, 252, 252, 252, 252, 253, 253, 253, 253, 253, 253, 253, 253, 253, 254, 254, 254, 254, 254, 254, 254, 254, 254, 254, 254, 254, 254, 254, 254, 254, 254, 254, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255]> : tensor<256xu8>} : (tensor<1x4x4x4x!quant.uniform<u8:f32, 0.1219:30>>) -> tensor<1x4x4x4x!quant.uniform<u8:f32, 0.007874015748031496:128>> loc("tanh_table")
    %p = npu.max_pool %t {kernel_shape = [2, 2], strides = [2, 2], pads = [0, 0, 0, 0]} : (tensor<1x4x4x4x!quant.uniform<u8:f32, 0.007874015748031496:128>>) -> tensor<1x4x2x2x!quant.uniform<u8:f32, 0.007874015748031496:128>> loc("pool")
    %r = npu.requant %p {multiplier = [1641681560], shift = [0], input_zp = 128, output_zp = -100} : (tensor<1x4x2x2x!quant.uniform<u8:f32, 0.007874015748031496:128>>) -> tensor<1x4x2x2x!quant.uniform<i8:f32, 0.0103:-100>> loc("requant")
    %f = npu.cast %r : (tensor<1x4x2x2x!quant.uniform<i8:f32, 0.0103:-100>>) -> tensor<1x4x2x2xf32> loc("dequantize")
    %o = top.sigmoid %f : (tensor<1x4x2x2xf32>) -> tensor<1x4x2x2xf32> loc("out")
    %tf = npu.cast %t : (tensor<1x4x4x4x!quant.uniform<u8:f32, 0.007874015748031496:128>>) -> tensor<1x4x4x4xf32> loc("tanh_dequantize")
    return %o, %tf : tensor<1x4x2x2xf32>, tensor<1x4x4x4xf32>
  }
}
