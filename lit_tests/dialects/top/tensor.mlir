// RUN: %kiln-opt %s | filecheck %s
// Round trip: printing what was printed gives the same text.
// RUN: %kiln-opt %s -o %t.1.mlir && %kiln-opt %t.1.mlir -o %t.2.mlir && diff %t.1.mlir %t.2.mlir
// RUN: %kiln-opt %s --print-generic | %kiln-opt - | filecheck %s

module @tensor_ops attributes {kiln.state = "top_f32"} {
  // CHECK-LABEL: func.func @main
  func.func @main(%x: tensor<1x8x4x6xf32>, %v: tensor<5xi64>, %idx: tensor<2x3xi64>) -> tensor<1x8x4x6xf32> {
    // CHECK: %[[C:.+]] = top.concat %x, %x {axis = 1} : (tensor<1x8x4x6xf32>, tensor<1x8x4x6xf32>) -> tensor<1x16x4x6xf32>
    %c = top.concat %x, %x {axis = 1} : (tensor<1x8x4x6xf32>, tensor<1x8x4x6xf32>) -> tensor<1x16x4x6xf32> loc("cat")
    // CHECK-NEXT: top.slice %[[C]] {starts = [0, 8, 3, 0], ends = [1, 16, -5, 6], steps = [1, 1, -1, 2]} : (tensor<1x16x4x6xf32>) -> tensor<1x8x4x3xf32>
    %s = top.slice %c {starts = [0, 8, 3, 0], ends = [1, 16, -5, 6], steps = [1, 1, -1, 2]} : (tensor<1x16x4x6xf32>) -> tensor<1x8x4x3xf32>
    // CHECK-NEXT: top.tile %x {repeats = [1, 1, 2, 1]} : (tensor<1x8x4x6xf32>) -> tensor<1x8x8x6xf32>
    %t = top.tile %x {repeats = [1, 1, 2, 1]} : (tensor<1x8x4x6xf32>) -> tensor<1x8x8x6xf32>
    // CHECK-NEXT: top.expand %v {shape = [3, 5]} : (tensor<5xi64>) -> tensor<3x5xi64>
    %e = top.expand %v {shape = [3, 5]} : (tensor<5xi64>) -> tensor<3x5xi64>
    // CHECK-NEXT: top.pad %x {pads = [0, 0, 1, 1, 0, 0, 1, -1], mode = "constant", value = 0.5} : (tensor<1x8x4x6xf32>) -> tensor<1x8x6x6xf32>
    %p = top.pad %x {pads = [0, 0, 1, 1, 0, 0, 1, -1], mode = "constant", value = 0.5} : (tensor<1x8x4x6xf32>) -> tensor<1x8x6x6xf32>
    // CHECK-NEXT: top.pad %x {pads = [0, 0, 2, 0, 0, 0, 0, 3], mode = "reflect"}
    %p2 = top.pad %x {pads = [0, 0, 2, 0, 0, 0, 0, 3], mode = "reflect"} : (tensor<1x8x4x6xf32>) -> tensor<1x8x6x9xf32>
    // CHECK-NEXT: top.gather %x, %idx {axis = 3} : (tensor<1x8x4x6xf32>, tensor<2x3xi64>) -> tensor<1x8x4x2x3xf32>
    %g = top.gather %x, %idx {axis = 3} : (tensor<1x8x4x6xf32>, tensor<2x3xi64>) -> tensor<1x8x4x2x3xf32>
    // CHECK: top.gather_elements %v, %i1 {axis = 0}
    %i1 = top.constant {value = dense<[4, 0]> : tensor<2xi64>} : tensor<2xi64>
    %ge = top.gather_elements %v, %i1 {axis = 0} : (tensor<5xi64>, tensor<2xi64>) -> tensor<2xi64>
    // CHECK: top.gather_nd %x, %i2 {batch_dims = 1} : (tensor<1x8x4x6xf32>, tensor<1x3x2xi32>) -> tensor<1x3x6xf32>
    %i2 = top.constant {value = dense<[[[0, 1], [7, 3], [2, 2]]]> : tensor<1x3x2xi32>} : tensor<1x3x2xi32>
    %gn = top.gather_nd %x, %i2 {batch_dims = 1} : (tensor<1x8x4x6xf32>, tensor<1x3x2xi32>) -> tensor<1x3x6xf32>
    // CHECK: top.scatter_nd %v, %i3, %u {reduction = "add"} : (tensor<5xi64>, tensor<2x1xi64>, tensor<2xi64>) -> tensor<5xi64>
    %i3 = top.constant {value = dense<[[1], [3]]> : tensor<2x1xi64>} : tensor<2x1xi64>
    %u = top.constant {value = dense<[10, 20]> : tensor<2xi64>} : tensor<2xi64>
    %sc = top.scatter_nd %v, %i3, %u {reduction = "add"} : (tensor<5xi64>, tensor<2x1xi64>, tensor<2xi64>) -> tensor<5xi64>
    // CHECK-NEXT: %[[D:.+]] = top.depth_to_space %x {blocksize = 2, mode = "CRD"} : (tensor<1x8x4x6xf32>) -> tensor<1x2x8x12xf32>
    %d = top.depth_to_space %x {blocksize = 2, mode = "CRD"} : (tensor<1x8x4x6xf32>) -> tensor<1x2x8x12xf32>
    // CHECK-NEXT: top.space_to_depth %[[D]] {blocksize = 2} : (tensor<1x2x8x12xf32>) -> tensor<1x8x4x6xf32>
    %sd = top.space_to_depth %d {blocksize = 2} : (tensor<1x2x8x12xf32>) -> tensor<1x8x4x6xf32>
    // CHECK-NEXT: top.topk_values %x {k = 2, axis = 3, largest = false} : (tensor<1x8x4x6xf32>) -> tensor<1x8x4x2xf32> loc("vals")
    %tv = top.topk_values %x {k = 2, axis = 3, largest = false} : (tensor<1x8x4x6xf32>) -> tensor<1x8x4x2xf32> loc("vals")
    // CHECK-NEXT: top.topk_indices %x {k = 2, axis = 3, largest = false, sorted = true} : (tensor<1x8x4x6xf32>) -> tensor<1x8x4x2xi64> loc("idx")
    %ti = top.topk_indices %x {k = 2, axis = 3, largest = false, sorted = true} : (tensor<1x8x4x6xf32>) -> tensor<1x8x4x2xi64> loc("idx")
    // CHECK-NEXT: top.cumsum %v {axis = 0, exclusive = true, reverse = true} : (tensor<5xi64>) -> tensor<5xi64>
    %cs = top.cumsum %v {axis = 0, exclusive = true, reverse = true} : (tensor<5xi64>) -> tensor<5xi64>
    // CHECK: top.einsum %x, %w {equation = "nchw,wk->nchk"} : (tensor<1x8x4x6xf32>, tensor<6x3xf32>) -> tensor<1x8x4x3xf32>
    %w = top.constant {value = dense<1.0> : tensor<6x3xf32>} : tensor<6x3xf32>
    %es = top.einsum %x, %w {equation = "nchw,wk->nchk"} : (tensor<1x8x4x6xf32>, tensor<6x3xf32>) -> tensor<1x8x4x3xf32>
    // CHECK: return %{{.+}} : tensor<1x8x4x6xf32>
    return %sd : tensor<1x8x4x6xf32>
  }
}
