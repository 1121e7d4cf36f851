// RUN: not %kiln-opt %s --split-input-file 2>&1 | filecheck %s
// Verifier errors of the nn ops (nn.py) and of top.resize (resize.py).

func.func @conv_transpose_channels(%x: tensor<1x3x4x4xf32>, %w: tensor<4x2x3x3xf32>) -> tensor<1x2x6x6xf32> {
  // CHECK: 'top.conv_transpose' op loc("up") (line [[# @LINE + 1]]): input has 3 channels but the filter's first dimension is 4
  %0 = top.conv_transpose %x, %w {strides = [1, 1], pads = [0, 0, 0, 0], dilations = [1, 1], output_padding = [0, 0]} : (tensor<1x3x4x4xf32>, tensor<4x2x3x3xf32>) -> tensor<1x2x6x6xf32> loc("up")
  return %0 : tensor<1x2x6x6xf32>
}

// -----

func.func @conv_transpose_shape(%x: tensor<1x4x4x4xf32>, %w: tensor<4x2x3x3xf32>) -> tensor<1x2x8x8xf32> {
  // CHECK: 'top.conv_transpose' op (line [[# @LINE + 1]]): result shape (1, 2, 8, 8) should be (1, 2, 9, 9)
  %0 = top.conv_transpose %x, %w {strides = [2, 2], pads = [0, 0, 0, 0], dilations = [1, 1], output_padding = [0, 0]} : (tensor<1x4x4x4xf32>, tensor<4x2x3x3xf32>) -> tensor<1x2x8x8xf32>
  return %0 : tensor<1x2x8x8xf32>
}

// -----

func.func @conv_transpose_bias(%x: tensor<1x4x4x4xf32>, %w: tensor<4x2x3x3xf32>, %b: tensor<2xf32>) -> tensor<1x4x6x6xf32> {
  // CHECK: bias shape (2,) must be (4,)
  %0 = top.conv_transpose %x, %w, %b {strides = [1, 1], pads = [0, 0, 0, 0], dilations = [1, 1], output_padding = [0, 0], group = 2} : (tensor<1x4x4x4xf32>, tensor<4x2x3x3xf32>, tensor<2xf32>) -> tensor<1x4x6x6xf32>
  return %0 : tensor<1x4x6x6xf32>
}

// -----

func.func @max_pool_attr_length(%x: tensor<1x3x8x8xf32>) -> tensor<1x3x4x4xf32> {
  // CHECK: 'top.max_pool' op (line [[# @LINE + 1]]): 'strides' needs 2 values, got 1
  %0 = top.max_pool %x {kernel_shape = [2, 2], strides = [2], pads = [0, 0, 0, 0], dilations = [1, 1]} : (tensor<1x3x8x8xf32>) -> tensor<1x3x4x4xf32>
  return %0 : tensor<1x3x4x4xf32>
}

// -----

func.func @max_pool_pads(%x: tensor<1x3x8x8xf32>) -> tensor<1x3x10x10xf32> {
  // CHECK: pads [2, 2, 2, 2] must be smaller than the kernel [2, 2]
  %0 = top.max_pool %x {kernel_shape = [2, 2], strides = [1, 1], pads = [2, 2, 2, 2], dilations = [1, 1]} : (tensor<1x3x8x8xf32>) -> tensor<1x3x10x10xf32>
  return %0 : tensor<1x3x10x10xf32>
}

// -----

func.func @average_pool_ceil_shape(%x: tensor<1x3x7x7xf32>) -> tensor<1x3x3x3xf32> {
  // CHECK: 'top.average_pool' op (line [[# @LINE + 1]]): result shape (1, 3, 3, 3) should be (1, 3, 4, 4)
  %0 = top.average_pool %x {kernel_shape = [2, 2], strides = [2, 2], pads = [0, 0, 0, 0], dilations = [1, 1], ceil_mode = true} : (tensor<1x3x7x7xf32>) -> tensor<1x3x3x3xf32>
  return %0 : tensor<1x3x3x3xf32>
}

// -----

func.func @global_pool_shape(%x: tensor<1x3x7x7xf32>) -> tensor<1x3x7x1xf32> {
  // CHECK: 'top.global_average_pool' op (line [[# @LINE + 1]]): result shape (1, 3, 7, 1) should be (1, 3, 1, 1)
  %0 = top.global_average_pool %x : (tensor<1x3x7x7xf32>) -> tensor<1x3x7x1xf32>
  return %0 : tensor<1x3x7x1xf32>
}

// -----

func.func @matmul_inner(%a: tensor<2x3xf32>, %b: tensor<4x5xf32>) -> tensor<2x5xf32> {
  // CHECK: 'top.matmul' op (line [[# @LINE + 1]]): inner dimensions differ: (2, 3) and (4, 5)
  %0 = top.matmul %a, %b : (tensor<2x3xf32>, tensor<4x5xf32>) -> tensor<2x5xf32>
  return %0 : tensor<2x5xf32>
}

// -----

func.func @matmul_batch(%a: tensor<2x3x4xf32>, %b: tensor<3x4x5xf32>) -> tensor<3x3x5xf32> {
  // CHECK: batch dimensions of (2, 3, 4) and (3, 4, 5) do not broadcast
  %0 = top.matmul %a, %b : (tensor<2x3x4xf32>, tensor<3x4x5xf32>) -> tensor<3x3x5xf32>
  return %0 : tensor<3x3x5xf32>
}

// -----

func.func @matmul_result(%a: tensor<4xf32>, %b: tensor<4x5xf32>) -> tensor<1x5xf32> {
  // CHECK: result shape (1, 5) should be (5,)
  %0 = top.matmul %a, %b : (tensor<4xf32>, tensor<4x5xf32>) -> tensor<1x5xf32>
  return %0 : tensor<1x5xf32>
}

// -----

func.func @gemm_trans(%a: tensor<3x4xf32>, %b: tensor<4x5xf32>) -> tensor<3x5xf32> {
  // CHECK: 'top.gemm' op (line [[# @LINE + 1]]): inner dimensions differ: A' is (3, 4) and B' is (5, 4)
  %0 = top.gemm %a, %b {trans_b = true} : (tensor<3x4xf32>, tensor<4x5xf32>) -> tensor<3x5xf32>
  return %0 : tensor<3x5xf32>
}

// -----

func.func @gemm_c(%a: tensor<3x4xf32>, %b: tensor<4x5xf32>, %c: tensor<3xf32>) -> tensor<3x5xf32> {
  // CHECK: C of shape (3,) does not broadcast to (3, 5)
  %0 = top.gemm %a, %b, %c : (tensor<3x4xf32>, tensor<4x5xf32>, tensor<3xf32>) -> tensor<3x5xf32>
  return %0 : tensor<3x5xf32>
}

// -----

func.func @gemm_alpha_kind(%a: tensor<3x4xf32>, %b: tensor<4x5xf32>) -> tensor<3x5xf32> {
  // CHECK: attribute 'alpha' must be float, got string
  %0 = top.gemm %a, %b {alpha = "2"} : (tensor<3x4xf32>, tensor<4x5xf32>) -> tensor<3x5xf32>
  return %0 : tensor<3x5xf32>
}

// -----

func.func @resize_sizes(%x: tensor<1x3x4x4xf32>) -> tensor<1x3x8x8xf32> {
  // CHECK: 'top.resize' op (line [[# @LINE + 1]]): result shape (1, 3, 8, 8) differs from sizes (1, 3, 8, 9)
  %0 = top.resize %x {sizes = [1, 3, 8, 9], scales = [1.0, 1.0, 2.0, 2.25], mode = #resize_mode<nearest>} : (tensor<1x3x4x4xf32>) -> tensor<1x3x8x8xf32>
  return %0 : tensor<1x3x8x8xf32>
}

// -----

func.func @resize_scales(%x: tensor<1x3x4x4xf32>) -> tensor<1x3x8x8xf32> {
  // CHECK: 'scales' must be 4 positive values, got [2.0, 2.0]
  %0 = top.resize %x {sizes = [1, 3, 8, 8], scales = [2.0, 2.0], mode = #resize_mode<nearest>} : (tensor<1x3x4x4xf32>) -> tensor<1x3x8x8xf32>
  return %0 : tensor<1x3x8x8xf32>
}

// -----

func.func @resize_scale_one(%x: tensor<1x3x4x4xf32>) -> tensor<1x3x8x4xf32> {
  // CHECK: 'top.resize' op (line [[# @LINE + 1]]): axis 2 has scale 1 but resizes 4 to 8
  %0 = top.resize %x {sizes = [1, 3, 8, 4], scales = [1.0, 1.0, 1.0, 1.0], mode = #resize_mode<nearest>} : (tensor<1x3x4x4xf32>) -> tensor<1x3x8x4xf32>
  return %0 : tensor<1x3x8x4xf32>
}

// -----

func.func @resize_mode_string(%x: tensor<1x3x4x4xf32>) -> tensor<1x3x8x8xf32> {
  // CHECK: attribute 'mode' must be enum, got string
  %0 = top.resize %x {sizes = [1, 3, 8, 8], scales = [1.0, 1.0, 2.0, 2.0], mode = "nearest"} : (tensor<1x3x4x4xf32>) -> tensor<1x3x8x8xf32>
  return %0 : tensor<1x3x8x8xf32>
}

// -----

func.func @resize_mode_choice(%x: tensor<1x3x4x4xf32>) -> tensor<1x3x8x8xf32> {
  // CHECK: attribute 'mode' must be one of nearest, linear, cubic; got area
  %0 = top.resize %x {sizes = [1, 3, 8, 8], scales = [1.0, 1.0, 2.0, 2.0], mode = #resize_mode<area>} : (tensor<1x3x4x4xf32>) -> tensor<1x3x8x8xf32>
  return %0 : tensor<1x3x8x8xf32>
}

// -----

func.func @resize_enum_kind(%x: tensor<1x3x4x4xf32>) -> tensor<1x3x8x8xf32> {
  // CHECK: attribute 'nearest_mode' must be a #resize_nearest<...>, got #resize_coord<floor>
  %0 = top.resize %x {sizes = [1, 3, 8, 8], scales = [1.0, 1.0, 2.0, 2.0], mode = #resize_mode<nearest>, nearest_mode = #resize_coord<floor>} : (tensor<1x3x4x4xf32>) -> tensor<1x3x8x8xf32>
  return %0 : tensor<1x3x8x8xf32>
}

// -----

func.func @resize_linear_int(%x: tensor<1x3x4x4xi8>) -> tensor<1x3x8x8xi8> {
  // CHECK: linear resize needs a float input
  %0 = top.resize %x {sizes = [1, 3, 8, 8], scales = [1.0, 1.0, 2.0, 2.0], mode = #resize_mode<linear>} : (tensor<1x3x4x4xi8>) -> tensor<1x3x8x8xi8>
  return %0 : tensor<1x3x8x8xi8>
}
