// RUN: %kiln-opt %s | filecheck %s
// Round trip: printing what was printed gives the same text.
// RUN: %kiln-opt %s -o %t.1.mlir && %kiln-opt %t.1.mlir -o %t.2.mlir && diff %t.1.mlir %t.2.mlir
// RUN: %kiln-opt %s --print-generic | %kiln-opt - | filecheck %s

module @resize attributes {kiln.state = "top_f32"} {
  // CHECK-LABEL: func.func @main
  func.func @main(%x: tensor<1x3x4x5xf32>, %q: tensor<1x3x4x5xu8>) -> (tensor<1x3x8x10xf32>, tensor<1x3x6x3xf32>, tensor<1x3x7x7xf32>, tensor<1x3x3x6xf32>, tensor<1x3x8x10xu8>) {
    // The YOLO / nn.Upsample(scale_factor=2) pattern.
    // CHECK: top.resize %x {sizes = [1, 3, 8, 10], scales = [1.0, 1.0, 2.0, 2.0], mode = #resize_mode<nearest>, coordinate_transformation_mode = #resize_coord<asymmetric>, nearest_mode = #resize_nearest<floor>}
    // CHECK-SAME: (tensor<1x3x4x5xf32>) -> tensor<1x3x8x10xf32> loc("/model.10/Resize")
    %0 = top.resize %x {sizes = [1, 3, 8, 10], scales = [1.0, 1.0, 2.0, 2.0], mode = #resize_mode<nearest>, coordinate_transformation_mode = #resize_coord<asymmetric>, nearest_mode = #resize_nearest<floor>} : (tensor<1x3x4x5xf32>) -> tensor<1x3x8x10xf32> loc("/model.10/Resize")
    // Bilinear, align_corners=False, by size: scales are float32(size) / float32(dim).
    // CHECK: top.resize %x {sizes = [1, 3, 6, 3], scales = [1.0, 1.0, 1.5, 0.6], mode = #resize_mode<linear>, coordinate_transformation_mode = #resize_coord<half_pixel>}
    %1 = top.resize %x {sizes = [1, 3, 6, 3], scales = [1.0, 1.0, 1.5, 0.6], mode = #resize_mode<linear>, coordinate_transformation_mode = #resize_coord<half_pixel>} : (tensor<1x3x4x5xf32>) -> tensor<1x3x6x3xf32>
    // Cubic with its coefficient and exclude_outside.
    // CHECK: top.resize %x {sizes = [1, 3, 7, 7], scales = [1.0, 1.0, 1.75, 1.4], mode = #resize_mode<cubic>, coordinate_transformation_mode = #resize_coord<align_corners>, cubic_coeff_a = -0.5, exclude_outside = true}
    %2 = top.resize %x {sizes = [1, 3, 7, 7], scales = [1.0, 1.0, 1.75, 1.4], mode = #resize_mode<cubic>, coordinate_transformation_mode = #resize_coord<align_corners>, cubic_coeff_a = -0.5, exclude_outside = true} : (tensor<1x3x4x5xf32>) -> tensor<1x3x7x7xf32>
    // tf_crop_and_resize reads roi and extrapolation_value.
    // CHECK: top.resize %x {sizes = [1, 3, 3, 6], scales = [1.0, 1.0, 0.75, 1.2], mode = #resize_mode<linear>, coordinate_transformation_mode = #resize_coord<tf_crop_and_resize>, roi = [0.0, 0.0, 0.1, -0.2, 1.0, 1.0, 0.9, 1.2], extrapolation_value = 7.5}
    %3 = top.resize %x {sizes = [1, 3, 3, 6], scales = [1.0, 1.0, 0.75, 1.2], mode = #resize_mode<linear>, coordinate_transformation_mode = #resize_coord<tf_crop_and_resize>, roi = [0.0, 0.0, 0.1, -0.2, 1.0, 1.0, 0.9, 1.2], extrapolation_value = 7.5} : (tensor<1x3x4x5xf32>) -> tensor<1x3x3x6xf32>
    // Nearest also takes integers; attributes left out take their defaults.
    // CHECK: top.resize %q {sizes = [1, 3, 8, 10], scales = [1.0, 1.0, 2.0, 2.0], mode = #resize_mode<nearest>} : (tensor<1x3x4x5xu8>) -> tensor<1x3x8x10xu8>
    %4 = top.resize %q {sizes = [1, 3, 8, 10], scales = [1.0, 1.0, 2.0, 2.0], mode = #resize_mode<nearest>} : (tensor<1x3x4x5xu8>) -> tensor<1x3x8x10xu8>
    return %0, %1, %2, %3, %4 : tensor<1x3x8x10xf32>, tensor<1x3x6x3xf32>, tensor<1x3x7x7xf32>, tensor<1x3x3x6xf32>, tensor<1x3x8x10xu8>
  }
}
