// RUN: %kiln-opt %s -p "apply-qtable{table=%inputs/small_qtable}" | filecheck %s
// RUN: %kiln-opt %s -p "apply-qtable{default=INT16}" | filecheck %s --check-prefix=I16
// RUN: not %kiln-opt %s -p "apply-qtable{table=%inputs/dfp_qtable,target=dfp-int16}" 2>&1 | filecheck %s --check-prefix=TARGET
// RUN: not %kiln-opt %s -p "apply-qtable{default=F16,target=dfp-int16}" 2>&1 | filecheck %s --check-prefix=DEFAULT
// Modes are decisions only: the numbers do not change.
// RUN: %kiln-opt %s -p "apply-qtable{table=%inputs/small_qtable}" --check-each > /dev/null

// CHECK: top.conv {{.+}} {strides = [1, 1], pads = [0, 0, 0, 0], dilations = [1, 1], kiln.mode = "INT8"} {{.+}} loc("conv")
// CHECK: top.relu {{.+}} {kiln.mode = "F16"} {{.+}} loc("relu")
// CHECK: top.reshape {{.+}} {shape = [1, 32], kiln.mode = "F32"} {{.+}} loc("flat")
// CHECK: top.gather {{.+}} kiln.mode = "F32"
// I16: top.conv {{.+}} kiln.mode = "INT16"
// I16: top.relu %c {kiln.mode = "INT16"}
// TARGET: kiln-opt: error: pass 'apply-qtable' failed (passes run before it: none):
// TARGET-NEXT: {{.+}}dfp_qtable:3: layer 'relu' asks for BF16, which target dfp-int16 does not allow (modes: INT8, INT16, F32)
// DEFAULT: default mode 'F16' is not allowed by target dfp-int16
func.func @main(%x: tensor<1x1x4x4xf32>) -> (tensor<1x32xf32>, tensor<2xf32>) {
  %w = top.constant {value = dense<[[[[1.0]]], [[[-2.0]]]]> : tensor<2x1x1x1xf32>} : tensor<2x1x1x1xf32>
  %c = top.conv %x, %w {strides = [1, 1], pads = [0, 0, 0, 0], dilations = [1, 1]} : (tensor<1x1x4x4xf32>, tensor<2x1x1x1xf32>) -> tensor<1x2x4x4xf32> loc("conv")
  %r = top.relu %c : (tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32> loc("relu")
  %f = top.reshape %r {shape = [1, 32]} : (tensor<1x2x4x4xf32>) -> tensor<1x32xf32> loc("flat")
  %i = top.constant {value = dense<[0, 3]> : tensor<2xi64>} : tensor<2xi64>
  %g = top.gather %f, %i {axis = 1, kiln.exact = true} : (tensor<1x32xf32>, tensor<2xi64>) -> tensor<1x2xf32> loc("pick")
  %s = top.reshape %g {shape = [2]} : (tensor<1x2xf32>) -> tensor<2xf32> loc("pick_flat")
  return %f, %s : tensor<1x32xf32>, tensor<2xf32>
}
