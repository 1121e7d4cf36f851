// New weights need a file beside the output, hence -o.
// RUN: %kiln-opt %s -p "lower-to-npu{target=int8-sym}" -o %t.mlir && filecheck %s < %t.mlir
// The result reads back, verifies and runs in the interpreter.
// RUN: %kiln-opt %t.mlir --check-each > /dev/null
// Other targets: affine u8 with zero points (QNN tf), power-of-two scales (Acuity dfp).
// RUN: %kiln-opt %s -p "lower-to-npu{target=uint8-affine}" -o %t.u8.mlir && filecheck %s --check-prefix=U8 < %t.u8.mlir
// RUN: %kiln-opt %t.u8.mlir --check-each > /dev/null
// RUN: %kiln-opt %s -p "lower-to-npu{target=dfp-int16}" -o %t.dfp.mlir && filecheck %s --check-prefix=DFP < %t.dfp.mlir
// RUN: %kiln-opt %t.dfp.mlir --check-each > /dev/null
// TPU-MLIR's --asymmetric on a symmetric target: affine i8 with zero points.
// RUN: %kiln-opt %s -p "lower-to-npu{asymmetric=true}" -o %t.a.mlir && filecheck %s --check-prefix=ASYM < %t.a.mlir
// RUN: %kiln-opt %t.a.mlir --check-each > /dev/null

// The input stays f32 and is quantized right after it (scale 2/127).
// CHECK: func.func @main(%x: tensor<1x1x4x4xf32>) -> (tensor<1x2x4x4xf32>, tensor<1x4x2x4xf32>)
// CHECK: %[[Q:.+]] = npu.cast %x : (tensor<1x1x4x4xf32>) -> tensor<1x1x4x4x!quant.uniform<i8:f32, 0.015748031>> loc("x_quantize")
// Weights: per-channel symmetric i8 (absmax / 127), bias i32 at in_scale * w_scale.
// CHECK: %[[W:.+]] = top.weight @conv_filter_q : tensor<2x1x1x1x!quant.uniform<i8:f32:0, {0.007874016, 0.015748031}>>
// CHECK: %[[B:.+]] = top.weight @conv_bias_i32 : tensor<2xi32>
// CHECK: %[[C:.+]] = npu.conv2d %[[Q]], %[[W]], %[[B]] {{.+}} -> tensor<1x2x4x4x!quant.uniform<i8:f32, 0.047244094>> loc("conv")
// CHECK: %[[R:.+]] = npu.lut %[[C]] {{.+}} loc("relu")
// CHECK: %[[A:.+]] = npu.add %[[R]], %[[C]] {{.+}} loc("add")
// CHECK: %[[T:.+]] = top.transpose %[[A]] {perm = [0, 2, 1, 3]} : (tensor<1x2x4x4x!quant.uniform<i8:f32, 0.07874016>>) -> tensor<1x4x2x4x!quant.uniform<i8:f32, 0.07874016>> loc("tr")
// CHECK: %[[S:.+]] = top.slice %[[T]] {{.+}} -> tensor<1x4x1x4x!quant.uniform<i8:f32, 0.07874016>> loc("sl")
// CHECK: %[[K:.+]] = npu.concat %[[S]], %[[S]] {{.+}} loc("cat")
// CHECK: npu.lut %[[K]] {{.+}} loc("sig")
// A product of two activations: exact integer product, one requantization.
// CHECK: %[[M:.+]] = npu.mul %[[A]], %[[A]] {lhs_zp = 0, rhs_zp = 0, multiplier = {{[0-9]+}}, shift = {{-?[0-9]+}}, output_zp = 0} {{.+}} loc("mul")
// A scalar constant that an integer op reads is an i8 weight (code 127, exact).
// CHECK: %[[H:.+]] = top.weight @half_const_q : tensor<1x!quant.uniform<i8:f32, 0.003937008>>
// CHECK: %[[E:.+]] = npu.mul %[[M]], %[[H]] {{.+}} loc("half")
// CHECK: npu.add %[[E]], %[[A]] {{.+}} loc("sum")
// A layer with no integer form stays float between casts.
// CHECK-DAG: npu.cast {{.+}} -> tensor<1x2x4x4xf32> loc("sum_dequantize")
// CHECK-DAG: npu.cast {{.+}} -> tensor<1x2x4x4xf32> loc("add_dequantize")
// CHECK: %[[D:.+]] = top.sub
// CHECK-NOT: top.conv
// Outputs are dequantized to f32.
// CHECK: return %[[D]], %{{.+}} : tensor<1x2x4x4xf32>, tensor<1x4x2x4xf32>
// U8: npu.cast %x : (tensor<1x1x4x4xf32>) -> tensor<1x1x4x4x!quant.uniform<u8:f32, 0.015686275:127>>
// U8: npu.conv2d {{.+}}input_zp = 127{{.+}}output_zp = 128{{.+}} -> tensor<1x2x4x4x!quant.uniform<u8:f32, 0.047058824:128>> loc("conv")
// U8: npu.lut {{.+}} : tensor<256xu8>}
// U8: npu.concat {{.+}}input_zps = [127, 127]{{.+}}output_zp = 136}
// ASYM: npu.cast %x : (tensor<1x1x4x4xf32>) -> tensor<1x1x4x4x!quant.uniform<i8:f32, 0.015686275:-1>> loc("x_quantize")
// DFP: -> tensor<1x1x4x4x!quant.uniform<i8:f32, 0.03125>> loc("x_quantize")
// DFP: top.weight @conv_filter_q : tensor<2x1x1x1x!quant.uniform<i8:f32:0, {0.03125, 0.03125}>>
// DFP: npu.conv2d {{.+}} -> tensor<1x2x4x4x!quant.uniform<i8:f32, 0.0625>> loc("conv")
func.func @main(%x: tensor<1x1x4x4x!quant.calibrated<f32<-2.0:2.0>>>) -> (tensor<1x2x4x4x!quant.calibrated<f32<-30.0:30.0>>>, tensor<1x4x2x4x!quant.calibrated<f32<-1.0:1.0>>>) {
  %w = top.constant {value = dense<[[[[1.0]]], [[[-2.0]]]]> : tensor<2x1x1x1xf32>} : tensor<2x1x1x1xf32>
  %b = top.constant {value = dense<[0.5, -0.25]> : tensor<2xf32>} : tensor<2xf32>
  %c = top.conv %x, %w, %b {strides = [1, 1], pads = [0, 0, 0, 0], dilations = [1, 1]} : (tensor<1x1x4x4x!quant.calibrated<f32<-2.0:2.0>>>, tensor<2x1x1x1xf32>, tensor<2xf32>) -> tensor<1x2x4x4x!quant.calibrated<f32<-6.0:6.0>>> loc("conv")
  %r = top.relu %c : (tensor<1x2x4x4x!quant.calibrated<f32<-6.0:6.0>>>) -> tensor<1x2x4x4x!quant.calibrated<f32<-6.0:6.0>>> loc("relu")
  %a = top.add %r, %c : (tensor<1x2x4x4x!quant.calibrated<f32<-6.0:6.0>>>, tensor<1x2x4x4x!quant.calibrated<f32<-6.0:6.0>>>) -> tensor<1x2x4x4x!quant.calibrated<f32<-10.0:10.0>>> loc("add")
  %t = top.transpose %a {perm = [0, 2, 1, 3]} : (tensor<1x2x4x4x!quant.calibrated<f32<-10.0:10.0>>>) -> tensor<1x4x2x4x!quant.calibrated<f32<-10.0:10.0>>> loc("tr")
  %s = top.slice %t {starts = [0, 0, 0, 0], ends = [1, 4, 1, 4], steps = [1, 1, 1, 1]} : (tensor<1x4x2x4x!quant.calibrated<f32<-10.0:10.0>>>) -> tensor<1x4x1x4x!quant.calibrated<f32<-10.0:10.0>>> loc("sl")
  %k = top.concat %s, %s {axis = 2} : (tensor<1x4x1x4x!quant.calibrated<f32<-10.0:10.0>>>, tensor<1x4x1x4x!quant.calibrated<f32<-10.0:10.0>>>) -> tensor<1x4x2x4x!quant.calibrated<f32<-10.0:10.0>>> loc("cat")
  %g = top.sigmoid %k : (tensor<1x4x2x4x!quant.calibrated<f32<-10.0:10.0>>>) -> tensor<1x4x2x4x!quant.calibrated<f32<-1.0:1.0>>> loc("sig")
  %m = top.mul %a, %a : (tensor<1x2x4x4x!quant.calibrated<f32<-10.0:10.0>>>, tensor<1x2x4x4x!quant.calibrated<f32<-10.0:10.0>>>) -> tensor<1x2x4x4x!quant.calibrated<f32<-30.0:30.0>>> loc("mul")
  %h = top.constant {value = dense<[0.5]> : tensor<1xf32>} : tensor<1xf32>
  %e = top.mul %m, %h : (tensor<1x2x4x4x!quant.calibrated<f32<-30.0:30.0>>>, tensor<1xf32>) -> tensor<1x2x4x4x!quant.calibrated<f32<-15.0:15.0>>> loc("half")
  %u = top.add %e, %a : (tensor<1x2x4x4x!quant.calibrated<f32<-15.0:15.0>>>, tensor<1x2x4x4x!quant.calibrated<f32<-10.0:10.0>>>) -> tensor<1x2x4x4x!quant.calibrated<f32<-25.0:25.0>>> loc("sum")
  %d = top.sub %u, %a : (tensor<1x2x4x4x!quant.calibrated<f32<-25.0:25.0>>>, tensor<1x2x4x4x!quant.calibrated<f32<-10.0:10.0>>>) -> tensor<1x2x4x4x!quant.calibrated<f32<-30.0:30.0>>> loc("diff")
  return %d, %g : tensor<1x2x4x4x!quant.calibrated<f32<-30.0:30.0>>>, tensor<1x4x2x4x!quant.calibrated<f32<-1.0:1.0>>>
}
