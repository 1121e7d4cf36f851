// RUN: %kiln-opt %s | filecheck %s
// Round trip: printing what was printed gives the same text.
// RUN: %kiln-opt %s -o %t.1.mlir && %kiln-opt %t.1.mlir -o %t.2.mlir && diff %t.1.mlir %t.2.mlir
// RUN: %kiln-opt %s --print-generic | %kiln-opt - | filecheck %s

// CHECK-LABEL: func.func @norms
func.func @norms(%x: tensor<1x3x4x4xf32>, %c: tensor<3xf32>, %g: tensor<4xf32>) -> tensor<1x3x4x4xf32> {
  // CHECK: %[[BN:.+]] = top.batch_normalization %x, %c, %c, %c, %c {epsilon = 0.001} : (tensor<1x3x4x4xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>) -> tensor<1x3x4x4xf32> loc("bn")
  %0 = top.batch_normalization %x, %c, %c, %c, %c {epsilon = 0.001} : (tensor<1x3x4x4xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>) -> tensor<1x3x4x4xf32> loc("bn")
  // CHECK-NEXT: %[[IN:.+]] = top.instance_normalization %[[BN]], %c, %c {epsilon = 1e-05}
  %1 = top.instance_normalization %0, %c, %c {epsilon = 1e-05} : (tensor<1x3x4x4xf32>, tensor<3xf32>, tensor<3xf32>) -> tensor<1x3x4x4xf32>
  // CHECK-NEXT: %[[LN:.+]] = top.layer_normalization %[[IN]], %g, %g {axis = 3, epsilon = 1e-05} : (tensor<1x3x4x4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<1x3x4x4xf32>
  %2 = top.layer_normalization %1, %g, %g {axis = 3, epsilon = 1e-05} : (tensor<1x3x4x4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<1x3x4x4xf32>
  // CHECK-NEXT: %[[LN2:.+]] = top.layer_normalization %[[LN]], %g {axis = 2} : (tensor<1x3x4x4xf32>, tensor<4xf32>) -> tensor<1x3x4x4xf32>
  %3 = top.layer_normalization %2, %g {axis = 2} : (tensor<1x3x4x4xf32>, tensor<4xf32>) -> tensor<1x3x4x4xf32>
  // CHECK-NEXT: top.lp_normalization %[[LN2]] {axis = 1, p = 1} : (tensor<1x3x4x4xf32>) -> tensor<1x3x4x4xf32>
  %4 = top.lp_normalization %3 {axis = 1, p = 1} : (tensor<1x3x4x4xf32>) -> tensor<1x3x4x4xf32>
  // CHECK-NEXT: %[[LRN:.+]] = top.lrn %{{.+}} {size = 5, alpha = 0.0001, beta = 0.75, bias = 2.0} : (tensor<1x3x4x4xf32>) -> tensor<1x3x4x4xf32> loc("norm1")
  %5 = top.lrn %4 {size = 5, alpha = 0.0001, beta = 0.75, bias = 2.0} : (tensor<1x3x4x4xf32>) -> tensor<1x3x4x4xf32> loc("norm1")
  // CHECK-NEXT: top.lrn %[[LRN]] {size = 2} : (tensor<1x3x4x4xf32>) -> tensor<1x3x4x4xf32>
  %6 = top.lrn %5 {size = 2} : (tensor<1x3x4x4xf32>) -> tensor<1x3x4x4xf32>
  return %6 : tensor<1x3x4x4xf32>
}
