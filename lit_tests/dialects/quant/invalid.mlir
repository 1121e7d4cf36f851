// RUN: not %kiln-opt %s --split-input-file 2>&1 | filecheck %s

// CHECK: invalid.mlir:[[# @LINE + 1]]:{{[0-9]+}}: error: zero point 300 does not fit in i8
func.func @zp_range(%x: tensor<4x!quant.uniform<i8:f32, 0.5:300>>) {
  return
}

// -----

// CHECK: invalid.mlir:[[# @LINE + 1]]:{{[0-9]+}}: error: quantization scale must be positive and finite, got -0.5
func.func @neg_scale(%x: tensor<4x!quant.uniform<i8:f32, -0.5>>) {
  return
}

// -----

// CHECK: invalid.mlir:[[# @LINE + 1]]:{{[0-9]+}}: error: per-axis type has 2 scales but axis 0 has size 3
func.func @axis_count(%x: tensor<3x4x!quant.uniform<i8:f32:0, {0.5, 0.25}>>) {
  return
}

// -----

// CHECK: invalid.mlir:[[# @LINE + 1]]:{{[0-9]+}}: error: calibrated range min 2.0 is above max 1.0
func.func @cal_order(%x: tensor<4x!quant.calibrated<f32<2.0:1.0>>>) {
  return
}

// -----

// CHECK: invalid.mlir:[[# @LINE + 1]]:{{[0-9]+}}: error: quantized storage type must be an integer type, got f16
func.func @float_storage(%x: tensor<4x!quant.uniform<f16:f32, 0.5>>) {
  return
}

// -----

// CHECK: invalid.mlir:[[# @LINE + 1]]:{{[0-9]+}}: error: undefined type alias !nope
func.func @no_alias(%x: tensor<4x!nope>) {
  return
}
