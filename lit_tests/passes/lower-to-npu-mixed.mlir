// Mixed precision: each layer is lowered at its own kiln.mode; casts where modes meet.
// RUN: %kiln-opt %s -p "lower-to-npu{target=int8-sym}" -o %t.mlir && filecheck %s < %t.mlir
// RUN: %kiln-opt %t.mlir --check-each > /dev/null
// Feature widths between 8 and 16 bits (Magik): i10 storage, clamped to 10 bits.
// RUN: sed s/INT16/INT10/ %s > %t.f12.in.mlir && %kiln-opt %t.f12.in.mlir -p "lower-to-npu{target=feature12}" -o %t.f12.mlir && filecheck %s --check-prefix=F12 < %t.f12.mlir
// Quantized outputs on request.
// RUN: %kiln-opt %s -p "lower-to-npu{quant_output=true}" -o %t.q.mlir && filecheck %s --check-prefix=QOUT < %t.q.mlir

// A conv only a table reads writes 16 bits (the int8-sym target has them), over the interval
// where the sigmoid's outputs still change; the INT16 sigmoid looks up a 65536-entry table.
// CHECK: %[[C:.+]] = npu.conv2d {{.+}} -> tensor<1x2x4x4x!quant.uniform<i16:f32, 0.00018306635>> loc("conv")
// The sigmoid is never negative: u16 storage, zero point 0 (unsigned_nonnegative).
// CHECK: %[[T:.+]] = top.weight @sig_table : tensor<65536xu16>
// CHECK: %[[S:.+]] = npu.lut %[[C]], %[[T]] : {{.+}} -> tensor<1x2x4x4x!quant.uniform<u16:f32, 1.5259022e-05>> loc("sig")
// An F32 layer between dequantize and quantize casts.
// CHECK: npu.cast %[[S]] : {{.+}} -> tensor<1x2x4x4xf32> loc("sig_dequantize")
// CHECK: top.tanh {{.+}} loc("tanh")
// CHECK: npu.cast {{.+}} -> tensor<1x2x4x4x!quant.uniform<u8:f32, 0.003921569>> loc("tanh_quantize")
// Only the (dequantized) output reads conv2: it is written at 16 bits.
// CHECK: npu.conv2d {{.+}} -> tensor<1x2x4x4x!quant.uniform<i16:f32, 0.00018311106>> loc("conv2")
// CHECK: return {{.+}} : tensor<1x2x4x4xf32>
// A table reads its producer's own codes (i8 here) and writes the layer's 10 bits.
// F12: npu.lut {{.+}} : tensor<256xi10>} : (tensor<1x2x4x4x!quant.uniform<i8:f32, {{.+}}>>) -> tensor<1x2x4x4x!quant.uniform<i10:f32, 0.0019569471>> loc("sig")
// QOUT: return {{.+}} : tensor<1x2x4x4x!quant.uniform<i8:f32, 0.047244094>>
func.func @main(%x: tensor<1x1x4x4x!quant.calibrated<f32<-2.0:2.0>>>) -> tensor<1x2x4x4x!quant.calibrated<f32<-6.0:6.0>>> {
  %w = top.constant {value = dense<[[[[1.0]]], [[[-2.0]]]]> : tensor<2x1x1x1xf32>} : tensor<2x1x1x1xf32>
  %w2 = top.constant {value = dense<[[[[1.0], [0.5]]], [[[-2.0], [0.25]]]]> : tensor<2x2x1x1xf32>} : tensor<2x2x1x1xf32>
  %c = top.conv %x, %w {strides = [1, 1], pads = [0, 0, 0, 0], dilations = [1, 1]} : (tensor<1x1x4x4x!quant.calibrated<f32<-2.0:2.0>>>, tensor<2x1x1x1xf32>) -> tensor<1x2x4x4x!quant.calibrated<f32<-6.0:6.0>>> loc("conv")
  %s = top.sigmoid %c {kiln.mode = "INT16"} : (tensor<1x2x4x4x!quant.calibrated<f32<-6.0:6.0>>>) -> tensor<1x2x4x4x!quant.calibrated<f32<0.0:1.0>>> loc("sig")
  %t = top.tanh %s {kiln.mode = "F32"} : (tensor<1x2x4x4x!quant.calibrated<f32<0.0:1.0>>>) -> tensor<1x2x4x4x!quant.calibrated<f32<0.0:1.0>>> loc("tanh")
  %d = top.conv %t, %w2 {strides = [1, 1], pads = [0, 0, 0, 0], dilations = [1, 1]} : (tensor<1x2x4x4x!quant.calibrated<f32<0.0:1.0>>>, tensor<2x2x1x1xf32>) -> tensor<1x2x4x4x!quant.calibrated<f32<-6.0:6.0>>> loc("conv2")
  return %d : tensor<1x2x4x4x!quant.calibrated<f32<-6.0:6.0>>>
}
