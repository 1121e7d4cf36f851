// RUN: %kiln-opt %s | filecheck %s
// Round trip: printing what was printed gives the same text.
// RUN: %kiln-opt %s -o %t.1.mlir && %kiln-opt %t.1.mlir -o %t.2.mlir && diff %t.1.mlir %t.2.mlir
// RUN: %kiln-opt %s --print-generic | %kiln-opt - | filecheck %s

module @ops attributes {kiln.state = "top_f32"} {
  // CHECK-LABEL: func.func @main
  // CHECK-SAME: (%images: tensor<1x3x8x8xf32>) -> tensor<1x4x8x8xf32>
  func.func @main(%images: tensor<1x3x8x8xf32>) -> tensor<1x4x8x8xf32> {
    // CHECK: %[[W:.+]] = top.constant {value = dense<0.5> : tensor<4x3x3x3xf32>} : tensor<4x3x3x3xf32>
    %w = top.constant {value = dense<0.5> : tensor<4x3x3x3xf32>} : tensor<4x3x3x3xf32>
    // CHECK-NEXT: %[[B:.+]] = top.constant {value = dense<[1.0, 2.0, 3.0, 4.0]> : tensor<4xf32>} : tensor<4xf32>
    %b = top.constant {value = dense<[1.0, 2.0, 3.0, 4.0]> : tensor<4xf32>} : tensor<4xf32>
    // CHECK-NEXT: %[[C:.+]] = top.conv %images, %[[W]], %[[B]] {strides = [1, 1], pads = [1, 1, 1, 1], dilations = [1, 1], group = 1}
    // CHECK-SAME: loc("/model.0/conv/Conv")
    %0 = top.conv %images, %w, %b {strides = [1, 1], pads = [1, 1, 1, 1], dilations = [1, 1], group = 1} : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>, tensor<4xf32>) -> tensor<1x4x8x8xf32> loc("/model.0/conv/Conv")
    // CHECK-NEXT: top.sigmoid %[[C]]
    %1 = top.sigmoid %0 : (tensor<1x4x8x8xf32>) -> tensor<1x4x8x8xf32> loc("/model.0/act/Sigmoid")
    // CHECK-NEXT: top.mul %[[C]], %{{.+}} : (tensor<1x4x8x8xf32>, tensor<1x4x8x8xf32>) -> tensor<1x4x8x8xf32>
    %2 = top.mul %0, %1 : (tensor<1x4x8x8xf32>, tensor<1x4x8x8xf32>) -> tensor<1x4x8x8xf32> loc("/model.0/act/Mul")
    // CHECK-NEXT: top.none : none
    %n = top.none : none
    // CHECK: top.conv %{{[0-9]+}}, %w2, %n {{{.+}}} : (tensor<1x4x8x8xf32>, tensor<4x1x3x3xf32>, none)
    %w2 = top.constant {value = dense<1.0> : tensor<4x1x3x3xf32>} : tensor<4x1x3x3xf32>
    %3 = top.conv %2, %w2, %n {strides = [1, 1], pads = [1, 1, 1, 1], dilations = [1, 1], group = 4} : (tensor<1x4x8x8xf32>, tensor<4x1x3x3xf32>, none) -> tensor<1x4x8x8xf32>
    // CHECK: return %{{.+}} : tensor<1x4x8x8xf32>
    return %3 : tensor<1x4x8x8xf32>
  }
}
