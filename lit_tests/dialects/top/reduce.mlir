// RUN: %kiln-opt %s | filecheck %s
// Round trip: printing what was printed gives the same text.
// RUN: %kiln-opt %s -o %t.1.mlir && %kiln-opt %t.1.mlir -o %t.2.mlir && diff %t.1.mlir %t.2.mlir
// RUN: %kiln-opt %s --print-generic | %kiln-opt - | filecheck %s

// CHECK-LABEL: func.func @reductions
func.func @reductions(%x: tensor<2x3x4xf32>) -> (tensor<2x1x1xf32>, tensor<3xf32>) {
  // CHECK: top.reduce_mean %x {axes = [1, 2]} : (tensor<2x3x4xf32>) -> tensor<2x1x1xf32> loc("mean")
  %0 = top.reduce_mean %x {axes = [1, 2]} : (tensor<2x3x4xf32>) -> tensor<2x1x1xf32> loc("mean")
  // CHECK-NEXT: top.reduce_sum %x {axes = [0, 2], keepdims = false} : (tensor<2x3x4xf32>) -> tensor<3xf32>
  %1 = top.reduce_sum %x {axes = [0, 2], keepdims = false} : (tensor<2x3x4xf32>) -> tensor<3xf32>
  // CHECK-NEXT: top.reduce_max %x {axes = [0, 1, 2], keepdims = false} : (tensor<2x3x4xf32>) -> tensor<f32>
  %2 = top.reduce_max %x {axes = [0, 1, 2], keepdims = false} : (tensor<2x3x4xf32>) -> tensor<f32>
  // CHECK-NEXT: top.reduce_min %x {axes = [2], keepdims = true} : (tensor<2x3x4xf32>) -> tensor<2x3x1xf32>
  %3 = top.reduce_min %x {axes = [2], keepdims = true} : (tensor<2x3x4xf32>) -> tensor<2x3x1xf32>
  // CHECK-NEXT: top.reduce_prod %x {axes = [0]} : (tensor<2x3x4xf32>) -> tensor<1x3x4xf32>
  %4 = top.reduce_prod %x {axes = [0]} : (tensor<2x3x4xf32>) -> tensor<1x3x4xf32>
  // CHECK-NEXT: top.reduce_l1 %x {axes = []} : (tensor<2x3x4xf32>) -> tensor<2x3x4xf32>
  %5 = top.reduce_l1 %x {axes = []} : (tensor<2x3x4xf32>) -> tensor<2x3x4xf32>
  // CHECK-NEXT: top.reduce_l2
  %6 = top.reduce_l2 %x {axes = [1]} : (tensor<2x3x4xf32>) -> tensor<2x1x4xf32>
  // CHECK-NEXT: top.reduce_sum_square
  %7 = top.reduce_sum_square %x {axes = [1]} : (tensor<2x3x4xf32>) -> tensor<2x1x4xf32>
  // CHECK-NEXT: top.reduce_log_sum_exp %x {axes = [1], keepdims = false} : (tensor<2x3x4xf32>) -> tensor<2x4xf32>
  %8 = top.reduce_log_sum_exp %x {axes = [1], keepdims = false} : (tensor<2x3x4xf32>) -> tensor<2x4xf32>
  return %0, %1 : tensor<2x1x1xf32>, tensor<3xf32>
}

// CHECK-LABEL: func.func @arg
func.func @arg(%x: tensor<2x3x4xf16>) -> (tensor<2x1x4xi64>, tensor<2x3xi64>) {
  // CHECK: top.arg_max %x {axis = 1} : (tensor<2x3x4xf16>) -> tensor<2x1x4xi64>
  %0 = top.arg_max %x {axis = 1} : (tensor<2x3x4xf16>) -> tensor<2x1x4xi64>
  // CHECK-NEXT: top.arg_min %x {axis = 2, keepdims = false, select_last_index = true} : (tensor<2x3x4xf16>) -> tensor<2x3xi64>
  %1 = top.arg_min %x {axis = 2, keepdims = false, select_last_index = true} : (tensor<2x3x4xf16>) -> tensor<2x3xi64>
  return %0, %1 : tensor<2x1x4xi64>, tensor<2x3xi64>
}
