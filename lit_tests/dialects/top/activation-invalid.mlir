// RUN: not %kiln-opt %s --split-input-file 2>&1 | filecheck %s

func.func @shrink_bool(%x: tensor<3xbool>) -> tensor<3xbool> {
  // CHECK: 'top.shrink' op (line [[# @LINE + 1]]): operand must be numeric, got bool
  %0 = top.shrink %x : (tensor<3xbool>) -> tensor<3xbool>
  return %0 : tensor<3xbool>
}

// -----

func.func @shrink_shape(%x: tensor<3xf32>) -> tensor<4xf32> {
  // CHECK: 'top.shrink' op (line [[# @LINE + 1]]): result shape (4,) differs from operand shape (3,)
  %0 = top.shrink %x {lambd = 1.0} : (tensor<3xf32>) -> tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

func.func @gelu_choice(%x: tensor<3xf32>) -> tensor<3xf32> {
  // CHECK: 'top.gelu' op (line [[# @LINE + 1]]): attribute 'approximate' must be one of none, tanh; got fast
  %0 = top.gelu %x {approximate = "fast"} : (tensor<3xf32>) -> tensor<3xf32>
  return %0 : tensor<3xf32>
}
