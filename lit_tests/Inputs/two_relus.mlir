module @two attributes {kiln.state = "top_f32"} {
  func.func @main(%x: tensor<4xf32>) -> tensor<4xf32> {
    %0 = top.relu %x : (tensor<4xf32>) -> tensor<4xf32> loc("a")
    %1 = top.relu %x : (tensor<4xf32>) -> tensor<4xf32> loc("b")
    %2 = top.add %0, %1 : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32> loc("c")
    return %2 : tensor<4xf32>
  }
}
