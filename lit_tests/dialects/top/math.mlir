// RUN: %kiln-opt %s | filecheck %s
// Round trip: printing what was printed gives the same text.
// RUN: %kiln-opt %s -o %t.1.mlir && %kiln-opt %t.1.mlir -o %t.2.mlir && diff %t.1.mlir %t.2.mlir
// RUN: %kiln-opt %s --print-generic | %kiln-opt - | filecheck %s

// CHECK-LABEL: func.func @unary
func.func @unary(%x: tensor<2x3xf32>, %b: tensor<2x3xbool>) -> (tensor<2x3xf32>, tensor<2x3xbool>) {
  // CHECK: %[[S:.+]] = top.sqrt %x : (tensor<2x3xf32>) -> tensor<2x3xf32> loc("sqrt")
  %0 = top.sqrt %x : (tensor<2x3xf32>) -> tensor<2x3xf32> loc("sqrt")
  // CHECK-NEXT: %[[E:.+]] = top.exp %[[S]] : (tensor<2x3xf32>) -> tensor<2x3xf32>
  %1 = top.exp %0 : (tensor<2x3xf32>) -> tensor<2x3xf32>
  // CHECK-NEXT: %[[L:.+]] = top.log %[[E]]
  %2 = top.log %1 : (tensor<2x3xf32>) -> tensor<2x3xf32>
  // CHECK-NEXT: %[[N:.+]] = top.neg %[[L]]
  %3 = top.neg %2 : (tensor<2x3xf32>) -> tensor<2x3xf32>
  // CHECK-NEXT: %[[A:.+]] = top.abs %[[N]]
  %4 = top.abs %3 : (tensor<2x3xf32>) -> tensor<2x3xf32>
  // CHECK-NEXT: %[[R:.+]] = top.reciprocal %[[A]]
  %5 = top.reciprocal %4 : (tensor<2x3xf32>) -> tensor<2x3xf32>
  // CHECK-NEXT: %[[F:.+]] = top.floor %[[R]]
  %6 = top.floor %5 : (tensor<2x3xf32>) -> tensor<2x3xf32>
  // CHECK-NEXT: %[[C:.+]] = top.ceil %[[F]]
  %7 = top.ceil %6 : (tensor<2x3xf32>) -> tensor<2x3xf32>
  // CHECK-NEXT: %[[RO:.+]] = top.round %[[C]]
  %8 = top.round %7 : (tensor<2x3xf32>) -> tensor<2x3xf32>
  // CHECK-NEXT: %[[SG:.+]] = top.sign %[[RO]]
  %9 = top.sign %8 : (tensor<2x3xf32>) -> tensor<2x3xf32>
  // CHECK-NEXT: %[[ERF:.+]] = top.erf %[[SG]] : (tensor<2x3xf32>) -> tensor<2x3xf32>
  %10 = top.erf %9 : (tensor<2x3xf32>) -> tensor<2x3xf32>
  // CHECK-NEXT: %[[NOT:.+]] = top.not %b : (tensor<2x3xbool>) -> tensor<2x3xbool>
  %11 = top.not %b : (tensor<2x3xbool>) -> tensor<2x3xbool>
  // CHECK-NEXT: return %[[ERF]], %[[NOT]]
  return %10, %11 : tensor<2x3xf32>, tensor<2x3xbool>
}

// CHECK-LABEL: func.func @binary
func.func @binary(%a: tensor<2x3xf32>, %b: tensor<3xf32>, %i: tensor<2x3xi32>, %j: tensor<1x3xi32>) -> (tensor<2x3xf32>, tensor<2x3xi32>) {
  // CHECK: top.pow %a, %b : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  %0 = top.pow %a, %b : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  // CHECK-NEXT: top.pow %{{.+}}, %j : (tensor<2x3xf32>, tensor<1x3xi32>) -> tensor<2x3xf32>
  %1 = top.pow %0, %j : (tensor<2x3xf32>, tensor<1x3xi32>) -> tensor<2x3xf32>
  // CHECK-NEXT: top.min %{{.+}}, %b : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  %2 = top.min %1, %b : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  // CHECK-NEXT: top.max
  %3 = top.max %2, %a : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
  // CHECK-NEXT: top.mod %{{.+}}, %b {fmod = true}
  %4 = top.mod %3, %b {fmod = true} : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  // CHECK-NEXT: top.mod %i, %j : (tensor<2x3xi32>, tensor<1x3xi32>) -> tensor<2x3xi32>
  %5 = top.mod %i, %j : (tensor<2x3xi32>, tensor<1x3xi32>) -> tensor<2x3xi32>
  return %4, %5 : tensor<2x3xf32>, tensor<2x3xi32>
}

// CHECK-LABEL: func.func @compare_logic_where
func.func @compare_logic_where(%a: tensor<2x3xf32>, %b: tensor<3xf32>, %i: tensor<2x1xi64>, %j: tensor<3xi64>) -> tensor<2x3xf32> {
  // CHECK: top.equal %i, %j : (tensor<2x1xi64>, tensor<3xi64>) -> tensor<2x3xbool>
  %0 = top.equal %i, %j : (tensor<2x1xi64>, tensor<3xi64>) -> tensor<2x3xbool>
  // CHECK-NEXT: top.less %a, %b : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xbool>
  %1 = top.less %a, %b : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xbool>
  // CHECK-NEXT: top.less_or_equal
  %2 = top.less_or_equal %a, %b : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xbool>
  // CHECK-NEXT: top.greater
  %3 = top.greater %a, %b : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xbool>
  // CHECK-NEXT: top.greater_or_equal
  %4 = top.greater_or_equal %a, %b : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xbool>
  // CHECK-NEXT: top.and
  %5 = top.and %0, %1 : (tensor<2x3xbool>, tensor<2x3xbool>) -> tensor<2x3xbool>
  // CHECK-NEXT: top.or
  %6 = top.or %5, %2 : (tensor<2x3xbool>, tensor<2x3xbool>) -> tensor<2x3xbool>
  // CHECK-NEXT: top.xor
  %7 = top.xor %6, %3 : (tensor<2x3xbool>, tensor<2x3xbool>) -> tensor<2x3xbool>
  // CHECK-NEXT: top.where %{{.+}}, %a, %b : (tensor<2x3xbool>, tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  %8 = top.where %7, %a, %b : (tensor<2x3xbool>, tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  return %8 : tensor<2x3xf32>
}

// CHECK-LABEL: func.func @cast
func.func @cast(%a: tensor<4xf32>) -> (tensor<4xf16>, tensor<4xi64>, tensor<4xbool>) {
  // CHECK: top.cast %a {to = f16} : (tensor<4xf32>) -> tensor<4xf16>
  %0 = top.cast %a {to = f16} : (tensor<4xf32>) -> tensor<4xf16>
  // CHECK-NEXT: top.cast %{{.+}} {to = i64} : (tensor<4xf16>) -> tensor<4xi64>
  %1 = top.cast %0 {to = i64} : (tensor<4xf16>) -> tensor<4xi64>
  // CHECK-NEXT: top.cast %{{.+}} {to = bool} : (tensor<4xi64>) -> tensor<4xbool>
  %2 = top.cast %1 {to = bool} : (tensor<4xi64>) -> tensor<4xbool>
  return %0, %1, %2 : tensor<4xf16>, tensor<4xi64>, tensor<4xbool>
}
