// RUN: not %kiln-opt %s --split-input-file 2>&1 | filecheck %s

func.func @zp_mismatch(%x: tensor<4x!quant.uniform<i8:f32, 0.5:3>>) -> tensor<4xi8> {
  // CHECK: 'npu.requant' op (line [[# @LINE + 1]]): input zero point 0 differs from the type's 3
  %0 = npu.requant %x {multiplier = [1073741824], shift = [0]} : (tensor<4x!quant.uniform<i8:f32, 0.5:3>>) -> tensor<4xi8>
  return %0 : tensor<4xi8>
}

// -----

func.func @bad_multiplier(%x: tensor<4xi32>) -> tensor<4xi8> {
  // CHECK: 'npu.requant' op (line [[# @LINE + 1]]): multiplier 2147483648 is not in [0, 2^31)
  %0 = npu.requant %x {multiplier = [2147483648], shift = [0]} : (tensor<4xi32>) -> tensor<4xi8>
  return %0 : tensor<4xi8>
}

// -----

func.func @per_channel_count(%x: tensor<1x3x2x2xi32>) -> tensor<1x3x2x2xi8> {
  // CHECK: 'npu.requant' op (line [[# @LINE + 1]]): multiplier needs 1 or 3 values, got 2
  %0 = npu.requant %x {multiplier = [1073741824, 1073741824], shift = [0, 0]} : (tensor<1x3x2x2xi32>) -> tensor<1x3x2x2xi8>
  return %0 : tensor<1x3x2x2xi8>
}

// -----

func.func @float_input(%x: tensor<4xf32>) -> tensor<4xi8> {
  // CHECK: 'npu.lut' op (line [[# @LINE + 1]]): input must be a tensor of integers or of a per-tensor !quant.uniform type, got tensor<4xf32>
  %0 = npu.lut %x {table = dense<0> : tensor<256xi8>} : (tensor<4xf32>) -> tensor<4xi8>
  return %0 : tensor<4xi8>
}

// -----

func.func @short_table(%x: tensor<4xi8>) -> tensor<4xi8> {
  // CHECK: 'npu.lut' op (line [[# @LINE + 1]]): table must have 256 entries (one per i8 code), got shape (128,)
  %0 = npu.lut %x {table = dense<0> : tensor<128xi8>} : (tensor<4xi8>) -> tensor<4xi8>
  return %0 : tensor<4xi8>
}

// -----

func.func @deconv_shape(%x: tensor<1x4x3x3xi8>, %w: tensor<4x2x2x2xi8>) -> tensor<1x2x5x5xi8> {
  // CHECK: 'npu.deconv2d' op (line [[# @LINE + 1]]): result shape (1, 2, 5, 5) should be (1, 2, 6, 6)
  %0 = npu.deconv2d %x, %w {strides = [2, 2], pads = [0, 0, 0, 0], dilations = [1, 1], output_padding = [0, 0], multiplier = [1073741824], shift = [0]} : (tensor<1x4x3x3xi8>, tensor<4x2x2x2xi8>) -> tensor<1x2x5x5xi8>
  return %0 : tensor<1x2x5x5xi8>
}

// -----

func.func @deconv_channels(%x: tensor<1x3x3x3xi8>, %w: tensor<4x2x2x2xi8>) -> tensor<1x2x6x6xi8> {
  // CHECK: 'npu.deconv2d' op (line [[# @LINE + 1]]): input has 3 channels but the filter's first dimension is 4
  %0 = npu.deconv2d %x, %w {strides = [2, 2], pads = [0, 0, 0, 0], dilations = [1, 1], output_padding = [0, 0], multiplier = [1073741824], shift = [0]} : (tensor<1x3x3x3xi8>, tensor<4x2x2x2xi8>) -> tensor<1x2x6x6xi8>
  return %0 : tensor<1x2x6x6xi8>
}

// -----

func.func @conv_shape(%x: tensor<1x4x6x6xi8>, %w: tensor<8x4x3x3xi8>) -> tensor<1x8x6x6xi8> {
  // CHECK: 'npu.conv2d' op (line [[# @LINE + 1]]): result shape (1, 8, 6, 6) should be (1, 8, 4, 4)
  %0 = npu.conv2d %x, %w {strides = [1, 1], pads = [0, 0, 0, 0], dilations = [1, 1], multiplier = [1073741824], shift = [0]} : (tensor<1x4x6x6xi8>, tensor<8x4x3x3xi8>) -> tensor<1x8x6x6xi8>
  return %0 : tensor<1x8x6x6xi8>
}

// -----

func.func @asym_weights(%x: tensor<2x4xi8>, %w: tensor<4x3x!quant.uniform<i8:f32, 0.5:1>>) -> tensor<2x3xi8> {
  // CHECK: 'npu.matmul' op (line [[# @LINE + 1]]): weights must be symmetric (zero point 0)
  %0 = npu.matmul %x, %w {multiplier = [1073741824], shift = [0]} : (tensor<2x4xi8>, tensor<4x3x!quant.uniform<i8:f32, 0.5:1>>) -> tensor<2x3xi8>
  return %0 : tensor<2x3xi8>
}

// -----

func.func @avg_counts(%x: tensor<1x1x4x4xi8>) -> tensor<1x1x3x3xi8> {
  // CHECK: 'npu.avg_pool' op (line [[# @LINE + 1]]): 'multiplier' needs 4 values (one per window count), got 1
  %0 = npu.avg_pool %x {kernel_shape = [2, 2], strides = [1, 1], pads = [0, 0, 0, 0], multiplier = [1073741824], shift = [0]} : (tensor<1x1x4x4xi8>) -> tensor<1x1x3x3xi8>
  return %0 : tensor<1x1x3x3xi8>
}

// -----

func.func @cast_attrs(%x: tensor<4xf32>) -> tensor<4x!quant.uniform<i8:f32, 0.5>> {
  // CHECK: 'npu.cast' op (line [[# @LINE + 1]]): a quantize cast takes its scale and zero point from the quantized type, not from attributes
  %0 = npu.cast %x {multiplier = [1], shift = [0]} : (tensor<4xf32>) -> tensor<4x!quant.uniform<i8:f32, 0.5>>
  return %0 : tensor<4x!quant.uniform<i8:f32, 0.5>>
}

// -----

func.func @concat_counts(%a: tensor<2xi8>, %b: tensor<3xi8>) -> tensor<5xi8> {
  // CHECK: 'npu.concat' op (line [[# @LINE + 1]]): 'shifts' needs 2 values, one per input
  %0 = npu.concat %a, %b {axis = 0, input_zps = [0, 0], multipliers = [1073741824, 1073741824], shifts = [0]} : (tensor<2xi8>, tensor<3xi8>) -> tensor<5xi8>
  return %0 : tensor<5xi8>
}

// -----

func.func @mul_wide_input(%a: tensor<4xi32>, %b: tensor<4xi8>) -> tensor<4xi8> {
  // CHECK: 'npu.mul' op (line [[# @LINE + 1]]): lhs has 32-bit storage; npu.mul takes at most 16 bits
  %0 = npu.mul %a, %b {multiplier = 1073741824, shift = 0} : (tensor<4xi32>, tensor<4xi8>) -> tensor<4xi8>
  return %0 : tensor<4xi8>
}

// -----

func.func @mul_shapes(%a: tensor<4xi8>, %b: tensor<3xi8>) -> tensor<4xi8> {
  // CHECK: 'npu.mul' op (line [[# @LINE + 1]]): operand shapes (4,) and (3,) do not broadcast
  %0 = npu.mul %a, %b {multiplier = 1073741824, shift = 0} : (tensor<4xi8>, tensor<3xi8>) -> tensor<4xi8>
  return %0 : tensor<4xi8>
}
