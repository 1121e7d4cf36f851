// RUN: not %kiln-opt %s --split-input-file 2>&1 | filecheck %s

func.func @lrn_size(%x: tensor<1x3x2x2xf32>) -> tensor<1x3x2x2xf32> {
  // CHECK: 'top.lrn' op loc("norm1") (line [[# @LINE + 1]]): size must be >= 1, got 0
  %0 = top.lrn %x {size = 0} : (tensor<1x3x2x2xf32>) -> tensor<1x3x2x2xf32> loc("norm1")
  return %0 : tensor<1x3x2x2xf32>
}

// -----

func.func @lrn_rank(%x: tensor<3xf32>) -> tensor<3xf32> {
  // CHECK: 'top.lrn' op (line [[# @LINE + 1]]): input must be N, C, ... (rank >= 2), got shape (3,)
  %0 = top.lrn %x {size = 3} : (tensor<3xf32>) -> tensor<3xf32>
  return %0 : tensor<3xf32>
}

// -----

func.func @lrn_needs_size(%x: tensor<1x3x2xf32>) -> tensor<1x3x2xf32> {
  // CHECK: 'top.lrn' op (line [[# @LINE + 1]]): requires attribute 'size'
  %0 = top.lrn %x : (tensor<1x3x2xf32>) -> tensor<1x3x2xf32>
  return %0 : tensor<1x3x2xf32>
}

// -----

func.func @batch_norm_params(%x: tensor<1x3x2xf32>, %c: tensor<3xf32>, %m: tensor<4xf32>) -> tensor<1x3x2xf32> {
  // CHECK: 'top.batch_normalization' op (line [[# @LINE + 1]]): mean shape (4,) must be (3,)
  %0 = top.batch_normalization %x, %c, %c, %m, %c : (tensor<1x3x2xf32>, tensor<3xf32>, tensor<3xf32>, tensor<4xf32>, tensor<3xf32>) -> tensor<1x3x2xf32>
  return %0 : tensor<1x3x2xf32>
}
