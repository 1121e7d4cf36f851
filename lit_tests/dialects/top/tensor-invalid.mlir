// RUN: not %kiln-opt %s --split-input-file 2>&1 | filecheck %s

func.func @concat_shape(%a: tensor<2x3xf32>, %b: tensor<2x4xf32>) -> tensor<4x3xf32> {
  // CHECK: 'top.concat' op loc("cat") (line [[# @LINE + 1]]): operand 1 shape (2, 4) does not fit result shape (4, 3) outside axis 0
  %0 = top.concat %a, %b {axis = 0} : (tensor<2x3xf32>, tensor<2x4xf32>) -> tensor<4x3xf32> loc("cat")
  return %0 : tensor<4x3xf32>
}

// -----

func.func @concat_axis(%a: tensor<2x3xf32>) -> tensor<4x3xf32> {
  // CHECK: 'top.concat' op (line [[# @LINE + 1]]): axis 2 is out of range [0, 2)
  %0 = top.concat %a, %a {axis = 2} : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<4x3xf32>
  return %0 : tensor<4x3xf32>
}

// -----

func.func @slice_per_axis(%a: tensor<4x5xf32>) -> tensor<2x5xf32> {
  // CHECK: 'top.slice' op (line [[# @LINE + 1]]): 'steps' needs 2 values (one per axis)
  %0 = top.slice %a {starts = [0, 0], ends = [2, 5], steps = [1]} : (tensor<4x5xf32>) -> tensor<2x5xf32>
  return %0 : tensor<2x5xf32>
}

// -----

func.func @slice_shape(%a: tensor<4x5xf32>) -> tensor<3x5xf32> {
  // CHECK: 'top.slice' op (line [[# @LINE + 1]]): result shape (3, 5) should be (4, 5)
  %0 = top.slice %a {starts = [3, 0], ends = [-5, 5], steps = [-1, 1]} : (tensor<4x5xf32>) -> tensor<3x5xf32>
  return %0 : tensor<3x5xf32>
}

// -----

func.func @gather_float_indices(%a: tensor<4x5xf32>, %i: tensor<2xf32>) -> tensor<2x5xf32> {
  // CHECK: 'top.gather' op (line [[# @LINE + 1]]): indices must have an integer element type, got f32
  %0 = top.gather %a, %i {axis = 0} : (tensor<4x5xf32>, tensor<2xf32>) -> tensor<2x5xf32>
  return %0 : tensor<2x5xf32>
}

// -----

func.func @gather_shape(%a: tensor<4x5xf32>, %i: tensor<2x3xi64>) -> tensor<4x6xf32> {
  // CHECK: 'top.gather' op (line [[# @LINE + 1]]): result shape (4, 6) should be (4, 2, 3)
  %0 = top.gather %a, %i {axis = 1} : (tensor<4x5xf32>, tensor<2x3xi64>) -> tensor<4x6xf32>
  return %0 : tensor<4x6xf32>
}

// -----

func.func @pad_mode(%a: tensor<4xf32>) -> tensor<6xf32> {
  // CHECK: 'top.pad' op (line [[# @LINE + 1]]): attribute 'mode' must be one of constant, reflect, edge, wrap; got symmetric
  %0 = top.pad %a {pads = [1, 1], mode = "symmetric"} : (tensor<4xf32>) -> tensor<6xf32>
  return %0 : tensor<6xf32>
}

// -----

func.func @expand_shape(%a: tensor<3xf32>) -> tensor<2x4xf32> {
  // CHECK: 'top.expand' op (line [[# @LINE + 1]]): operand shape (3,) does not broadcast to (2, 4)
  %0 = top.expand %a {shape = [2, 4]} : (tensor<3xf32>) -> tensor<2x4xf32>
  return %0 : tensor<2x4xf32>
}

// -----

func.func @topk_indices_type(%a: tensor<5xf32>) -> tensor<2xi32> {
  // CHECK: 'top.topk_indices' op (line [[# @LINE + 1]]): result element type must be i64, got i32
  %0 = top.topk_indices %a {k = 2, axis = 0} : (tensor<5xf32>) -> tensor<2xi32>
  return %0 : tensor<2xi32>
}

// -----

func.func @topk_k(%a: tensor<5xf32>) -> tensor<6xf32> {
  // CHECK: 'top.topk_values' op (line [[# @LINE + 1]]): k = 6 is out of range for a dim of 5
  %0 = top.topk_values %a {k = 6, axis = 0} : (tensor<5xf32>) -> tensor<6xf32>
  return %0 : tensor<6xf32>
}

// -----

func.func @depth_to_space_channels(%a: tensor<1x6x2x2xf32>) -> tensor<1x1x4x4xf32> {
  // CHECK: 'top.depth_to_space' op (line [[# @LINE + 1]]): channels 6 are not divisible by blocksize^2 = 4
  %0 = top.depth_to_space %a {blocksize = 2} : (tensor<1x6x2x2xf32>) -> tensor<1x1x4x4xf32>
  return %0 : tensor<1x1x4x4xf32>
}

// -----

func.func @scatter_updates(%a: tensor<5xf32>, %i: tensor<2x1xi64>, %u: tensor<3xf32>) -> tensor<5xf32> {
  // CHECK: 'top.scatter_nd' op (line [[# @LINE + 1]]): updates shape (3,) should be (2,)
  %0 = top.scatter_nd %a, %i, %u : (tensor<5xf32>, tensor<2x1xi64>, tensor<3xf32>) -> tensor<5xf32>
  return %0 : tensor<5xf32>
}

// -----

func.func @einsum_equation(%a: tensor<2x3xf32>, %b: tensor<4x5xf32>) -> tensor<2x5xf32> {
  // CHECK: 'top.einsum' op (line [[# @LINE + 1]]): label 'j' has sizes 3 and 4
  %0 = top.einsum %a, %b {equation = "ij,jk->ik"} : (tensor<2x3xf32>, tensor<4x5xf32>) -> tensor<2x5xf32>
  return %0 : tensor<2x5xf32>
}

// -----

func.func @element_type(%a: tensor<2x3xf32>) -> tensor<2x6xi64> {
  // CHECK: 'top.tile' op (line [[# @LINE + 1]]): result element type i64 differs from the operand's f32
  %0 = top.tile %a {repeats = [1, 2]} : (tensor<2x3xf32>) -> tensor<2x6xi64>
  return %0 : tensor<2x6xi64>
}
