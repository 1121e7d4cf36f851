// RUN: %kiln-opt %s | filecheck %s
// RUN: %kiln-opt %s -o %t.1.mlir && %kiln-opt %t.1.mlir -o %t.2.mlir && diff %t.1.mlir %t.2.mlir

// CHECK-LABEL: func.func @main
func.func @main(%x: tensor<1x4x6x6xf32>, %b: tensor<1x8x3x3x!quant.uniform<u8:f32, 0.02:128>>) -> tensor<1x8x3x3xf32> {
  // CHECK: npu.cast %x : (tensor<1x4x6x6xf32>) -> tensor<1x4x6x6x!quant.uniform<i8:f32, 0.05:-3>>
  %q = npu.cast %x : (tensor<1x4x6x6xf32>) -> tensor<1x4x6x6x!quant.uniform<i8:f32, 0.05:-3>>
  %w = top.constant {value = dense<3> : tensor<8x4x3x3xi8>} : tensor<8x4x3x3xi8>
  %bias = top.constant {value = dense<100> : tensor<8xi32>} : tensor<8xi32>
  // CHECK: npu.conv2d %{{.+}}, %w, %bias {strides = [2, 2], pads = [1, 1, 1, 1], dilations = [1, 1], group = 1, input_zp = -3, multiplier = [1073741824], shift = [6], output_zp = 2, do_relu = true}
  %c = npu.conv2d %q, %w, %bias {strides = [2, 2], pads = [1, 1, 1, 1], dilations = [1, 1], group = 1, input_zp = -3, multiplier = [1073741824], shift = [6], output_zp = 2, do_relu = true} : (tensor<1x4x6x6x!quant.uniform<i8:f32, 0.05:-3>>, tensor<8x4x3x3xi8>, tensor<8xi32>) -> tensor<1x8x3x3x!quant.uniform<i8:f32, 0.1:2>>
  // CHECK: npu.add %{{.+}}, %b {lhs_zp = 2, rhs_zp = 128, lhs_multiplier = 1073741824, lhs_shift = 0, rhs_multiplier = 1717986918, rhs_shift = 3, left_shift = 20, output_multiplier = 1073741824, output_shift = 19, output_zp = 0}
  %a = npu.add %c, %b {lhs_zp = 2, rhs_zp = 128, lhs_multiplier = 1073741824, lhs_shift = 0, rhs_multiplier = 1717986918, rhs_shift = 3, left_shift = 20, output_multiplier = 1073741824, output_shift = 19, output_zp = 0} : (tensor<1x8x3x3x!quant.uniform<i8:f32, 0.1:2>>, tensor<1x8x3x3x!quant.uniform<u8:f32, 0.02:128>>) -> tensor<1x8x3x3x!quant.uniform<i8:f32, 0.1>>
  // CHECK: npu.requant %{{.+}} {multiplier = [1073741824], shift = [-7], axis = 1, input_zp = 0, output_zp = 0} : (tensor<1x8x3x3x!quant.uniform<i8:f32, 0.1>>) -> tensor<1x8x3x3x!quant.uniform<i16:f32, 0.00078125>>
  %r = npu.requant %a {multiplier = [1073741824], shift = [-7], axis = 1, input_zp = 0, output_zp = 0} : (tensor<1x8x3x3x!quant.uniform<i8:f32, 0.1>>) -> tensor<1x8x3x3x!quant.uniform<i16:f32, 0.00078125>>
  // CHECK: npu.cast %{{.+}} {multiplier = [1073741824], shift = [7]} : (tensor<1x8x3x3x!quant.uniform<i16:f32, 0.00078125>>) -> tensor<1x8x3x3x!quant.uniform<i8:f32, 0.1>>
  %r8 = npu.cast %r {multiplier = [1073741824], shift = [7]} : (tensor<1x8x3x3x!quant.uniform<i16:f32, 0.00078125>>) -> tensor<1x8x3x3x!quant.uniform<i8:f32, 0.1>>
  // CHECK: npu.max_pool %{{.+}} {kernel_shape = [2, 2], strides = [1, 1], pads = [0, 0, 1, 1]}
  %m = npu.max_pool %r8 {kernel_shape = [2, 2], strides = [1, 1], pads = [0, 0, 1, 1]} : (tensor<1x8x3x3x!quant.uniform<i8:f32, 0.1>>) -> tensor<1x8x3x3x!quant.uniform<i8:f32, 0.1>>
  // CHECK: npu.avg_pool %{{.+}} {kernel_shape = [1, 2], strides = [1, 1], pads = [0, 0, 0, 1], count_include_pad = false, multiplier = [1073741824, 1073741824], shift = [-1, 0]}
  %p = npu.avg_pool %m {kernel_shape = [1, 2], strides = [1, 1], pads = [0, 0, 0, 1], count_include_pad = false, multiplier = [1073741824, 1073741824], shift = [-1, 0]} : (tensor<1x8x3x3x!quant.uniform<i8:f32, 0.1>>) -> tensor<1x8x3x3x!quant.uniform<i8:f32, 0.1>>
  // CHECK: npu.lut %{{.+}} {table = dense<5> : tensor<256xi8>}
  %l = npu.lut %p {table = dense<5> : tensor<256xi8>} : (tensor<1x8x3x3x!quant.uniform<i8:f32, 0.1>>) -> tensor<1x8x3x3x!quant.uniform<i8:f32, 0.0078125>>
  // CHECK: npu.concat %{{.+}}, %{{.+}} {axis = 1, input_zps = [0, 0], multipliers = [1073741824, 1073741824], shifts = [-1, 3]}
  %cc = npu.concat %p, %l {axis = 1, input_zps = [0, 0], multipliers = [1073741824, 1073741824], shifts = [-1, 3]} : (tensor<1x8x3x3x!quant.uniform<i8:f32, 0.1>>, tensor<1x8x3x3x!quant.uniform<i8:f32, 0.0078125>>) -> tensor<1x16x3x3x!quant.uniform<i8:f32, 0.1>>
  %wm = top.constant {value = dense<1> : tensor<3x3xi8>} : tensor<3x3xi8>
  // CHECK: npu.matmul %{{.+}}, %wm {multiplier = [1073741824, 1073741824, 1073741824], shift = [-1, 0, 1]}
  %mm = npu.matmul %cc, %wm {multiplier = [1073741824, 1073741824, 1073741824], shift = [-1, 0, 1]} : (tensor<1x16x3x3x!quant.uniform<i8:f32, 0.1>>, tensor<3x3xi8>) -> tensor<1x16x3x3xi32>
  %s = npu.requant %mm {multiplier = [1073741824], shift = [-1]} : (tensor<1x16x3x3xi32>) -> tensor<1x16x3x3x!quant.uniform<i8:f32, 0.1>>
  %h = npu.max_pool %s {kernel_shape = [1, 1], strides = [1, 1], pads = [0, 0, 0, 0]} : (tensor<1x16x3x3x!quant.uniform<i8:f32, 0.1>>) -> tensor<1x16x3x3x!quant.uniform<i8:f32, 0.1>>
  %half = npu.concat %h {axis = 1, input_zps = [0], multipliers = [1073741824], shifts = [-1]} : (tensor<1x16x3x3x!quant.uniform<i8:f32, 0.1>>) -> tensor<1x16x3x3x!quant.uniform<i8:f32, 0.1>>
  %w2 = top.constant {value = dense<1> : tensor<8x16x1x1xi8>} : tensor<8x16x1x1xi8>
  %o = npu.conv2d %half, %w2 {strides = [1, 1], pads = [0, 0, 0, 0], dilations = [1, 1], multiplier = [1073741824], shift = [-1]} : (tensor<1x16x3x3x!quant.uniform<i8:f32, 0.1>>, tensor<8x16x1x1xi8>) -> tensor<1x8x3x3x!quant.uniform<i8:f32, 0.1>>
  // CHECK: npu.mul %{{.+}}, %{{.+}} {lhs_zp = 0, rhs_zp = 0, multiplier = 1073741824, shift = 2, output_zp = 0}
  %o2 = npu.mul %o, %o {lhs_zp = 0, rhs_zp = 0, multiplier = 1073741824, shift = 2, output_zp = 0} : (tensor<1x8x3x3x!quant.uniform<i8:f32, 0.1>>, tensor<1x8x3x3x!quant.uniform<i8:f32, 0.1>>) -> tensor<1x8x3x3x!quant.uniform<i8:f32, 0.1>>
  // CHECK: npu.cast %{{.+}} : (tensor<1x8x3x3x!quant.uniform<i8:f32, 0.1>>) -> tensor<1x8x3x3xf32>
  %f = npu.cast %o2 : (tensor<1x8x3x3x!quant.uniform<i8:f32, 0.1>>) -> tensor<1x8x3x3xf32>
  return %f : tensor<1x8x3x3xf32>
}

// CHECK-LABEL: func.func @deconv
func.func @deconv(%x: tensor<1x4x3x3x!quant.uniform<u8:f32, 0.05:128>>) -> tensor<1x2x6x6x!quant.uniform<i8:f32, 0.1>> {
  %w = top.constant {value = dense<3> : tensor<4x2x2x2xi8>} : tensor<4x2x2x2xi8>
  %bias = top.constant {value = dense<-7> : tensor<2xi32>} : tensor<2xi32>
  // CHECK: npu.deconv2d %x, %w, %bias {strides = [2, 2], pads = [0, 0, 0, 0], dilations = [1, 1], output_padding = [0, 0], input_zp = 128, multiplier = [1073741824, 1073741824], shift = [4, 5]}
  %y = npu.deconv2d %x, %w, %bias {strides = [2, 2], pads = [0, 0, 0, 0], dilations = [1, 1], output_padding = [0, 0], input_zp = 128, multiplier = [1073741824, 1073741824], shift = [4, 5]} : (tensor<1x4x3x3x!quant.uniform<u8:f32, 0.05:128>>, tensor<4x2x2x2xi8>, tensor<2xi32>) -> tensor<1x2x6x6x!quant.uniform<i8:f32, 0.1>>
  return %y : tensor<1x2x6x6x!quant.uniform<i8:f32, 0.1>>
}
