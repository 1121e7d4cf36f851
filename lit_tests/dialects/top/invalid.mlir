// RUN: not %kiln-opt %s --split-input-file 2>&1 | filecheck %s

func.func @bad_broadcast(%a: tensor<2x3xf32>, %b: tensor<4xf32>) -> tensor<2x3xf32> {
  // CHECK: 'top.add' op loc("add0") (line [[# @LINE + 1]]): operand shapes (2, 3) and (4,) do not broadcast
  %0 = top.add %a, %b : (tensor<2x3xf32>, tensor<4xf32>) -> tensor<2x3xf32> loc("add0")
  return %0 : tensor<2x3xf32>
}

// -----

func.func @wrong_result_shape(%a: tensor<2x3xf32>) -> tensor<3x3xf32> {
  // CHECK: 'top.relu' op (line [[# @LINE + 1]]): result shape (3, 3) differs from operand shape (2, 3)
  %0 = top.relu %a : (tensor<2x3xf32>) -> tensor<3x3xf32>
  return %0 : tensor<3x3xf32>
}

// -----

func.func @operand_count(%a: tensor<2x3xf32>) -> tensor<2x3xf32> {
  // CHECK: 'top.relu' op (line [[# @LINE + 1]]): expected 1 operands, got 2
  %0 = top.relu %a, %a : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}

// -----

func.func @missing_attr(%a: tensor<2x3xf32>) -> tensor<3x2xf32> {
  // CHECK: 'top.transpose' op (line [[# @LINE + 1]]): requires attribute 'perm'
  %0 = top.transpose %a : (tensor<2x3xf32>) -> tensor<3x2xf32>
  return %0 : tensor<3x2xf32>
}

// -----

func.func @attr_kind(%a: tensor<2x3xf32>) -> tensor<3x2xf32> {
  // CHECK: 'top.transpose' op (line [[# @LINE + 1]]): attribute 'perm' must be ints, got string
  %0 = top.transpose %a {perm = "1,0"} : (tensor<2x3xf32>) -> tensor<3x2xf32>
  return %0 : tensor<3x2xf32>
}

// -----

func.func @unknown_attr(%a: tensor<2x3xf32>) -> tensor<3x2xf32> {
  // CHECK: 'top.transpose' op (line [[# @LINE + 1]]): unknown attribute 'permutation'; known: perm
  %0 = top.transpose %a {perm = [1, 0], permutation = [1, 0]} : (tensor<2x3xf32>) -> tensor<3x2xf32>
  return %0 : tensor<3x2xf32>
}

// -----

func.func @bad_perm(%a: tensor<2x3xf32>) -> tensor<3x2xf32> {
  // CHECK: perm [1, 1] is not a permutation of 2 axes
  %0 = top.transpose %a {perm = [1, 1]} : (tensor<2x3xf32>) -> tensor<3x2xf32>
  return %0 : tensor<3x2xf32>
}

// -----

func.func @conv_channels(%x: tensor<1x3x8x8xf32>, %w: tensor<4x2x3x3xf32>) -> tensor<1x4x6x6xf32> {
  // CHECK: 'top.conv' op loc("c") (line [[# @LINE + 1]]): input has 3 channels but filter expects 2 x group 1
  %0 = top.conv %x, %w {strides = [1, 1], pads = [0, 0, 0, 0], dilations = [1, 1]} : (tensor<1x3x8x8xf32>, tensor<4x2x3x3xf32>) -> tensor<1x4x6x6xf32> loc("c")
  return %0 : tensor<1x4x6x6xf32>
}

// -----

func.func @conv_shape(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>) -> tensor<1x4x8x8xf32> {
  // CHECK: result shape (1, 4, 8, 8) should be (1, 4, 6, 6)
  %0 = top.conv %x, %w {strides = [1, 1], pads = [0, 0, 0, 0], dilations = [1, 1]} : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<1x4x8x8xf32>
  return %0 : tensor<1x4x8x8xf32>
}

// -----

func.func @reshape_count(%a: tensor<2x3xf32>) -> tensor<7xf32> {
  // CHECK: cannot reshape (2, 3) (6 elements) to (7,) (7 elements)
  %0 = top.reshape %a {shape = [7]} : (tensor<2x3xf32>) -> tensor<7xf32>
  return %0 : tensor<7xf32>
}

// -----

func.func @constant_type(%a: tensor<2xf32>) -> tensor<2xf32> {
  // CHECK: 'top.constant' op (line [[# @LINE + 1]]): value has type tensor<2xi64> but the result is tensor<2xf32>
  %0 = top.constant {value = dense<[1, 2]> : tensor<2xi64>} : tensor<2xf32>
  return %0 : tensor<2xf32>
}
