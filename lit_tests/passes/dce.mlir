// RUN: %kiln-opt %s -p dce | filecheck %s

// A dead chain goes in one sweep; ops with uses and the return stay.
// CHECK-LABEL: func.func @dead_chain
// CHECK-NEXT: %[[R:.+]] = top.relu %a
// CHECK-NEXT: return %[[R]]
// CHECK-NOT: top.sigmoid
func.func @dead_chain(%a: tensor<2xf32>) -> tensor<2xf32> {
  %0 = top.relu %a : (tensor<2xf32>) -> tensor<2xf32>
  %1 = top.sigmoid %0 : (tensor<2xf32>) -> tensor<2xf32>
  %2 = top.sigmoid %1 : (tensor<2xf32>) -> tensor<2xf32>
  return %0 : tensor<2xf32>
}

// Ops of unknown dialects may have side effects: they are kept.
// CHECK-LABEL: func.func @unknown_kept
// CHECK: test.effect %a
func.func @unknown_kept(%a: tensor<2xf32>) -> tensor<2xf32> {
  %0 = "test.effect"(%a) : (tensor<2xf32>) -> tensor<2xf32>
  return %a : tensor<2xf32>
}
