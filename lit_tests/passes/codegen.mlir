// RUN: %kiln-opt %s -p "codegen{format=kmodel,path=%t.kmodel}" -o %t.mlir
// RUN: %python -c "import sys; from kiln.codegen import read_kmodel; from kiln.compiler.text.printer import print_module; print(print_module(read_kmodel(sys.argv[1])), end='')" %t.kmodel > %t.back.mlir
// RUN: filecheck %s < %t.back.mlir
// RUN: diff %t.mlir %t.back.mlir
// RUN: not %kiln-opt %s -p "codegen{format=elf,path=%t.elf}" 2>&1 | filecheck %s --check-prefix=FORMAT

// The kmodel holds the whole module: quantized types, npu attributes (arrays, bools, dense
// tables), locs, SSA names, argument and function attributes.
// CHECK: module @net attributes {kiln.state = "npu"}
// CHECK-LABEL: func.func @main(%x: tensor<1x4x4x4xf32> {kiln.name = "images"}) -> tensor<1x4x4x4xf32> attributes {kiln.outputs = ["out"]}
// CHECK-NEXT: %q = npu.cast %x : (tensor<1x4x4x4xf32>) -> tensor<1x4x4x4x!quant.uniform<i8:f32, 0.05:-3>> loc("quant")
// CHECK-NEXT: %w = top.constant {value = dense<{{.+}}-3]], {{\[\[}}4]]]]> : tensor<4x4x1x1xi8>} : tensor<4x4x1x1xi8> loc("w")
// CHECK-NEXT: %c = npu.conv2d %q, %w {strides = [1, 1], pads = [0, 0, 0, 0], dilations = [1, 1], group = 1, input_zp = -3, multiplier = [1073741824, 1073741823, 3, 4], shift = [6, 7, -1, 0], output_zp = 2, do_relu = true} : (tensor<1x4x4x4x!quant.uniform<i8:f32, 0.05:-3>>, tensor<4x4x1x1xi8>) -> tensor<1x4x4x4x!quant.uniform<i8:f32, 0.1:2>> loc("conv")
// CHECK-NEXT: %l = npu.lut %c {table = dense<5> : tensor<256xi8>} : {{.*}} loc("lut")
// CHECK-NEXT: %f = npu.cast %l : {{.*}} -> tensor<1x4x4x4xf32> loc("dequant")
// CHECK-NEXT: %r = top.relu %f : (tensor<1x4x4x4xf32>) -> tensor<1x4x4x4xf32> loc("out")
// CHECK-NEXT: return %r : tensor<1x4x4x4xf32>

// FORMAT: codegen: unknown format 'elf' (known: kmodel, onnx-qdq)
module @net attributes {kiln.state = "npu"} {
  func.func @main(%x: tensor<1x4x4x4xf32> {kiln.name = "images"}) -> tensor<1x4x4x4xf32> attributes {kiln.outputs = ["out"]} {
    %q = npu.cast %x : (tensor<1x4x4x4xf32>) -> tensor<1x4x4x4x!quant.uniform<i8:f32, 0.05:-3>> loc("quant")
    %w = top.constant {value = dense<[[[[1]], [[-2]], [[3]], [[4]]], [[[1]], [[1]], [[1]], [[1]]], [[[0]], [[0]], [[0]], [[1]]], [[[-1]], [[2]], [[-3]], [[4]]]]> : tensor<4x4x1x1xi8>} : tensor<4x4x1x1xi8> loc("w")
    %c = npu.conv2d %q, %w {strides = [1, 1], pads = [0, 0, 0, 0], dilations = [1, 1], group = 1, input_zp = -3, multiplier = [1073741824, 1073741823, 3, 4], shift = [6, 7, -1, 0], output_zp = 2, do_relu = true} : (tensor<1x4x4x4x!quant.uniform<i8:f32, 0.05:-3>>, tensor<4x4x1x1xi8>) -> tensor<1x4x4x4x!quant.uniform<i8:f32, 0.1:2>> loc("conv")
    %l = npu.lut %c {table = dense<5> : tensor<256xi8>} : (tensor<1x4x4x4x!quant.uniform<i8:f32, 0.1:2>>) -> tensor<1x4x4x4x!quant.uniform<i8:f32, 0.0078125>> loc("lut")
    %f = npu.cast %l : (tensor<1x4x4x4x!quant.uniform<i8:f32, 0.0078125>>) -> tensor<1x4x4x4xf32> loc("dequant")
    %r = top.relu %f : (tensor<1x4x4x4xf32>) -> tensor<1x4x4x4xf32> loc("out")
    return %r : tensor<1x4x4x4xf32>
  }
}
