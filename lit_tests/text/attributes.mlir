// Every attribute kind prints as it was read, bit for bit for floats.
// RUN: %kiln-opt %s | filecheck %s
// RUN: %kiln-opt %s -o %t.1.mlir && %kiln-opt %t.1.mlir -o %t.2.mlir && diff %t.1.mlir %t.2.mlir

func.func @attrs(%x: tensor<4xf32>) -> tensor<4xf32> {
  // CHECK: test.op %x {i = -3, f = 0.1, g = 1e-05, h = 1e+20, nf = -inf, pf = inf, nn = nan, s = "a \"q\" \\ b\n", b = true, c = false,
  // CHECK-SAME: a = [1, 2, 3], fa = [0.5, 2.0], na = [[1, 2], [3]], mixed = ["x", 1, 2.5, [true]], e = [],
  // CHECK-SAME: sym = @main, qsym = @"model.0/conv.weight", en = #round_mode<half_even>, t = f16, tt = tensor<2x3xbf16>,
  // CHECK-SAME: d = dense<[[1, 2], [3, 4]]> : tensor<2x2xi32>, ds = dense<7> : tensor<i64>, db = dense<[true, false]> : tensor<2xbool>,
  // CHECK-SAME: df = dense<[0.1, 3.4028235e+38, -0.0]> : tensor<3xf32>, dh = dense<[0.1, 6.55e+04]> : tensor<2xf16>,
  // CHECK-SAME: d64 = dense<[0.1, 1e-300]> : tensor<2xf64>, de = dense<[]> : tensor<0xf32>, "quoted key" = 1}
  %0 = test.op %x {i = -3, f = 0.1, g = 1e-05, h = 1e+20, nf = -inf, pf = inf, nn = nan, s = "a \"q\" \\ b\n", b = true, c = false, a = [1, 2, 3], fa = [0.5, 2.0], na = [[1, 2], [3]], mixed = ["x", 1, 2.5, [true]], e = [], sym = @main, qsym = @"model.0/conv.weight", en = #round_mode<half_even>, t = f16, tt = tensor<2x3xbf16>, d = dense<[[1, 2], [3, 4]]> : tensor<2x2xi32>, ds = dense<7> : tensor<i64>, db = dense<[true, false]> : tensor<2xbool>, df = dense<[0.1, 3.4028235e+38, -0.0]> : tensor<3xf32>, dh = dense<[0.1, 65504.0]> : tensor<2xf16>, d64 = dense<[0.1, 1e-300]> : tensor<2xf64>, de = dense<[]> : tensor<0xf32>, "quoted key" = 1} : (tensor<4xf32>) -> tensor<4xf32>
  return %0 : tensor<4xf32>
}
