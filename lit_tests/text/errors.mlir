// Malformed text: one message with file:line:col, what was expected, the line and a caret.
// RUN: not %kiln-opt %s --split-input-file 2>&1 | filecheck %s

func.func @undefined(%a: tensor<2xf32>) -> tensor<2xf32> {
  // CHECK: errors.mlir:[[# @LINE + 1]]:17: error: use of undefined value %b
  %0 = top.relu %b : (tensor<2xf32>) -> tensor<2xf32>
  return %0 : tensor<2xf32>
}

// -----

func.func @twice(%a: tensor<2xf32>) -> tensor<2xf32> {
  %0 = top.relu %a : (tensor<2xf32>) -> tensor<2xf32>
  // CHECK: errors.mlir:[[# @LINE + 1]]:3: error: value %0 is defined twice
  %0 = top.relu %a : (tensor<2xf32>) -> tensor<2xf32>
  return %0 : tensor<2xf32>
}

// -----

func.func @type_mismatch(%a: tensor<2xf32>) -> tensor<2xf32> {
  // CHECK: errors.mlir:[[# @LINE + 1]]:17: error: operand %a of 'top.relu' has type tensor<2xf32> but the op's type says tensor<3xf32>
  %0 = top.relu %a : (tensor<3xf32>) -> tensor<2xf32>
  return %0 : tensor<2xf32>
}

// -----

func.func @count_mismatch(%a: tensor<2xf32>) -> tensor<2xf32> {
  // CHECK: errors.mlir:[[# @LINE + 1]]:8: error: 'top.add' has 2 operands but its type lists 1
  %0 = top.add %a, %a : (tensor<2xf32>) -> tensor<2xf32>
  return %0 : tensor<2xf32>
}

// -----

func.func @result_count(%a: tensor<2xf32>) -> tensor<2xf32> {
  // CHECK: errors.mlir:[[# @LINE + 1]]:12: error: 'top.relu' defines 2 results but its type lists 1
  %0, %1 = top.relu %a : (tensor<2xf32>) -> tensor<2xf32>
  return %0 : tensor<2xf32>
}

// -----

func.func @missing_colon(%a: tensor<2xf32>) -> tensor<2xf32> {
  // CHECK: errors.mlir:[[# @LINE + 3]]:{{[0-9]+}}: error: unexpected '('; expected ':', '{'
  // CHECK-NEXT: %0 = top.relu %a (tensor<2xf32>) -> tensor<2xf32>
  // CHECK-NEXT: {{^ +}}^
  %0 = top.relu %a (tensor<2xf32>) -> tensor<2xf32>
  return %0 : tensor<2xf32>
}

// -----

func.func @bad_char(%a: tensor<2xf32>) -> tensor<2xf32> {
  // CHECK: errors.mlir:[[# @LINE + 1]]:17: error: unexpected character '&'
  %0 = top.relu & %a : (tensor<2xf32>) -> tensor<2xf32>
  return %0 : tensor<2xf32>
}

// -----

// CHECK: errors.mlir:{{[0-9:]+}}: error: unexpected end of input
func.func @eof(%a: tensor<2xf32>) -> tensor<2xf32> {
  return %a : tensor<2xf32>

// -----

func.func @dup_attr(%a: tensor<2x3xf32>) -> tensor<3x2xf32> {
  // CHECK: errors.mlir:[[# @LINE + 1]]:{{[0-9]+}}: error: attribute 'perm' is given twice
  %0 = top.transpose %a {perm = [1, 0], "perm" = [1, 0]} : (tensor<2x3xf32>) -> tensor<3x2xf32>
  return %0 : tensor<3x2xf32>
}

// -----

func.func @bad_dense() -> tensor<3xi64> {
  // CHECK: errors.mlir:{{[0-9:]+}}: error: bad dense constant for (3,)
  %0 = top.constant {value = dense<[1, 2]> : tensor<3xi64>} : tensor<3xi64>
  return %0 : tensor<3xi64>
}

// -----

// A chunk after a bad one is still processed: this one is fine.
// CHECK: func.func @fine
func.func @fine() {
  return
}
