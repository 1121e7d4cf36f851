// IR cases of test_score_branch.py and test_run_calibration.py, one function each.
// yolo_head: a YOLOv8-style head; a shared neck feature feeds a box branch and a class
// branch, their logits are concatenated on channels and flattened, and the class rows
// are sliced back out into a sigmoid. Only the class branch feeds only scores.
module @score_cases {
func.func @yolo_head(%x: tensor<1x2x4x4xf32>) -> tensor<1x6x16xf32> {
  %w0 = top.constant {value = dense<0.5> : tensor<2x2x1x1xf32>} : tensor<2x2x1x1xf32> loc("w0")
  %neck = top.conv %x, %w0 {strides = [1, 1], pads = [0, 0, 0, 0], dilations = [1, 1], group = 1} : (tensor<1x2x4x4xf32>, tensor<2x2x1x1xf32>) -> tensor<1x2x4x4xf32> loc("neck")
  %act = top.silu %neck : (tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32> loc("neck_act")
  %wb = top.constant {value = dense<0.25> : tensor<4x2x1x1xf32>} : tensor<4x2x1x1xf32> loc("wb")
  %box = top.conv %act, %wb {strides = [1, 1], pads = [0, 0, 0, 0], dilations = [1, 1], group = 1} : (tensor<1x2x4x4xf32>, tensor<4x2x1x1xf32>) -> tensor<1x4x4x4xf32> loc("box")
  %wc = top.constant {value = dense<0.125> : tensor<2x2x1x1xf32>} : tensor<2x2x1x1xf32> loc("wc")
  %c1 = top.conv %act, %wc {strides = [1, 1], pads = [0, 0, 0, 0], dilations = [1, 1], group = 1} : (tensor<1x2x4x4xf32>, tensor<2x2x1x1xf32>) -> tensor<1x2x4x4xf32> loc("cls_conv")
  %c2 = top.silu %c1 : (tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32> loc("cls_act")
  %c3 = top.conv %c2, %wc {strides = [1, 1], pads = [0, 0, 0, 0], dilations = [1, 1], group = 1} : (tensor<1x2x4x4xf32>, tensor<2x2x1x1xf32>) -> tensor<1x2x4x4xf32> loc("cls_logits")
  %cat = top.concat %box, %c3 {axis = 1} : (tensor<1x4x4x4xf32>, tensor<1x2x4x4xf32>) -> tensor<1x6x4x4xf32> loc("head_cat")
  %flat = top.reshape %cat {shape = [1, 6, 16]} : (tensor<1x6x4x4xf32>) -> tensor<1x6x16xf32> loc("head_flat")
  %b = top.slice %flat {starts = [0, 0, 0], ends = [1, 4, 16], steps = [1, 1, 1]} : (tensor<1x6x16xf32>) -> tensor<1x4x16xf32> loc("boxes_raw")
  %s = top.slice %flat {starts = [0, 4, 0], ends = [1, 6, 16], steps = [1, 1, 1]} : (tensor<1x6x16xf32>) -> tensor<1x2x16xf32> loc("logits")
  %two = top.constant {value = dense<2.0> : tensor<f32>} : tensor<f32> loc("two")
  %bx = top.mul %b, %two : (tensor<1x4x16xf32>, tensor<f32>) -> tensor<1x4x16xf32> loc("boxes")
  %p = top.sigmoid %s : (tensor<1x2x16xf32>) -> tensor<1x2x16xf32> loc("scores")
  %out = top.concat %bx, %p {axis = 1} : (tensor<1x4x16xf32>, tensor<1x2x16xf32>) -> tensor<1x6x16xf32> loc("output0")
  return %out : tensor<1x6x16xf32>
}
// silu_gate: SiLU written as x * sigmoid(x): the sigmoid feeds a multiply, not an output
func.func @silu_gate(%x: tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32> {
  %w = top.constant {value = dense<0.5> : tensor<2x2x1x1xf32>} : tensor<2x2x1x1xf32> loc("w")
  %c = top.conv %x, %w {strides = [1, 1], pads = [0, 0, 0, 0], dilations = [1, 1], group = 1} : (tensor<1x2x4x4xf32>, tensor<2x2x1x1xf32>) -> tensor<1x2x4x4xf32> loc("conv")
  %s = top.sigmoid %c : (tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32> loc("gate")
  %m = top.mul %c, %s : (tensor<1x2x4x4xf32>, tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32> loc("silu")
  return %m : tensor<1x2x4x4xf32>
}
// text_map_head: features added, then conv -> relu -> conv -> a sigmoid map
func.func @text_map_head(%x: tensor<1x2x4x4xf32>, %y: tensor<1x2x4x4xf32>) -> tensor<1x1x4x4xf32> {
  %w = top.constant {value = dense<0.5> : tensor<2x2x1x1xf32>} : tensor<2x2x1x1xf32> loc("w")
  %a = top.conv %x, %w {strides = [1, 1], pads = [0, 0, 0, 0], dilations = [1, 1], group = 1} : (tensor<1x2x4x4xf32>, tensor<2x2x1x1xf32>) -> tensor<1x2x4x4xf32> loc("a")
  %sum = top.add %a, %y : (tensor<1x2x4x4xf32>, tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32> loc("fuse")
  %h = top.conv %sum, %w {strides = [1, 1], pads = [0, 0, 0, 0], dilations = [1, 1], group = 1, do_relu = true} : (tensor<1x2x4x4xf32>, tensor<2x2x1x1xf32>) -> tensor<1x2x4x4xf32> loc("head")
  %w1 = top.constant {value = dense<0.5> : tensor<1x2x1x1xf32>} : tensor<1x2x1x1xf32> loc("w1")
  %l = top.conv %h, %w1 {strides = [1, 1], pads = [0, 0, 0, 0], dilations = [1, 1], group = 1} : (tensor<1x2x4x4xf32>, tensor<1x2x1x1xf32>) -> tensor<1x1x4x4xf32> loc("logit")
  %p = top.sigmoid %l : (tensor<1x1x4x4xf32>) -> tensor<1x1x4x4xf32> loc("prob")
  return %p : tensor<1x1x4x4xf32>
}

// classifier_head: pooled features -> matmul -> bias add -> softmax probabilities
func.func @classifier_head(%x: tensor<1x4x2x2xf32>) -> tensor<1x2xf32> {
  %p = top.global_average_pool %x : (tensor<1x4x2x2xf32>) -> tensor<1x4x1x1xf32> loc("pool")
  %f = top.reshape %p {shape = [1, 4]} : (tensor<1x4x1x1xf32>) -> tensor<1x4xf32> loc("flat")
  %w = top.constant {value = dense<0.5> : tensor<4x2xf32>} : tensor<4x2xf32> loc("fc_w")
  %m = top.matmul %f, %w : (tensor<1x4xf32>, tensor<4x2xf32>) -> tensor<1x2xf32> loc("fc")
  %b = top.constant {value = dense<0.1> : tensor<2xf32>} : tensor<2xf32> loc("fc_b")
  %l = top.add %m, %b : (tensor<1x2xf32>, tensor<2xf32>) -> tensor<1x2xf32> loc("logits")
  %s = top.softmax %l {axis = 1} : (tensor<1x2xf32>) -> tensor<1x2xf32> loc("probs")
  return %s : tensor<1x2xf32>
}
}
