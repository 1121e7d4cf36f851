#!/usr/bin/env sh
# The whole flow on the bundled tiny CNN, from the repository root, into work/:
# transform (ONNX -> kiln IR), calibrate, deploy (INT8 device model + QDQ ONNX), run the
# device model, and compare it with the float reference tensor by tensor.
set -eu
cd "$(dirname "$0")/.."
W=${KILN_WORK:-work}

echo "== model_transform: ONNX -> top IR, checked against onnxruntime"
model_transform --model_name tiny_cnn --model_def examples/tiny_cnn.onnx \
    --input_shapes '[[1,3,32,32]]' --mean 123.675,116.28,103.53 \
    --scale 0.0171,0.0175,0.0174 --pixel_format rgb --resize_dims 36,36 \
    --test_input examples/tiny_input.png --mlir "$W/tiny_cnn.mlir" > /dev/null

echo "== run_calibration: activation ranges from 8 pictures"
run_calibration "$W/tiny_cnn.mlir" --dataset examples/calib --input_num 8 \
    -o "$W/tiny_cnn_cali_table"

echo "== model_deploy: INT8 device model, checked on the test input (every layer)"
model_deploy --mlir "$W/tiny_cnn.mlir" --quantize INT8 \
    --calibration_table "$W/tiny_cnn_cali_table" --processor int8-sym \
    --test_input "$W/tiny_cnn_in_f32.npz" --test_reference "$W/tiny_cnn_top_outputs.npz" \
    --compare_all --tolerance 0.99,0.90 \
    --model "$W/tiny_cnn_int8.kmodel" --export_onnx "$W/tiny_cnn_int8_qdq.onnx"

echo "== model_runner: the device model on the PC, every tensor (dequantized and @int)"
model_runner --input "$W/tiny_cnn_in_f32.npz" --model "$W/tiny_cnn_int8.kmodel" \
    --output "$W/tiny_cnn_int8_tensors.npz" --dump_all_tensors > /dev/null

echo "== npz_tool compare: onnxruntime float vs the INT8 device model"
npz_tool compare "$W/tiny_cnn_ref_outputs.npz" "$W/tiny_cnn_int8_tensors.npz" \
    --tolerance 0.99,0.90
