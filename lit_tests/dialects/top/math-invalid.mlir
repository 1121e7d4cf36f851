// RUN: not %kiln-opt %s --split-input-file 2>&1 | filecheck %s

func.func @compare_result_not_bool(%a: tensor<2x3xf32>, %b: tensor<3xf32>) -> tensor<2x3xf32> {
  // CHECK: 'top.less' op loc("lt") (line [[# @LINE + 1]]): result must have element type bool, got f32
  %0 = top.less %a, %b : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32> loc("lt")
  return %0 : tensor<2x3xf32>
}

// -----

func.func @compare_operand_types(%a: tensor<3xf32>, %b: tensor<3xi32>) -> tensor<3xbool> {
  // CHECK: 'top.equal' op (line [[# @LINE + 1]]): rhs element type i32 differs from the lhs element type f32
  %0 = top.equal %a, %b : (tensor<3xf32>, tensor<3xi32>) -> tensor<3xbool>
  return %0 : tensor<3xbool>
}

// -----

func.func @logic_on_floats(%a: tensor<3xf32>, %b: tensor<3xbool>) -> tensor<3xbool> {
  // CHECK: 'top.and' op (line [[# @LINE + 1]]): lhs must have element type bool, got f32
  %0 = top.and %a, %b : (tensor<3xf32>, tensor<3xbool>) -> tensor<3xbool>
  return %0 : tensor<3xbool>
}

// -----

func.func @sqrt_of_ints(%a: tensor<3xi32>) -> tensor<3xi32> {
  // CHECK: 'top.sqrt' op (line [[# @LINE + 1]]): operand must have a float element type, got i32
  %0 = top.sqrt %a : (tensor<3xi32>) -> tensor<3xi32>
  return %0 : tensor<3xi32>
}

// -----

func.func @neg_changes_type(%a: tensor<3xf32>) -> tensor<3xf16> {
  // CHECK: 'top.neg' op (line [[# @LINE + 1]]): result element type f16 differs from the operand element type f32
  %0 = top.neg %a : (tensor<3xf32>) -> tensor<3xf16>
  return %0 : tensor<3xf16>
}

// -----

func.func @min_types(%a: tensor<3xf32>, %b: tensor<3xi32>) -> tensor<3xf32> {
  // CHECK: 'top.min' op (line [[# @LINE + 1]]): rhs element type i32 differs from the lhs element type f32
  %0 = top.min %a, %b : (tensor<3xf32>, tensor<3xi32>) -> tensor<3xf32>
  return %0 : tensor<3xf32>
}

// -----

func.func @max_broadcast(%a: tensor<2x3xf32>, %b: tensor<2xf32>) -> tensor<2x3xf32> {
  // CHECK: 'top.max' op (line [[# @LINE + 1]]): operand shapes (2, 3) and (2,) do not broadcast
  %0 = top.max %a, %b : (tensor<2x3xf32>, tensor<2xf32>) -> tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}

// -----

func.func @float_mod(%a: tensor<3xf32>, %b: tensor<3xf32>) -> tensor<3xf32> {
  // CHECK: 'top.mod' op (line [[# @LINE + 1]]): float operands require fmod = true
  %0 = top.mod %a, %b : (tensor<3xf32>, tensor<3xf32>) -> tensor<3xf32>
  return %0 : tensor<3xf32>
}

// -----

func.func @where_condition(%c: tensor<3xi64>, %a: tensor<3xf32>) -> tensor<3xf32> {
  // CHECK: 'top.where' op (line [[# @LINE + 1]]): condition must have element type bool, got i64
  %0 = top.where %c, %a, %a : (tensor<3xi64>, tensor<3xf32>, tensor<3xf32>) -> tensor<3xf32>
  return %0 : tensor<3xf32>
}

// -----

func.func @where_shape(%c: tensor<2x1xbool>, %a: tensor<3xf32>, %b: tensor<1x3xf32>) -> tensor<3x3xf32> {
  // CHECK: 'top.where' op (line [[# @LINE + 1]]): result shape (3, 3) is not the broadcast shape (2, 3)
  %0 = top.where %c, %a, %b : (tensor<2x1xbool>, tensor<3xf32>, tensor<1x3xf32>) -> tensor<3x3xf32>
  return %0 : tensor<3x3xf32>
}

// -----

func.func @cast_result(%a: tensor<3xf32>) -> tensor<3xi32> {
  // CHECK: 'top.cast' op (line [[# @LINE + 1]]): result element type i32 is not 'to' (f16)
  %0 = top.cast %a {to = f16} : (tensor<3xf32>) -> tensor<3xi32>
  return %0 : tensor<3xi32>
}

// -----

func.func @cast_to_kind(%a: tensor<3xf32>) -> tensor<3xf16> {
  // CHECK: 'top.cast' op (line [[# @LINE + 1]]): attribute 'to' must be type, got string
  %0 = top.cast %a {to = "f16"} : (tensor<3xf32>) -> tensor<3xf16>
  return %0 : tensor<3xf16>
}

// -----

func.func @cast_to_tensor_type(%a: tensor<3xf32>) -> tensor<3xf16> {
  // CHECK: 'top.cast' op (line [[# @LINE + 1]]): 'to' must be an element type such as f16 or i64, got tensor<3xf16>
  %0 = top.cast %a {to = tensor<3xf16>} : (tensor<3xf32>) -> tensor<3xf16>
  return %0 : tensor<3xf16>
}
