// RUN: %kiln-opt %s | filecheck %s
// RUN: %kiln-opt %s -o %t.1.mlir && %kiln-opt %t.1.mlir -o %t.2.mlir && diff %t.1.mlir %t.2.mlir

// A file of functions without a module wrapper is read as one module.
// CHECK: module {
// CHECK-NEXT: func.func @two_results(%arg0: tensor<2xf32>, %arg1: tensor<3xi64> {kiln.pixel_format = "rgb"}) -> (tensor<2xf32>, tensor<3xi64>) attributes {kiln.note = "x"} {
// CHECK-NEXT:   return %arg0, %arg1 : tensor<2xf32>, tensor<3xi64>
func.func @two_results(%arg0: tensor<2xf32>, %arg1: tensor<3xi64> {kiln.pixel_format = "rgb"}) -> (tensor<2xf32>, tensor<3xi64>) attributes {kiln.note = "x"} {
  return %arg0, %arg1 : tensor<2xf32>, tensor<3xi64>
}

// CHECK: func.func @nothing() {
// CHECK-NEXT: return
// CHECK-NEXT: }
func.func @nothing() {
  return
}
