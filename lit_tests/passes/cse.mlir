// RUN: %kiln-opt %s -p cse | filecheck %s

// CHECK-LABEL: func.func @same_op_twice
// CHECK: %[[A:.+]] = top.relu %x : {{.+}} loc("first")
// CHECK-NOT: loc("second")
// CHECK: top.add %[[A]], %[[A]]
func.func @same_op_twice(%x: tensor<4xf32>) -> tensor<4xf32> {
  %0 = top.relu %x : (tensor<4xf32>) -> tensor<4xf32> loc("first")
  %1 = top.relu %x : (tensor<4xf32>) -> tensor<4xf32> loc("second")
  %2 = top.add %0, %1 : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  return %2 : tensor<4xf32>
}

// Commutative ops match with their operands swapped; non-commutative ones do not.
// CHECK-LABEL: func.func @commutative
// CHECK: %[[S:.+]] = top.add %x, %y
// CHECK-NOT: top.add %y, %x
// CHECK: %[[D1:.+]] = top.sub %x, %y
// CHECK: %[[D2:.+]] = top.sub %y, %x
// CHECK: top.mul %[[S]], %[[S]]
func.func @commutative(%x: tensor<4xf32>, %y: tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) {
  %0 = top.add %x, %y : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %1 = top.add %y, %x : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %2 = top.sub %x, %y : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %3 = top.sub %y, %x : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %4 = top.mul %0, %1 : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  return %2, %3, %4 : tensor<4xf32>, tensor<4xf32>, tensor<4xf32>
}

// Different attributes or constants are different values.
// CHECK-LABEL: func.func @attrs_differ
// CHECK: top.transpose %x {perm = [1, 0]}
// CHECK: top.constant {value = dense<[1, 2]> : tensor<2xi64>}
// CHECK: top.constant {value = dense<[1, 3]> : tensor<2xi64>}
// CHECK-NOT: top.constant
func.func @attrs_differ(%x: tensor<2x3xf32>) -> (tensor<3x2xf32>, tensor<3x2xf32>, tensor<2xi64>, tensor<2xi64>, tensor<2xi64>) {
  %0 = top.transpose %x {perm = [1, 0]} : (tensor<2x3xf32>) -> tensor<3x2xf32>
  %1 = top.transpose %x {perm = [1, 0]} : (tensor<2x3xf32>) -> tensor<3x2xf32>
  %c0 = top.constant {value = dense<[1, 2]> : tensor<2xi64>} : tensor<2xi64>
  %c1 = top.constant {value = dense<[1, 3]> : tensor<2xi64>} : tensor<2xi64>
  %c2 = top.constant {value = dense<[1, 2]> : tensor<2xi64>} : tensor<2xi64>
  return %0, %1, %c0, %c1, %c2 : tensor<3x2xf32>, tensor<3x2xf32>, tensor<2xi64>, tensor<2xi64>, tensor<2xi64>
}
