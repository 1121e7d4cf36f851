// RUN: %kiln-opt %s | filecheck %s
// Round trip: printing what was printed gives the same text.
// RUN: %kiln-opt %s -o %t.1.mlir && %kiln-opt %t.1.mlir -o %t.2.mlir && diff %t.1.mlir %t.2.mlir
// RUN: %kiln-opt %s --print-generic | %kiln-opt - | filecheck %s

// CHECK-LABEL: func.func @pointwise
func.func @pointwise(%x: tensor<1x4x2x2xf32>) -> tensor<1x4x2x2xf32> {
  // CHECK: %[[A:.+]] = top.leaky_relu %x {alpha = 0.1} : (tensor<1x4x2x2xf32>) -> tensor<1x4x2x2xf32> loc("lrelu")
  %0 = top.leaky_relu %x {alpha = 0.1} : (tensor<1x4x2x2xf32>) -> tensor<1x4x2x2xf32> loc("lrelu")
  // CHECK-NEXT: %[[SL:.+]] = top.constant {value = dense<[[[0.25]], {{.+}}]]> : tensor<4x1x1xf32>} : tensor<4x1x1xf32>
  %slope = top.constant {value = dense<[[[0.25]], [[0.5]], [[0.125]], [[1.0]]]> : tensor<4x1x1xf32>} : tensor<4x1x1xf32>
  // CHECK-NEXT: %[[P:.+]] = top.prelu %[[A]], %[[SL]] : (tensor<1x4x2x2xf32>, tensor<4x1x1xf32>) -> tensor<1x4x2x2xf32>
  %1 = top.prelu %0, %slope : (tensor<1x4x2x2xf32>, tensor<4x1x1xf32>) -> tensor<1x4x2x2xf32>
  // CHECK-NEXT: %[[C:.+]] = top.clip %[[P]] {min = 0.0, max = 6.0}
  %2 = top.clip %1 {min = 0.0, max = 6.0} : (tensor<1x4x2x2xf32>) -> tensor<1x4x2x2xf32>
  // CHECK-NEXT: %[[C2:.+]] = top.clip %[[C]] {max = 1.5} :
  %3 = top.clip %2 {max = 1.5} : (tensor<1x4x2x2xf32>) -> tensor<1x4x2x2xf32>
  // CHECK-NEXT: top.hard_sigmoid %[[C2]] {alpha = 0.2, beta = 0.5}
  %4 = top.hard_sigmoid %3 {alpha = 0.2, beta = 0.5} : (tensor<1x4x2x2xf32>) -> tensor<1x4x2x2xf32>
  // CHECK-NEXT: top.hard_swish
  %5 = top.hard_swish %4 : (tensor<1x4x2x2xf32>) -> tensor<1x4x2x2xf32>
  // CHECK-NEXT: top.gelu %{{.+}} {approximate = "tanh"}
  %6 = top.gelu %5 {approximate = "tanh"} : (tensor<1x4x2x2xf32>) -> tensor<1x4x2x2xf32>
  // CHECK-NEXT: top.gelu %{{.+}} : (tensor<1x4x2x2xf32>)
  %7 = top.gelu %6 : (tensor<1x4x2x2xf32>) -> tensor<1x4x2x2xf32>
  // CHECK-NEXT: top.tanh
  %8 = top.tanh %7 : (tensor<1x4x2x2xf32>) -> tensor<1x4x2x2xf32>
  // CHECK-NEXT: top.softplus
  %9 = top.softplus %8 : (tensor<1x4x2x2xf32>) -> tensor<1x4x2x2xf32>
  // CHECK-NEXT: top.mish
  %10 = top.mish %9 : (tensor<1x4x2x2xf32>) -> tensor<1x4x2x2xf32>
  // CHECK-NEXT: top.elu %{{.+}} {alpha = 1.0}
  %11 = top.elu %10 {alpha = 1.0} : (tensor<1x4x2x2xf32>) -> tensor<1x4x2x2xf32>
  // CHECK-NEXT: top.selu %{{.+}} {alpha = 1.6732632, gamma = 1.050701}
  %12 = top.selu %11 {alpha = 1.6732632, gamma = 1.050701} : (tensor<1x4x2x2xf32>) -> tensor<1x4x2x2xf32>
  // CHECK-NEXT: top.softsign
  %13 = top.softsign %12 : (tensor<1x4x2x2xf32>) -> tensor<1x4x2x2xf32>
  // CHECK-NEXT: top.silu %{{.+}} : (tensor<1x4x2x2xf32>) -> tensor<1x4x2x2xf32> loc("swish")
  %14 = top.silu %13 : (tensor<1x4x2x2xf32>) -> tensor<1x4x2x2xf32> loc("swish")
  return %14 : tensor<1x4x2x2xf32>
}

// CHECK-LABEL: func.func @softmax
func.func @softmax(%x: tensor<2x3x4xf16>, %i: tensor<5xi32>) -> (tensor<2x3x4xf16>, tensor<5xi32>) {
  // CHECK: top.softmax %x {axis = 2} : (tensor<2x3x4xf16>) -> tensor<2x3x4xf16>
  %0 = top.softmax %x {axis = 2} : (tensor<2x3x4xf16>) -> tensor<2x3x4xf16>
  // CHECK-NEXT: top.log_softmax %{{.+}} {axis = 0} : (tensor<2x3x4xf16>) -> tensor<2x3x4xf16>
  %1 = top.log_softmax %0 {axis = 0} : (tensor<2x3x4xf16>) -> tensor<2x3x4xf16>
  // CHECK-NEXT: top.clip %i {min = -3, max = 7} : (tensor<5xi32>) -> tensor<5xi32>
  %2 = top.clip %i {min = -3, max = 7} : (tensor<5xi32>) -> tensor<5xi32>
  // CHECK-NEXT: top.shrink %{{.+}} {bias = 1.5, lambd = 1.5} : (tensor<2x3x4xf16>) -> tensor<2x3x4xf16>
  %3 = top.shrink %1 {bias = 1.5, lambd = 1.5} : (tensor<2x3x4xf16>) -> tensor<2x3x4xf16>
  // CHECK-NEXT: top.shrink %{{.+}} : (tensor<5xi32>) -> tensor<5xi32>
  %4 = top.shrink %2 : (tensor<5xi32>) -> tensor<5xi32>
  return %3, %4 : tensor<2x3x4xf16>, tensor<5xi32>
}
