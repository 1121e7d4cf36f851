// RUN: %kiln-opt %s -p fold-constants | filecheck %s
// RUN: %kiln-opt %s -p fold-constants --check-each > /dev/null

// CHECK-LABEL: func.func @chain
// CHECK: %[[C:.+]] = top.constant {value = dense<[3.0, 5.0]> : tensor<2xf32>} : tensor<2xf32> loc("sum")
// CHECK-NEXT: %[[T:.+]] = top.constant {value = dense<[[1, 3], [2, 4]]> : tensor<2x2xi64>} : tensor<2x2xi64> loc("t")
// CHECK-NEXT: top.add %x, %[[C]]
// CHECK-NOT: top.mul
func.func @chain(%x: tensor<2xf32>) -> (tensor<2xf32>, tensor<2x2xi64>) {
  %a = top.constant {value = dense<[1.0, 2.0]> : tensor<2xf32>} : tensor<2xf32>
  %b = top.constant {value = dense<[0.5, 0.5]> : tensor<2xf32>} : tensor<2xf32>
  %two = top.constant {value = dense<2.0> : tensor<f32>} : tensor<f32>
  %ab = top.add %a, %b : (tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32>
  %s = top.mul %ab, %two : (tensor<2xf32>, tensor<f32>) -> tensor<2xf32> loc("sum")
  %i = top.constant {value = dense<[[1, 2], [3, 4]]> : tensor<2x2xi64>} : tensor<2x2xi64>
  %t = top.transpose %i {perm = [1, 0]} : (tensor<2x2xi64>) -> tensor<2x2xi64> loc("t")
  %y = top.add %x, %s : (tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32>
  return %y, %t : tensor<2xf32>, tensor<2x2xi64>
}

// Ops that depend on an argument are left alone.
// CHECK-LABEL: func.func @dynamic
// CHECK: top.relu %x
func.func @dynamic(%x: tensor<2xf32>) -> tensor<2xf32> {
  %r = top.relu %x : (tensor<2xf32>) -> tensor<2xf32>
  return %r : tensor<2xf32>
}
