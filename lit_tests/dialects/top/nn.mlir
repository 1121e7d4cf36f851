// RUN: %kiln-opt %s | filecheck %s
// Round trip: printing what was printed gives the same text.
// RUN: %kiln-opt %s -o %t.1.mlir && %kiln-opt %t.1.mlir -o %t.2.mlir && diff %t.1.mlir %t.2.mlir
// RUN: %kiln-opt %s --print-generic | %kiln-opt - | filecheck %s

module @nn attributes {kiln.state = "top_f32"} {
  // CHECK-LABEL: func.func @conv_transpose
  func.func @conv_transpose(%x: tensor<1x4x4x4xf32>, %x1: tensor<2x3x5xf32>) -> (tensor<1x2x8x8xf32>, tensor<1x4x7x7xf32>, tensor<2x4x12xf32>) {
    %w = top.constant {value = dense<0.5> : tensor<4x1x3x3xf32>} : tensor<4x1x3x3xf32>
    %b = top.constant {value = dense<[1.0, 2.0]> : tensor<2xf32>} : tensor<2xf32>
    // CHECK: top.conv_transpose %x, %w, %b {strides = [2, 2], pads = [1, 1, 1, 1], dilations = [1, 1], output_padding = [1, 1], group = 2}
    // CHECK-SAME: (tensor<1x4x4x4xf32>, tensor<4x1x3x3xf32>, tensor<2xf32>) -> tensor<1x2x8x8xf32>
    %0 = top.conv_transpose %x, %w, %b {strides = [2, 2], pads = [1, 1, 1, 1], dilations = [1, 1], output_padding = [1, 1], group = 2} : (tensor<1x4x4x4xf32>, tensor<4x1x3x3xf32>, tensor<2xf32>) -> tensor<1x2x8x8xf32> loc("/up/ConvTranspose")
    // CHECK: top.conv_transpose %x, %w {strides = [1, 1], pads = [0, 0, 0, 0], dilations = [2, 2], output_padding = [0, 0], group = 4}
    // CHECK-SAME: -> tensor<1x4x8x8xf32>
    %1 = top.conv_transpose %x, %w {strides = [1, 1], pads = [0, 0, 0, 0], dilations = [2, 2], output_padding = [0, 0], group = 4} : (tensor<1x4x4x4xf32>, tensor<4x1x3x3xf32>) -> tensor<1x4x8x8xf32>
    // CHECK: top.max_pool %{{.+}} {kernel_shape = [2, 2], strides = [1, 1], pads = [0, 0, 0, 0], dilations = [1, 1]} : (tensor<1x4x8x8xf32>) -> tensor<1x4x7x7xf32>
    %2 = top.max_pool %1 {kernel_shape = [2, 2], strides = [1, 1], pads = [0, 0, 0, 0], dilations = [1, 1]} : (tensor<1x4x8x8xf32>) -> tensor<1x4x7x7xf32>
    %w1 = top.constant {value = dense<1.0> : tensor<3x4x4xf32>} : tensor<3x4x4xf32>
    // CHECK: top.conv_transpose %x1, %w1 {strides = [2], pads = [0, 1], dilations = [1], output_padding = [1], group = 1} : (tensor<2x3x5xf32>, tensor<3x4x4xf32>) -> tensor<2x4x12xf32>
    %3 = top.conv_transpose %x1, %w1 {strides = [2], pads = [0, 1], dilations = [1], output_padding = [1], group = 1} : (tensor<2x3x5xf32>, tensor<3x4x4xf32>) -> tensor<2x4x12xf32>
    return %0, %2, %3 : tensor<1x2x8x8xf32>, tensor<1x4x7x7xf32>, tensor<2x4x12xf32>
  }

  // CHECK-LABEL: func.func @pools
  func.func @pools(%x: tensor<1x3x7x7xf32>, %v: tensor<2x3x9xi8>) -> (tensor<1x3x4x4xf32>, tensor<1x3x4x4xf32>, tensor<1x3x1x1xf32>, tensor<1x3x1x1xf32>, tensor<2x3x4xi8>, tensor<2x3x1xi8>) {
    // CHECK: top.max_pool %x {kernel_shape = [3, 3], strides = [2, 2], pads = [1, 1, 1, 1], dilations = [1, 1], ceil_mode = false}
    // CHECK-SAME: loc("/backbone/MaxPool")
    %0 = top.max_pool %x {kernel_shape = [3, 3], strides = [2, 2], pads = [1, 1, 1, 1], dilations = [1, 1], ceil_mode = false} : (tensor<1x3x7x7xf32>) -> tensor<1x3x4x4xf32> loc("/backbone/MaxPool")
    // CHECK: top.average_pool %x {kernel_shape = [2, 2], strides = [2, 2], pads = [0, 0, 0, 0], dilations = [1, 1], ceil_mode = true, count_include_pad = true}
    %1 = top.average_pool %x {kernel_shape = [2, 2], strides = [2, 2], pads = [0, 0, 0, 0], dilations = [1, 1], ceil_mode = true, count_include_pad = true} : (tensor<1x3x7x7xf32>) -> tensor<1x3x4x4xf32>
    // CHECK: top.global_average_pool %x : (tensor<1x3x7x7xf32>) -> tensor<1x3x1x1xf32>
    %2 = top.global_average_pool %x : (tensor<1x3x7x7xf32>) -> tensor<1x3x1x1xf32>
    // CHECK: top.global_max_pool %x : (tensor<1x3x7x7xf32>) -> tensor<1x3x1x1xf32>
    %3 = top.global_max_pool %x : (tensor<1x3x7x7xf32>) -> tensor<1x3x1x1xf32>
    // CHECK: top.max_pool %v {kernel_shape = [2], strides = [2], pads = [0, 0], dilations = [1]} : (tensor<2x3x9xi8>) -> tensor<2x3x4xi8>
    %4 = top.max_pool %v {kernel_shape = [2], strides = [2], pads = [0, 0], dilations = [1]} : (tensor<2x3x9xi8>) -> tensor<2x3x4xi8>
    // CHECK: top.global_max_pool %v : (tensor<2x3x9xi8>) -> tensor<2x3x1xi8>
    %5 = top.global_max_pool %v : (tensor<2x3x9xi8>) -> tensor<2x3x1xi8>
    return %0, %1, %2, %3, %4, %5 : tensor<1x3x4x4xf32>, tensor<1x3x4x4xf32>, tensor<1x3x1x1xf32>, tensor<1x3x1x1xf32>, tensor<2x3x4xi8>, tensor<2x3x1xi8>
  }

  // CHECK-LABEL: func.func @products
  func.func @products(%a: tensor<2x5x8xf32>, %v: tensor<8xf32>, %m: tensor<3x8xf32>) -> (tensor<2x5x6xf32>, tensor<2x5xf32>, tensor<f32>, tensor<3x6xf32>, tensor<8x6xf32>) {
    // CHECK: %[[W:.+]] = top.weight @fc.weight : tensor<8x6xf32>
    %w = top.weight @"fc.weight" : tensor<8x6xf32>
    // CHECK-NEXT: top.matmul %a, %[[W]] : (tensor<2x5x8xf32>, tensor<8x6xf32>) -> tensor<2x5x6xf32>
    %0 = top.matmul %a, %w : (tensor<2x5x8xf32>, tensor<8x6xf32>) -> tensor<2x5x6xf32> loc("/fc/MatMul")
    // CHECK-NEXT: top.matmul %a, %v : (tensor<2x5x8xf32>, tensor<8xf32>) -> tensor<2x5xf32>
    %1 = top.matmul %a, %v : (tensor<2x5x8xf32>, tensor<8xf32>) -> tensor<2x5xf32>
    // CHECK-NEXT: top.matmul %v, %v : (tensor<8xf32>, tensor<8xf32>) -> tensor<f32>
    %2 = top.matmul %v, %v : (tensor<8xf32>, tensor<8xf32>) -> tensor<f32>
    %c = top.constant {value = dense<[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]> : tensor<6xf32>} : tensor<6xf32>
    // CHECK: top.gemm %m, %{{.+}}, %{{.+}} {alpha = 0.5, beta = 2.0, trans_a = false, trans_b = false} : (tensor<3x8xf32>, tensor<8x6xf32>, tensor<6xf32>) -> tensor<3x6xf32>
    %3 = top.gemm %m, %w, %c {alpha = 0.5, beta = 2.0, trans_a = false, trans_b = false} : (tensor<3x8xf32>, tensor<8x6xf32>, tensor<6xf32>) -> tensor<3x6xf32>
    // CHECK: top.gemm %m, %{{.+}} {trans_a = true} : (tensor<3x8xf32>, tensor<3x6xf32>) -> tensor<8x6xf32>
    %4 = top.gemm %m, %3 {trans_a = true} : (tensor<3x8xf32>, tensor<3x6xf32>) -> tensor<8x6xf32>
    return %0, %1, %2, %3, %4 : tensor<2x5x6xf32>, tensor<2x5xf32>, tensor<f32>, tensor<3x6xf32>, tensor<8x6xf32>
  }
}
