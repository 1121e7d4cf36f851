// A transposed conv (group 1) lowers to npu.deconv2d: weights per output channel, which is
// the filter's axis 1 (C, M, KH, KW); a grouped one has no integer form and stays float.
// (Its result is a model output, read by a cast to f32: written at 16 bits.)
// RUN: %kiln-opt %s -p "lower-to-npu{target=int8-sym}" -o %t.mlir && filecheck %s < %t.mlir
// RUN: %kiln-opt %t.mlir --check-each > /dev/null
// RUN: %kiln-opt %s -p "lower-to-npu{target=uint8-affine}" -o %t.u8.mlir && filecheck %s --check-prefix=U8 < %t.u8.mlir

// CHECK: %[[W:.+]] = top.weight @up_filter_q : tensor<2x2x2x2x!quant.uniform<i8:f32:1, {0.007874016, 0.015748031}>>
// CHECK: %[[B:.+]] = top.weight @up_bias_i32 : tensor<2xi32>
// CHECK: npu.deconv2d %{{.+}}, %[[W]], %[[B]] {strides = [2, 2], pads = [0, 0, 0, 0], dilations = [1, 1], output_padding = [0, 0], input_zp = 0, {{.+}}} : {{.+}} -> tensor<1x2x4x4x!quant.uniform<i16:f32, 9.155553e-05>> loc("up")
// CHECK: top.conv_transpose {{.+}} loc("grouped")
// CHECK-NOT: top.conv_transpose {{.+}} loc("up")
// U8: npu.deconv2d {{.+}}input_zp = 127{{.+}}output_zp = 32768} {{.+}} -> tensor<1x2x4x4x!quant.uniform<u16:f32, 9.155413e-05:32768>> loc("up")
func.func @main(%x: tensor<1x2x2x2x!quant.calibrated<f32<-1.0:1.0>>>) -> (tensor<1x2x4x4x!quant.calibrated<f32<-3.0:3.0>>>, tensor<1x2x4x4x!quant.calibrated<f32<-3.0:3.0>>>) {
  %w = top.constant {value = dense<[[[[1.0, 0.5], [0.25, -1.0]], [[2.0, -2.0], [1.0, 0.0]]], [[[0.5, 0.5], [0.5, 0.5]], [[-1.0, 1.0], [0.5, 2.0]]]]> : tensor<2x2x2x2xf32>} : tensor<2x2x2x2xf32>
  %b = top.constant {value = dense<[0.5, -0.25]> : tensor<2xf32>} : tensor<2xf32>
  %y = top.conv_transpose %x, %w, %b {strides = [2, 2], pads = [0, 0, 0, 0], dilations = [1, 1], output_padding = [0, 0]} : (tensor<1x2x2x2x!quant.calibrated<f32<-1.0:1.0>>>, tensor<2x2x2x2xf32>, tensor<2xf32>) -> tensor<1x2x4x4x!quant.calibrated<f32<-3.0:3.0>>> loc("up")
  %g = top.constant {value = dense<1.0> : tensor<2x1x2x2xf32>} : tensor<2x1x2x2xf32>
  %z = top.conv_transpose %x, %g {strides = [2, 2], pads = [0, 0, 0, 0], dilations = [1, 1], output_padding = [0, 0], group = 2} : (tensor<1x2x2x2x!quant.calibrated<f32<-1.0:1.0>>>, tensor<2x1x2x2xf32>) -> tensor<1x2x4x4x!quant.calibrated<f32<-3.0:3.0>>> loc("grouped")
  return %y, %z : tensor<1x2x4x4x!quant.calibrated<f32<-3.0:3.0>>>, tensor<1x2x4x4x!quant.calibrated<f32<-3.0:3.0>>>
}
