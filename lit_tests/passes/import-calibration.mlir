// RUN: %kiln-opt %s -p "import-calibration{table=%inputs/small_cali_table}" | filecheck %s --check-prefix=SYM
// RUN: %kiln-opt %s -p "import-calibration{table=%inputs/small_cali_table,asymmetric=true}" | filecheck %s --check-prefix=ASYM
// Only types change: the interpreter computes the same numbers.
// RUN: %kiln-opt %s -p "import-calibration{table=%inputs/small_cali_table}" --check-each > /dev/null
// RUN: not %kiln-opt %s -p "import-calibration{table=%inputs/other_cali_table}" 2>&1 | filecheck %s --check-prefix=OTHER
// RUN: not %kiln-opt %s -p "import-calibration" 2>&1 | filecheck %s --check-prefix=NOTABLE

// A tensor never observed negative (the relu, min 0.0) gets [0, threshold].
// SYM: func.func @main(%x: tensor<1x1x4x4x!quant.calibrated<f32<-2.0:2.0>>>) -> tensor<1x32x!quant.calibrated<f32<0.0:5.5>>>
// SYM: top.conv {{.+}} -> tensor<1x2x4x4x!quant.calibrated<f32<-6.0:6.0>>> loc("conv")
// SYM: top.relu {{.+}} -> tensor<1x2x4x4x!quant.calibrated<f32<0.0:5.5>>> loc("relu")
// A reshape passes its input's range on: no requantization across it.
// SYM: top.reshape {{.+}} -> tensor<1x32x!quant.calibrated<f32<0.0:5.5>>> loc("flat")
// Affine ranges are the observed [min, max] clipped to [-threshold, threshold].
// ASYM: func.func @main(%x: tensor<1x1x4x4x!quant.calibrated<f32<-1.5:2.0>>>)
// ASYM: -> tensor<1x2x4x4x!quant.calibrated<f32<-4.0:6.0>>> loc("conv")
// ASYM: -> tensor<1x2x4x4x!quant.calibrated<f32<0.0:5.5>>> loc("relu")
// OTHER: kiln-opt: error: {{.+}}other_cali_table:5: unknown layer 'convv'
// NOTABLE: kiln-opt: error: pass 'import-calibration' failed (passes run before it: none):
// NOTABLE-NEXT: import-calibration needs table=PATH
func.func @main(%x: tensor<1x1x4x4xf32>) -> tensor<1x32xf32> {
  %w = top.constant {value = dense<[[[[1.0]]], [[[-2.0]]]]> : tensor<2x1x1x1xf32>} : tensor<2x1x1x1xf32>
  %c = top.conv %x, %w {strides = [1, 1], pads = [0, 0, 0, 0], dilations = [1, 1]} : (tensor<1x1x4x4xf32>, tensor<2x1x1x1xf32>) -> tensor<1x2x4x4xf32> loc("conv")
  %r = top.relu %c : (tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32> loc("relu")
  %f = top.reshape %r {shape = [1, 32]} : (tensor<1x2x4x4xf32>) -> tensor<1x32xf32> loc("flat")
  return %f : tensor<1x32xf32>
}

// A pool and a gemm whose results have their own ranges still verify (the verifiers compare
// the expressed element types, not the ranges). The pool's own range [0, 5] is clipped to
// its input's [-2, 2]: it only selects input values, which the device clipped at 2.
// SYM-LABEL: func.func @own_ranges
// SYM: top.max_pool {{.+}} -> tensor<1x2x2x2x!quant.calibrated<f32<0.0:2.0>>> loc("pool")
// SYM: top.gemm {{.+}} -> tensor<1x2x!quant.calibrated<f32<-3.0:3.0>>> loc("fc")
func.func @own_ranges(%x: tensor<1x2x4x4xf32>, %a: tensor<1x8xf32>) -> (tensor<1x2x2x2xf32>, tensor<1x2xf32>) {
  %p = top.max_pool %x {kernel_shape = [2, 2], strides = [2, 2], pads = [0, 0, 0, 0], dilations = [1, 1]} : (tensor<1x2x4x4xf32>) -> tensor<1x2x2x2xf32> loc("pool")
  %w = top.constant {value = dense<0.5> : tensor<8x2xf32>} : tensor<8x2xf32>
  %g = top.gemm %a, %w : (tensor<1x8xf32>, tensor<8x2xf32>) -> tensor<1x2xf32> loc("fc")
  return %p, %g : tensor<1x2x2x2xf32>, tensor<1x2xf32>
}
