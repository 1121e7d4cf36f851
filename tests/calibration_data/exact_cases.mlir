// IR cases of test_exact_ops.py, one function per case (parsed as one module).
func.func @clamp(%x: tensor<4xf32>) -> tensor<4xf32> {
  %m = top.constant {value = dense<-3.4028234663852886e+38> : tensor<f32>} : tensor<f32> loc("fmin")
  %y = top.max %x, %m : (tensor<4xf32>, tensor<f32>) -> tensor<4xf32> loc("clamped")
  %z = top.relu %y : (tensor<4xf32>) -> tensor<4xf32> loc("relu")
  return %z : tensor<4xf32>
}
func.func @pad_neg_inf(%x: tensor<1x1x4x4xf32>) -> tensor<1x1x2x2xf32> {
  %p = top.pad %x {pads = [0, 0, 1, 1, 0, 0, 1, 1], mode = "constant", value = -inf} : (tensor<1x1x4x4xf32>) -> tensor<1x1x6x6xf32> loc("padded")
  %m = top.max_pool %p {kernel_shape = [3, 3], strides = [3, 3], pads = [0, 0, 0, 0], dilations = [1, 1], ceil_mode = false} : (tensor<1x1x6x6xf32>) -> tensor<1x1x2x2xf32> loc("pooled")
  return %m : tensor<1x1x2x2xf32>
}
func.func @f16_mask(%x: tensor<3xf16>, %keep: tensor<3xbool>) -> tensor<3xf16> {
  %min = top.constant {value = dense<-65504.0> : tensor<f16>} : tensor<f16> loc("f16_min")
  %w = top.where %keep, %x, %min : (tensor<3xbool>, tensor<3xf16>, tensor<f16>) -> tensor<3xf16> loc("masked")
  %s = top.softmax %w {axis = 0} : (tensor<3xf16>) -> tensor<3xf16> loc("probs")
  return %s : tensor<3xf16>
}

func.func @table_lookup(%ids: tensor<2xi64>) -> (tensor<2x2xf32>, tensor<2xf32>) {
  %t = top.constant {value = dense<[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]> : tensor<3x2xf32>} : tensor<3x2xf32> loc("small_table")
  %g = top.gather %t, %ids {axis = 0} : (tensor<3x2xf32>, tensor<2xi64>) -> tensor<2x2xf32> loc("embedded")
  %f = top.cast %ids {to = f32} : (tensor<2xi64>) -> tensor<2xf32> loc("ids_f")
  %h = top.constant {value = dense<0.5> : tensor<f32>} : tensor<f32> loc("half")
  %m = top.mul %f, %h : (tensor<2xf32>, tensor<f32>) -> tensor<2xf32> loc("halved")
  return %g, %m : tensor<2x2xf32>, tensor<2xf32>
}

func.func @boundaries(%img: tensor<1x1x2x2xu8>, %h: tensor<1x3x4xf32>, %mask: tensor<1x3xi64>) -> (tensor<1x1x2x2xf32>, tensor<1x3x4xf32>) {
  %f = top.cast %img {to = f32} : (tensor<1x1x2x2xu8>) -> tensor<1x1x2x2xf32> loc("img_f")
  %k = top.constant {value = dense<0.00392156862745098> : tensor<f32>} : tensor<f32> loc("inv255")
  %n = top.mul %f, %k : (tensor<1x1x2x2xf32>, tensor<f32>) -> tensor<1x1x2x2xf32> loc("normalized")
  %w = top.constant {value = dense<2.0> : tensor<1x1x1x1xf32>} : tensor<1x1x1x1xf32> loc("w")
  %c = top.conv %n, %w {strides = [1, 1], pads = [0, 0, 0, 0], dilations = [1, 1]} : (tensor<1x1x2x2xf32>, tensor<1x1x1x1xf32>) -> tensor<1x1x2x2xf32> loc("conv")
  %m = top.cast %mask {to = f32} : (tensor<1x3xi64>) -> tensor<1x3xf32> loc("mask_f")
  %m3 = top.reshape %m {shape = [1, 3, 1]} : (tensor<1x3xf32>) -> tensor<1x3x1xf32> loc("mask_3d")
  %p = top.mul %h, %m3 : (tensor<1x3x4xf32>, tensor<1x3x1xf32>) -> tensor<1x3x4xf32> loc("masked_hidden")
  return %c, %p : tensor<1x1x2x2xf32>, tensor<1x3x4xf32>
}
func.func @where_index(%table: tensor<4x2xf32>, %ids: tensor<3xi64>) -> tensor<3x2xf32> {
  %zero = top.constant {value = dense<0> : tensor<i64>} : tensor<i64> loc("zero")
  %four = top.constant {value = dense<4> : tensor<i64>} : tensor<i64> loc("four")
  %neg = top.less %ids, %zero : (tensor<3xi64>, tensor<i64>) -> tensor<3xbool> loc("negative")
  %wrapped = top.add %ids, %four : (tensor<3xi64>, tensor<i64>) -> tensor<3xi64> loc("wrapped")
  %i = top.where %neg, %wrapped, %ids : (tensor<3xbool>, tensor<3xi64>, tensor<3xi64>) -> tensor<3xi64> loc("index")
  %g = top.gather %table, %i {axis = 0} : (tensor<4x2xf32>, tensor<3xi64>) -> tensor<3x2xf32> loc("rows")
  return %g : tensor<3x2xf32>
}
func.func @stored_masks(%x: tensor<1x1x4x4xf32>) -> tensor<1x2x4x4xf32> {
  %w = top.weight @filter : tensor<2x1x1x1xf32> loc("filter")
  %c = top.conv %x, %w {strides = [1, 1], pads = [0, 0, 0, 0], dilations = [1, 1]} : (tensor<1x1x4x4xf32>, tensor<2x1x1x1xf32>) -> tensor<1x2x4x4xf32> loc("conv")
  %m = top.weight @causal : tensor<1x1x4x4xf32> loc("causal")
  %a = top.add %c, %m : (tensor<1x2x4x4xf32>, tensor<1x1x4x4xf32>) -> tensor<1x2x4x4xf32> loc("masked")
  %s = top.softmax %a {axis = 3} : (tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32> loc("probs")
  return %s : tensor<1x2x4x4xf32>
}
