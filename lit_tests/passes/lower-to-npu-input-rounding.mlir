// run_calibration's kiln.input_rounding (the mean rounding error of a conv's input per
// channel, and the input type it was measured for): lower-to-npu takes W e out of the bias
// when the conv reads exactly that type, and drops the attributes either way.
// RUN: rm -rf %t && mkdir -p %t
// RUN: %python -c "import numpy as np; np.savez('%t/in_weights.npz', r=np.array([0.005], np.float32))"
// RUN: %python -c "import shutil, sys; shutil.copy(sys.argv[1], '%t/in.mlir')" %s
// RUN: %kiln-opt %t/in.mlir -p "lower-to-npu{target=int8-sym}" -o %t/sym.mlir && filecheck %s < %t/sym.mlir
// RUN: %python -c "import numpy as np; print(np.load('%t/sym_weights.npz')['conv_bias_i32'].tolist())" | filecheck %s --check-prefix=FIXED
// RUN: %kiln-opt %t/sym.mlir --check-each > /dev/null
// --asymmetric reads the input as affine i8 (another type): the bias stays as it was.
// RUN: %kiln-opt %t/in.mlir -p "lower-to-npu{asymmetric=true}" -o %t/asym.mlir && filecheck %s < %t/asym.mlir
// RUN: %python -c "import numpy as np; print(np.load('%t/asym_weights.npz')['conv_bias_i32'].tolist())" | filecheck %s --check-prefix=ASYM

// CHECK-NOT: kiln.input_rounding
// CHECK: npu.conv2d
// CHECK-NOT: kiln.input_rounding
// b = [0.5, -0.25] at scale in_scale * w_scale = [1/127, 2/127] * 2/127 is [4032, -1008];
// minus W e = [1, -2] * 0.005 it is [0.495, -0.24]:
// FIXED: [3992, -968]
// Affine, the input scale is 4/255: b alone is [4048, -1012] (corrected it would be
// [4008, -972]).
// ASYM: [4048, -1012]
module @m attributes {kiln.weights = "in_weights.npz"} {
  func.func @main(%x: tensor<1x1x4x4x!quant.calibrated<f32<-2.0:2.0>>>) -> tensor<1x2x4x4x!quant.calibrated<f32<-6.0:6.0>>> {
    %w = top.constant {value = dense<[[[[1.0]]], [[[-2.0]]]]> : tensor<2x1x1x1xf32>} : tensor<2x1x1x1xf32>
    %b = top.constant {value = dense<[0.5, -0.25]> : tensor<2xf32>} : tensor<2xf32>
    %c = top.conv %x, %w, %b {strides = [1, 1], pads = [0, 0, 0, 0], dilations = [1, 1], kiln.input_rounding = [@r], kiln.input_rounding_type = [tensor<1x!quant.uniform<i8:f32, 0.015748031>>]} : (tensor<1x1x4x4x!quant.calibrated<f32<-2.0:2.0>>>, tensor<2x1x1x1xf32>, tensor<2xf32>) -> tensor<1x2x4x4x!quant.calibrated<f32<-6.0:6.0>>> loc("conv")
    return %c : tensor<1x2x4x4x!quant.calibrated<f32<-6.0:6.0>>>
  }
}
