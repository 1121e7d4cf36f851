// RUN: %kiln-opt %s -p canonicalize --split-input-file | filecheck %s

// CHECK-LABEL: func.func @transposes
// An identity transpose goes; two transposes compose into one, which keeps the outer loc.
// CHECK-NEXT: %[[T:.+]] = top.transpose %x {perm = [0, 2, 1]} : (tensor<2x3x4xf32>) -> tensor<2x4x3xf32> loc("outer")
// CHECK-NEXT: return %x, %[[T]]
func.func @transposes(%x: tensor<2x3x4xf32>) -> (tensor<2x3x4xf32>, tensor<2x4x3xf32>) {
  %0 = top.transpose %x {perm = [0, 1, 2]} : (tensor<2x3x4xf32>) -> tensor<2x3x4xf32>
  %1 = top.transpose %0 {perm = [1, 0, 2]} : (tensor<2x3x4xf32>) -> tensor<3x2x4xf32>
  %2 = top.transpose %1 {perm = [1, 2, 0]} : (tensor<3x2x4xf32>) -> tensor<2x4x3xf32> loc("outer")
  return %0, %2 : tensor<2x3x4xf32>, tensor<2x4x3xf32>
}

// -----

// CHECK-LABEL: func.func @reshapes
// CHECK-NEXT: %[[R:.+]] = top.reshape %x {shape = [12]} : (tensor<2x6xf32>) -> tensor<12xf32>
// CHECK-NEXT: return %x, %[[R]]
func.func @reshapes(%x: tensor<2x6xf32>) -> (tensor<2x6xf32>, tensor<12xf32>) {
  %0 = top.reshape %x {shape = [3, 4]} : (tensor<2x6xf32>) -> tensor<3x4xf32>
  %1 = top.reshape %0 {shape = [12]} : (tensor<3x4xf32>) -> tensor<12xf32>
  %2 = top.reshape %x {shape = [2, 6]} : (tensor<2x6xf32>) -> tensor<2x6xf32>
  return %2, %1 : tensor<2x6xf32>, tensor<12xf32>
}

// -----

// Patterns, CSE and DCE together reach a fixed point: the duplicate relu is merged, after
// which the add of two equal relus is left and the dead sigmoid is erased.
// CHECK-LABEL: func.func @together
// CHECK-NEXT: %[[A:.+]] = top.relu %x
// CHECK-NEXT: %[[S:.+]] = top.add %[[A]], %[[A]]
// CHECK-NEXT: return %[[S]]
func.func @together(%x: tensor<4xf32>) -> tensor<4xf32> {
  %0 = top.reshape %x {shape = [4]} : (tensor<4xf32>) -> tensor<4xf32>
  %1 = top.relu %0 : (tensor<4xf32>) -> tensor<4xf32>
  %2 = top.relu %x : (tensor<4xf32>) -> tensor<4xf32>
  %3 = top.add %1, %2 : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %4 = top.sigmoid %3 : (tensor<4xf32>) -> tensor<4xf32>
  return %3 : tensor<4xf32>
}
