// RUN: %kiln-opt %s | filecheck %s
// RUN: %kiln-opt %s -o %t.1.mlir && %kiln-opt %t.1.mlir -o %t.2.mlir && diff %t.1.mlir %t.2.mlir

// Quantization parameters are f32: 0.1 prints as 0.1 (the shortest text of the f32), and a
// longer decimal is rounded to the nearest f32 once, on reading.
// CHECK-LABEL: func.func @quant_types
// CHECK-SAME: %cal: tensor<1x16x!quant.calibrated<f32<-4.125:7.93>>>
// CHECK-SAME: %sym: tensor<4x!quant.uniform<i8:f32, 0.1>>
// CHECK-SAME: %aff: tensor<4x!quant.uniform<u8:f32, 0.0205:128>>
// CHECK-SAME: %pc: tensor<2x3x!quant.uniform<i8:f32:0, {0.012, 0.009}>>
// CHECK-SAME: %pcz: tensor<3x2x!quant.uniform<u8:f32:1, {0.5:3, 0.25:4}>>
// CHECK-SAME: %i16: tensor<4x!quant.uniform<i16:f32, 3.0517578e-05>>
// CHECK-SAME: %round: tensor<!quant.uniform<i8:f32, 0.1>>
func.func @quant_types(%cal: tensor<1x16x!quant.calibrated<f32<-4.125:7.93>>>, %sym: tensor<4x!quant.uniform<i8:f32, 0.1>>, %aff: tensor<4x!quant.uniform<u8:f32, 0.0205:128>>, %pc: tensor<2x3x!quant.uniform<i8:f32:0, {0.012, 0.009}>>, %pcz: tensor<3x2x!quant.uniform<u8:f32:1, {0.5:3, 0.25:4}>>, %i16: tensor<4x!quant.uniform<i16:f32, 3.0517578125e-05>>, %round: tensor<!quant.uniform<i8:f32, 0.100000000001>>) {
  return
}

// Every element type, static, dynamic and scalar shapes.
// CHECK-LABEL: func.func @element_types
// CHECK-SAME: (%a: tensor<f32>, %b: tensor<?x3xf16>, %c: tensor<2xbf16>, %d: tensor<2xi4>, %e: tensor<2xu4>, %f: tensor<2xi8>, %g: tensor<2xu8>, %h: tensor<2xi16>, %i: tensor<2xu16>, %j: tensor<2xi32>, %k: tensor<2xi64>, %l: tensor<0xbool>, %m: none)
func.func @element_types(%a: tensor<f32>, %b: tensor<?x3xf16>, %c: tensor<2xbf16>, %d: tensor<2xi4>, %e: tensor<2xu4>, %f: tensor<2xi8>, %g: tensor<2xu8>, %h: tensor<2xi16>, %i: tensor<2xu16>, %j: tensor<2xi32>, %k: tensor<2xi64>, %l: tensor<0xbool>, %m: none) {
  return
}

// Type aliases are read and printed expanded.
!q8 = !quant.uniform<i8:f32, 0.5>
// CHECK-LABEL: func.func @alias
// CHECK-SAME: (%x: tensor<8x!quant.uniform<i8:f32, 0.5>>)
func.func @alias(%x: tensor<8x!q8>) {
  return
}
