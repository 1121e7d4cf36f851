// RUN: not %kiln-opt %s --split-input-file 2>&1 | filecheck %s

// CHECK: 'func.return' op (line [[# @LINE + 2]]): returns (tensor<2xi64>) but function @f is declared to return (tensor<2xf32>)
func.func @f(%a: tensor<2xi64>) -> tensor<2xf32> {
  return %a : tensor<2xi64>
}

// -----

// CHECK: function @no_return must end with a 'return'
func.func @no_return(%a: tensor<2xf32>) -> tensor<2xf32> {
  %0 = top.relu %a : (tensor<2xf32>) -> tensor<2xf32>
}

// -----

// CHECK: function @g is defined twice
func.func @g() {
  return
}
func.func @g() {
  return
}

// -----

func.func @mid_return(%a: tensor<2xf32>) -> tensor<2xf32> {
  // CHECK: 'func.return' op (line [[# @LINE + 1]]): is a terminator but is not the last op of its block
  return %a : tensor<2xf32>
  return %a : tensor<2xf32>
}
