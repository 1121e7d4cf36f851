// RUN: %kiln-opt %s -p mark-shape-ops --split-input-file | filecheck %s
// The pass only adds attributes: the numbers computed do not change.
// RUN: %kiln-opt %s -p mark-shape-ops --split-input-file --check-each > /dev/null
// Running it twice changes nothing more.
// RUN: %kiln-opt %s -p mark-shape-ops --split-input-file -o %t.1.mlir && %kiln-opt %t.1.mlir -p mark-shape-ops --split-input-file -o %t.2.mlir && diff %t.1.mlir %t.2.mlir

// Float arithmetic that only computes an index is part of the index computation; the
// activation it starts from (%x, also used by the relu) and the gathered rows are not.
// CHECK-LABEL: func.func @gather_index_chain
// CHECK: top.mul %x, %{{.+}} {kiln.exact = true, kiln.exact_reason = "shape"} {{.+}} loc("scaled")
// CHECK: top.floor %{{.+}} {kiln.exact = true, kiln.exact_reason = "shape"} {{.+}} loc("floored")
// CHECK: top.cast %{{.+}} {to = i64, kiln.exact = true, kiln.exact_reason = "shape"} {{.+}} loc("index")
// CHECK: top.gather %table, %{{[^ ]+}} {axis = 0} : {{.+}} loc("rows")
// CHECK: top.relu %x : {{.+}} loc("relu")
func.func @gather_index_chain(%x: tensor<4xf32>, %table: tensor<8x3xf32>) -> (tensor<4x3xf32>, tensor<4xf32>) {
  %c = top.constant {value = dense<2.0> : tensor<f32>} : tensor<f32> loc("two")
  %s = top.mul %x, %c : (tensor<4xf32>, tensor<f32>) -> tensor<4xf32> loc("scaled")
  %f = top.floor %s : (tensor<4xf32>) -> tensor<4xf32> loc("floored")
  %i = top.cast %f {to = i64} : (tensor<4xf32>) -> tensor<4xi64> loc("index")
  %g = top.gather %table, %i {axis = 0} : (tensor<8x3xf32>, tensor<4xi64>) -> tensor<4x3xf32> loc("rows")
  %r = top.relu %x : (tensor<4xf32>) -> tensor<4xf32> loc("relu")
  return %g, %r : tensor<4x3xf32>, tensor<4xf32>
}

// -----

// arg_max makes indices: it and the integer arithmetic on them are shape ops; its input
// (a real activation) is not.
// CHECK-LABEL: func.func @argmax_indices
// CHECK: top.sigmoid %x : {{.+}} loc("scores")
// CHECK: top.arg_max {{.+}} kiln.exact = true, kiln.exact_reason = "shape"} {{.+}} loc("best")
// CHECK: top.add {{.+}} {kiln.exact = true, kiln.exact_reason = "shape"} {{.+}} loc("best_plus_one")
// CHECK: top.gather_elements %x, %{{[^ ]+}} {axis = 1} : {{.+}} loc("picked")
func.func @argmax_indices(%x: tensor<2x5xf32>) -> tensor<2x1xf32> {
  %s = top.sigmoid %x : (tensor<2x5xf32>) -> tensor<2x5xf32> loc("scores")
  %a = top.arg_max %s {axis = 1, keepdims = true} : (tensor<2x5xf32>) -> tensor<2x1xi64> loc("best")
  %one = top.constant {value = dense<1> : tensor<i64>} : tensor<i64> loc("one")
  %b = top.add %a, %one : (tensor<2x1xi64>, tensor<i64>) -> tensor<2x1xi64> loc("best_plus_one")
  %p = top.gather_elements %x, %b {axis = 1} : (tensor<2x5xf32>, tensor<2x1xi64>) -> tensor<2x1xf32> loc("picked")
  return %p : tensor<2x1xf32>
}

// -----

// A comparison feeding a where that writes -inf: the comparison is a mask, the select holds
// sentinels, and so does the sum with the scores, up to the softmax that consumes them.
// CHECK-LABEL: func.func @where_minus_inf_mask
// CHECK: top.constant {value = dense<0.0> : tensor<f32>} : tensor<f32> loc("zero")
// CHECK: top.constant {value = dense<-inf> : tensor<f32>, kiln.exact = true, kiln.exact_reason = "mask"} {{.+}} loc("neg_inf")
// CHECK: top.equal {{.+}} {kiln.exact = true, kiln.exact_reason = "mask"} {{.+}} loc("is_pad")
// CHECK: top.where {{.+}} {kiln.exact = true, kiln.exact_reason = "mask"} {{.+}} loc("bias")
// CHECK: top.add %scores, %{{[^ ]+}} {kiln.exact = true, kiln.exact_reason = "mask"} {{.+}} loc("masked")
// CHECK: top.softmax %{{[^ ]+}} {axis = 1} : {{.+}} loc("probs")
func.func @where_minus_inf_mask(%scores: tensor<1x4xf32>, %ids: tensor<1x4xi64>) -> tensor<1x4xf32> {
  %pad_id = top.constant {value = dense<1> : tensor<i64>} : tensor<i64> loc("pad_id")
  %zero = top.constant {value = dense<0.0> : tensor<f32>} : tensor<f32> loc("zero")
  %ninf = top.constant {value = dense<-inf> : tensor<f32>} : tensor<f32> loc("neg_inf")
  %pad = top.equal %ids, %pad_id : (tensor<1x4xi64>, tensor<i64>) -> tensor<1x4xbool> loc("is_pad")
  %bias = top.where %pad, %ninf, %zero : (tensor<1x4xbool>, tensor<f32>, tensor<f32>) -> tensor<1x4xf32> loc("bias")
  %m = top.add %scores, %bias : (tensor<1x4xf32>, tensor<1x4xf32>) -> tensor<1x4xf32> loc("masked")
  %p = top.softmax %m {axis = 1} : (tensor<1x4xf32>) -> tensor<1x4xf32> loc("probs")
  return %p : tensor<1x4xf32>
}

// -----

// The PyTorch export of an attention mask: (1 - float(mask)) * finfo(f32).min, added to the
// scores. Everything from the integer input to the softmax is exact; the softmax is not.
// CHECK-LABEL: func.func @attention_mask_from_integer_input
// CHECK: top.cast %mask {to = f32, kiln.exact = true, kiln.exact_reason = "mask"} {{.+}} loc("mask_f")
// CHECK: top.constant {value = dense<1.0> : tensor<f32>} : tensor<f32> loc("one")
// CHECK: top.sub {{.+}} {kiln.exact = true, kiln.exact_reason = "mask"} {{.+}} loc("inverted")
// CHECK: top.constant {{.+}} kiln.exact = true, kiln.exact_reason = "mask"} {{.+}} loc("f32_min")
// CHECK: top.mul {{.+}} {kiln.exact = true, kiln.exact_reason = "mask"} {{.+}} loc("mask_bias")
// CHECK: top.reshape {{.+}} kiln.exact = true, kiln.exact_reason = "mask"} {{.+}} loc("mask_bias_4d")
// CHECK: top.add %scores, {{.+}} {kiln.exact = true, kiln.exact_reason = "mask"} {{.+}} loc("masked_scores")
// CHECK: top.softmax %{{[^ ]+}} {axis = 3} : {{.+}} loc("attn")
func.func @attention_mask_from_integer_input(%scores: tensor<1x2x3x3xf32>, %mask: tensor<1x3xi64>) -> tensor<1x2x3x3xf32> {
  %mf = top.cast %mask {to = f32} : (tensor<1x3xi64>) -> tensor<1x3xf32> loc("mask_f")
  %one = top.constant {value = dense<1.0> : tensor<f32>} : tensor<f32> loc("one")
  %inv = top.sub %one, %mf : (tensor<f32>, tensor<1x3xf32>) -> tensor<1x3xf32> loc("inverted")
  %min = top.constant {value = dense<-3.4028234663852886e+38> : tensor<f32>} : tensor<f32> loc("f32_min")
  %bias = top.mul %inv, %min : (tensor<1x3xf32>, tensor<f32>) -> tensor<1x3xf32> loc("mask_bias")
  %b4 = top.reshape %bias {shape = [1, 1, 1, 3]} : (tensor<1x3xf32>) -> tensor<1x1x1x3xf32> loc("mask_bias_4d")
  %m = top.add %scores, %b4 : (tensor<1x2x3x3xf32>, tensor<1x1x1x3xf32>) -> tensor<1x2x3x3xf32> loc("masked_scores")
  %p = top.softmax %m {axis = 3} : (tensor<1x2x3x3xf32>) -> tensor<1x2x3x3xf32> loc("attn")
  return %p : tensor<1x2x3x3xf32>
}

// -----

// A float conv chain holds only activations: nothing is marked.
// CHECK-LABEL: func.func @float_conv_chain
// CHECK-NOT: kiln.exact
// CHECK: return
func.func @float_conv_chain(%x: tensor<1x1x4x4xf32>) -> tensor<1x2x4x4xf32> {
  %w = top.constant {value = dense<[[[[1.0]]], [[[-2.0]]]]> : tensor<2x1x1x1xf32>} : tensor<2x1x1x1xf32> loc("w")
  %b = top.constant {value = dense<[0.5, -0.5]> : tensor<2xf32>} : tensor<2xf32> loc("b")
  %c = top.conv %x, %w, %b {strides = [1, 1], pads = [0, 0, 0, 0], dilations = [1, 1]} : (tensor<1x1x4x4xf32>, tensor<2x1x1x1xf32>, tensor<2xf32>) -> tensor<1x2x4x4xf32> loc("conv")
  %r = top.relu %c : (tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32> loc("relu")
  %k = top.constant {value = dense<0.25> : tensor<f32>} : tensor<f32> loc("k")
  %s = top.mul %r, %k : (tensor<1x2x4x4xf32>, tensor<f32>) -> tensor<1x2x4x4xf32> loc("scaled")
  return %s : tensor<1x2x4x4xf32>
}

// -----

// A mark written by hand is kept, with its reason; it says how that op is computed, so its
// users stay activations.
// CHECK-LABEL: func.func @hand_written_mark
// CHECK: top.relu %x {kiln.exact = true, kiln.exact_reason = "mask"} {{.+}} loc("kept")
// CHECK: top.neg %{{[^ ]+}} : {{.+}} loc("follows")
func.func @hand_written_mark(%x: tensor<3xf32>) -> tensor<3xf32> {
  %r = top.relu %x {kiln.exact = true, kiln.exact_reason = "mask"} : (tensor<3xf32>) -> tensor<3xf32> loc("kept")
  %n = top.neg %r : (tensor<3xf32>) -> tensor<3xf32> loc("follows")
  return %n : tensor<3xf32>
}
