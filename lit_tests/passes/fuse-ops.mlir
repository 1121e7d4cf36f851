// RUN: %kiln-opt %s -p fuse-ops --split-input-file | filecheck %s
// Every case computes the same numbers before and after (the interpreter checks, 1e-5).
// RUN: %kiln-opt %s -p fuse-ops --split-input-file --check-each > /dev/null

// CHECK-LABEL: func.func @bn_into_conv
// CHECK: %[[W:.+]] = top.constant {value = dense<[[[[2.0]]], [[[-1.5]]]]> : tensor<2x1x1x1xf32>} {{.+}} loc("bn_filter")
// CHECK: %[[B:.+]] = top.constant {value = dense<[1.0, 0.5]> : tensor<2xf32>} {{.+}} loc("bn_bias")
// CHECK: top.conv %x, %[[W]], %[[B]] {{.+}} loc("bn")
// CHECK-NOT: top.batch_normalization
func.func @bn_into_conv(%x: tensor<1x1x4x4xf32>) -> tensor<1x2x4x4xf32> {
  %w = top.constant {value = dense<[[[[1.0]]], [[[3.0]]]]> : tensor<2x1x1x1xf32>} : tensor<2x1x1x1xf32>
  %c = top.conv %x, %w {strides = [1, 1], pads = [0, 0, 0, 0], dilations = [1, 1]} : (tensor<1x1x4x4xf32>, tensor<2x1x1x1xf32>) -> tensor<1x2x4x4xf32> loc("conv")
  %s = top.constant {value = dense<[2.0, -0.5]> : tensor<2xf32>} : tensor<2xf32>
  %b = top.constant {value = dense<[1.0, 0.0]> : tensor<2xf32>} : tensor<2xf32>
  %m = top.constant {value = dense<[0.0, 1.0]> : tensor<2xf32>} : tensor<2xf32>
  %v = top.constant {value = dense<[1.0, 1.0]> : tensor<2xf32>} : tensor<2xf32>
  %y = top.batch_normalization %c, %s, %b, %m, %v {epsilon = 0.0} : (tensor<1x2x4x4xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>) -> tensor<1x2x4x4xf32> loc("bn")
  return %y : tensor<1x2x4x4xf32>
}

// -----

// A conv whose output is also used elsewhere keeps its BatchNorm.
// CHECK-LABEL: func.func @bn_shared_conv
// CHECK: top.batch_normalization
func.func @bn_shared_conv(%x: tensor<1x1x4x4xf32>) -> (tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>) {
  %w = top.constant {value = dense<2.0> : tensor<1x1x1x1xf32>} : tensor<1x1x1x1xf32>
  %c = top.conv %x, %w {strides = [1, 1], pads = [0, 0, 0, 0], dilations = [1, 1]} : (tensor<1x1x4x4xf32>, tensor<1x1x1x1xf32>) -> tensor<1x1x4x4xf32>
  %p = top.constant {value = dense<1.0> : tensor<1xf32>} : tensor<1xf32>
  %y = top.batch_normalization %c, %p, %p, %p, %p {epsilon = 0.0} : (tensor<1x1x4x4xf32>, tensor<1xf32>, tensor<1xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x1x4x4xf32>
  return %c, %y : tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>
}

// -----

// CHECK-LABEL: func.func @bn_into_grouped_deconv
// CHECK: top.conv_transpose %x, {{.+}} {strides = [2, 2], pads = [0, 0, 0, 0], dilations = [1, 1], output_padding = [0, 0], group = 2} {{.+}} loc("bn")
// CHECK-NOT: top.batch_normalization
func.func @bn_into_grouped_deconv(%x: tensor<1x2x3x3xf32>) -> tensor<1x4x6x6xf32> {
  %w = top.constant {value = dense<[[[[1.0, 2.0], [3.0, 4.0]], [[0.5, 0.5], [1.0, 1.0]]], [[[-1.0, 2.0], [0.0, 1.0]], [[2.0, 2.0], [2.0, 2.0]]]]> : tensor<2x2x2x2xf32>} : tensor<2x2x2x2xf32>
  %c = top.conv_transpose %x, %w {strides = [2, 2], pads = [0, 0, 0, 0], dilations = [1, 1], output_padding = [0, 0], group = 2} : (tensor<1x2x3x3xf32>, tensor<2x2x2x2xf32>) -> tensor<1x4x6x6xf32>
  %s = top.constant {value = dense<[1.0, 2.0, 3.0, 4.0]> : tensor<4xf32>} : tensor<4xf32>
  %b = top.constant {value = dense<[0.1, 0.2, 0.3, 0.4]> : tensor<4xf32>} : tensor<4xf32>
  %m = top.constant {value = dense<[1.0, -1.0, 0.5, 0.0]> : tensor<4xf32>} : tensor<4xf32>
  %v = top.constant {value = dense<[1.0, 4.0, 0.25, 2.0]> : tensor<4xf32>} : tensor<4xf32>
  %y = top.batch_normalization %c, %s, %b, %m, %v {epsilon = 1e-05} : (tensor<1x4x6x6xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<1x4x6x6xf32> loc("bn")
  return %y : tensor<1x4x6x6xf32>
}

// -----

// CHECK-LABEL: func.func @bn_into_gemm
// CHECK: top.gemm %x, {{.+}} {alpha = 1.0, beta = 1.0, trans_a = false, trans_b = true} {{.+}} loc("bn")
// CHECK-NOT: top.batch_normalization
func.func @bn_into_gemm(%x: tensor<2x3xf32>) -> tensor<2x2xf32> {
  %w = top.constant {value = dense<[[1.0, 0.0, -1.0], [2.0, 1.0, 0.5]]> : tensor<2x3xf32>} : tensor<2x3xf32>
  %c = top.constant {value = dense<[0.5, -0.5]> : tensor<2xf32>} : tensor<2xf32>
  %g = top.gemm %x, %w, %c {alpha = 1.0, beta = 2.0, trans_a = false, trans_b = true} : (tensor<2x3xf32>, tensor<2x3xf32>, tensor<2xf32>) -> tensor<2x2xf32>
  %s = top.constant {value = dense<[2.0, 3.0]> : tensor<2xf32>} : tensor<2xf32>
  %b = top.constant {value = dense<[1.0, -1.0]> : tensor<2xf32>} : tensor<2xf32>
  %m = top.constant {value = dense<[0.5, 0.25]> : tensor<2xf32>} : tensor<2xf32>
  %v = top.constant {value = dense<[4.0, 1.0]> : tensor<2xf32>} : tensor<2xf32>
  %y = top.batch_normalization %g, %s, %b, %m, %v {epsilon = 0.0} : (tensor<2x2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>) -> tensor<2x2xf32> loc("bn")
  return %y : tensor<2x2xf32>
}

// -----

// CHECK-LABEL: func.func @pad_relu_scale_into_conv
// CHECK: %[[C:.+]] = top.conv %x, {{.+}} {strides = [1, 1], pads = [2, 1, 1, 3], dilations = [1, 1], do_relu = true} {{.+}} loc("relu")
// CHECK-NEXT: return %[[C]]
func.func @pad_relu_scale_into_conv(%x: tensor<1x1x4x4xf32>) -> tensor<1x2x7x8xf32> {
  %p = top.pad %x {pads = [0, 0, 1, 1, 0, 0, 0, 2], mode = "constant", value = 0.0} : (tensor<1x1x4x4xf32>) -> tensor<1x1x5x7xf32>
  %w = top.constant {value = dense<[[[[1.0]]], [[[-2.0]]]]> : tensor<2x1x1x1xf32>} : tensor<2x1x1x1xf32>
  %c = top.conv %p, %w {strides = [1, 1], pads = [1, 0, 1, 1], dilations = [1, 1]} : (tensor<1x1x5x7xf32>, tensor<2x1x1x1xf32>) -> tensor<1x2x7x8xf32>
  %k = top.constant {value = dense<3.0> : tensor<f32>} : tensor<f32>
  %m = top.mul %k, %c : (tensor<f32>, tensor<1x2x7x8xf32>) -> tensor<1x2x7x8xf32>
  %a = top.constant {value = dense<[[[0.5]], [[-0.5]]]> : tensor<2x1x1xf32>} : tensor<2x1x1xf32>
  %s = top.add %m, %a : (tensor<1x2x7x8xf32>, tensor<2x1x1xf32>) -> tensor<1x2x7x8xf32>
  %r = top.relu %s : (tensor<1x2x7x8xf32>) -> tensor<1x2x7x8xf32> loc("relu")
  return %r : tensor<1x2x7x8xf32>
}

// -----

// A constant that varies along the width is not per-channel: the Mul stays.
// CHECK-LABEL: func.func @mul_not_per_channel
// CHECK: top.mul
func.func @mul_not_per_channel(%x: tensor<1x1x2x2xf32>) -> tensor<1x1x2x2xf32> {
  %w = top.constant {value = dense<1.0> : tensor<1x1x1x1xf32>} : tensor<1x1x1x1xf32>
  %c = top.conv %x, %w {strides = [1, 1], pads = [0, 0, 0, 0], dilations = [1, 1]} : (tensor<1x1x2x2xf32>, tensor<1x1x1x1xf32>) -> tensor<1x1x2x2xf32>
  %k = top.constant {value = dense<[1.0, 2.0]> : tensor<2xf32>} : tensor<2xf32>
  %m = top.mul %c, %k : (tensor<1x1x2x2xf32>, tensor<2xf32>) -> tensor<1x1x2x2xf32>
  return %m : tensor<1x1x2x2xf32>
}

// -----

// CHECK-LABEL: func.func @activations
// CHECK: %[[S:.+]] = top.silu %x {{.+}} loc("silu")
// CHECK: %[[H1:.+]] = top.hard_swish %[[S]] {{.+}} loc("hswish1")
// CHECK: %[[H2:.+]] = top.hard_swish %[[H1]] {{.+}} loc("hswish2")
// CHECK: %[[G:.+]] = top.gelu %[[H2]] {approximate = "none"} {{.+}} loc("gelu")
// CHECK-NEXT: return %[[G]]
func.func @activations(%x: tensor<8xf32>) -> tensor<8xf32> {
  %sg = top.sigmoid %x : (tensor<8xf32>) -> tensor<8xf32>
  %silu = top.mul %sg, %x : (tensor<8xf32>, tensor<8xf32>) -> tensor<8xf32> loc("silu")
  %hs = top.hard_sigmoid %silu {alpha = 0.16666667, beta = 0.5} : (tensor<8xf32>) -> tensor<8xf32>
  %h1 = top.mul %silu, %hs : (tensor<8xf32>, tensor<8xf32>) -> tensor<8xf32> loc("hswish1")
  %three = top.constant {value = dense<3.0> : tensor<f32>} : tensor<f32>
  %six = top.constant {value = dense<6.0> : tensor<f32>} : tensor<f32>
  %a = top.add %h1, %three : (tensor<8xf32>, tensor<f32>) -> tensor<8xf32>
  %r6 = top.clip %a {min = 0.0, max = 6.0} : (tensor<8xf32>) -> tensor<8xf32>
  %m = top.mul %h1, %r6 : (tensor<8xf32>, tensor<8xf32>) -> tensor<8xf32>
  %h2 = top.div %m, %six : (tensor<8xf32>, tensor<f32>) -> tensor<8xf32> loc("hswish2")
  %sq2 = top.constant {value = dense<1.4142135> : tensor<f32>} : tensor<f32>
  %one = top.constant {value = dense<1.0> : tensor<f32>} : tensor<f32>
  %half = top.constant {value = dense<0.5> : tensor<f32>} : tensor<f32>
  %d = top.div %h2, %sq2 : (tensor<8xf32>, tensor<f32>) -> tensor<8xf32>
  %e = top.erf %d : (tensor<8xf32>) -> tensor<8xf32>
  %e1 = top.add %e, %one : (tensor<8xf32>, tensor<f32>) -> tensor<8xf32>
  %xh = top.mul %h2, %half : (tensor<8xf32>, tensor<f32>) -> tensor<8xf32>
  %g = top.mul %xh, %e1 : (tensor<8xf32>, tensor<8xf32>) -> tensor<8xf32> loc("gelu")
  return %g : tensor<8xf32>
}

// -----

// CHECK-LABEL: func.func @layer_norm
// CHECK: top.layer_normalization %x, %{{.+}}, %{{.+}} {axis = 1, epsilon = 1e-05} {{.+}} loc("y")
// CHECK-NOT: top.reduce_mean
func.func @layer_norm(%x: tensor<2x4xf32>) -> tensor<2x4xf32> {
  %mean = top.reduce_mean %x {axes = [1], keepdims = true} : (tensor<2x4xf32>) -> tensor<2x1xf32>
  %d = top.sub %x, %mean : (tensor<2x4xf32>, tensor<2x1xf32>) -> tensor<2x4xf32>
  %two = top.constant {value = dense<2.0> : tensor<f32>} : tensor<f32>
  %sq = top.pow %d, %two : (tensor<2x4xf32>, tensor<f32>) -> tensor<2x4xf32>
  %var = top.reduce_mean %sq {axes = [1], keepdims = true} : (tensor<2x4xf32>) -> tensor<2x1xf32>
  %eps = top.constant {value = dense<1e-05> : tensor<f32>} : tensor<f32>
  %ve = top.add %var, %eps : (tensor<2x1xf32>, tensor<f32>) -> tensor<2x1xf32>
  %sd = top.sqrt %ve : (tensor<2x1xf32>) -> tensor<2x1xf32>
  %n = top.div %d, %sd : (tensor<2x4xf32>, tensor<2x1xf32>) -> tensor<2x4xf32>
  %gamma = top.constant {value = dense<[1.0, 2.0, 3.0, 4.0]> : tensor<4xf32>} : tensor<4xf32>
  %beta = top.constant {value = dense<[0.0, 0.5, 1.0, 1.5]> : tensor<4xf32>} : tensor<4xf32>
  %ng = top.mul %n, %gamma : (tensor<2x4xf32>, tensor<4xf32>) -> tensor<2x4xf32>
  %y = top.add %ng, %beta : (tensor<2x4xf32>, tensor<4xf32>) -> tensor<2x4xf32> loc("y")
  return %y : tensor<2x4xf32>
}
