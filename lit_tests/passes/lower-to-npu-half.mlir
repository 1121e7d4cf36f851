// F16 / BF16 layers: activations and weights rounded to the half type, f32 accumulation,
// results rounded; a value already rounded by the layer before is not rounded again.
// RUN: %kiln-opt %s -p "apply-qtable{default=BF16},lower-to-npu" -o %t.mlir && filecheck %s < %t.mlir
// RUN: %kiln-opt %t.mlir --check-each > /dev/null
// RUN: %kiln-opt %s -p "apply-qtable{default=F16},lower-to-npu" -o %t.f16.mlir && filecheck %s --check-prefix=F16 < %t.f16.mlir
// RUN: not %kiln-opt %s -p "apply-qtable{default=F16,target=dfp-int16}" 2>&1 | filecheck %s --check-prefix=DFP

// CHECK: %[[D:.+]] = npu.cast %x : (tensor<1x1x4x4xf32>) -> tensor<1x1x4x4xbf16> loc("x_bf16")
// CHECK: %[[U:.+]] = npu.cast %[[D]] : (tensor<1x1x4x4xbf16>) -> tensor<1x1x4x4xf32>
// CHECK: %[[W:.+]] = top.weight @conv_input1_bf16 : tensor<2x1x1x1xf32>
// CHECK: %c = top.conv %[[U]], %[[W]] {{.+}}kiln.mode = "BF16"
// CHECK: %[[C:.+]] = npu.cast %c : {{.+}} -> tensor<1x2x4x4xbf16>
// CHECK: %[[CU:.+]] = npu.cast %[[C]]
// CHECK-NEXT: top.sigmoid %[[CU]]
// CHECK: npu.cast %s : {{.+}} -> tensor<1x2x4x4xbf16>
// F16: tensor<1x1x4x4xf16>
// DFP: default mode 'F16' is not allowed by target dfp-int16
func.func @main(%x: tensor<1x1x4x4xf32>) -> tensor<1x2x4x4xf32> {
  %w = top.constant {value = dense<[[[[1.0001]]], [[[-2.0]]]]> : tensor<2x1x1x1xf32>} : tensor<2x1x1x1xf32>
  %c = top.conv %x, %w {strides = [1, 1], pads = [0, 0, 0, 0], dilations = [1, 1]} : (tensor<1x1x4x4xf32>, tensor<2x1x1x1xf32>) -> tensor<1x2x4x4xf32> loc("conv")
  %s = top.sigmoid %c : (tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32> loc("sig")
  return %s : tensor<1x2x4x4xf32>
}
