"""Make the example model and image: `python examples/make_tiny_cnn.py [OUT_DIR]`.

Writes, into OUT_DIR (default: this folder):

- `tiny_cnn.onnx`: a small float CNN classifier built with onnx.helper (ir_version 8,
  opset 13), input "input" [1, 3, 32, 32], output "logits" [1, 10]:
  Conv+BN+Relu -> residual block (Conv+BN+Relu, Conv+BN, Add, Relu) -> MaxPool 2x2 ->
  Conv+BN+Relu -> GlobalAveragePool -> Flatten -> Gemm (10 classes).
  Weights come from a seeded generator, so the file is the same byte for byte on every run.
- `tiny_input.png`: a synthetic 40x40 RGB test image (colour gradients, a disc, a square, a
  stripe), also deterministic.

Then, for example:

    model_transform --model_name tiny_cnn --model_def examples/tiny_cnn.onnx \\
        --input_shapes [[1,3,32,32]] --mean 123.675,116.28,103.53 \\
        --scale 0.0171,0.0175,0.0174 --pixel_format rgb --resize_dims 36,36 \\
        --test_input examples/tiny_input.png --mlir work/tiny_cnn.mlir
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

SEED = 20240601
INPUT_SHAPE = (1, 3, 32, 32)
NUM_CLASSES = 10


class _Builder:
    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []

    def weight(self, name: str, array: np.ndarray) -> str:
        self.inits.append(numpy_helper.from_array(np.asarray(array, np.float32), name))
        return name

    def conv_bn(self, name: str, x: str, c_in: int, c_out: int, relu: bool) -> str:
        fan_in = c_in * 9
        w = self.rng.standard_normal((c_out, c_in, 3, 3)) * np.sqrt(2.0 / fan_in)
        self.nodes.append(helper.make_node(
            "Conv", [x, self.weight(f"{name}.weight", w)], [f"{name}_conv"],
            name=f"{name}.conv", kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[1, 1]))
        bn = [self.weight(f"{name}.bn.{k}", v) for k, v in (
            ("scale", self.rng.uniform(0.5, 1.5, c_out)),
            ("bias", self.rng.uniform(-0.2, 0.2, c_out)),
            ("mean", self.rng.uniform(-0.2, 0.2, c_out)),
            ("var", self.rng.uniform(0.5, 2.0, c_out)))]
        self.nodes.append(helper.make_node(
            "BatchNormalization", [f"{name}_conv", *bn], [f"{name}_bn"], name=f"{name}.bn",
            epsilon=1e-5))
        if not relu:
            return f"{name}_bn"
        self.nodes.append(helper.make_node("Relu", [f"{name}_bn"], [f"{name}_relu"],
                                           name=f"{name}.relu"))
        return f"{name}_relu"


def build_model(seed: int = SEED) -> onnx.ModelProto:
    b = _Builder(seed)
    x = b.conv_bn("stem", "input", 3, 8, relu=True)
    y = b.conv_bn("block1", x, 8, 8, relu=True)
    y = b.conv_bn("block2", y, 8, 8, relu=False)
    b.nodes.append(helper.make_node("Add", [x, y], ["res_add"], name="res.add"))
    b.nodes.append(helper.make_node("Relu", ["res_add"], ["res_relu"], name="res.relu"))
    b.nodes.append(helper.make_node("MaxPool", ["res_relu"], ["pool"], name="pool",
                                    kernel_shape=[2, 2], strides=[2, 2]))
    z = b.conv_bn("head", "pool", 8, 16, relu=True)
    b.nodes.append(helper.make_node("GlobalAveragePool", [z], ["gap"], name="gap"))
    b.nodes.append(helper.make_node("Flatten", ["gap"], ["flat"], name="flatten", axis=1))
    fc_w = b.weight("fc.weight", b.rng.standard_normal((NUM_CLASSES, 16)) * 0.25)
    fc_b = b.weight("fc.bias", b.rng.uniform(-0.1, 0.1, NUM_CLASSES))
    b.nodes.append(helper.make_node("Gemm", ["flat", fc_w, fc_b], ["logits"], name="fc",
                                    transB=1))
    graph = helper.make_graph(
        b.nodes, "tiny_cnn",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, list(INPUT_SHAPE))],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, NUM_CLASSES])],
        b.inits)
    model = helper.make_model(graph, producer_name="kiln-examples",
                              opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    return model


def make_image(height: int = 40, width: int = 40) -> np.ndarray:
    """A synthetic H x W x 3 uint8 RGB image: gradients with a disc, a square and a stripe."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    image = np.stack([255 * xx / (width - 1), 255 * yy / (height - 1),
                      255 * (1 - (xx + yy) / (width + height - 2))], axis=2)
    disc = (yy - 0.35 * height) ** 2 + (xx - 0.35 * width) ** 2 < (0.2 * min(height, width)) ** 2
    image[disc] = (250, 220, 30)
    square = (yy >= 0.6 * height) & (yy < 0.85 * height) & (xx >= 0.55 * width) & (
        xx < 0.8 * width)
    image[square] = (20, 40, 200)
    stripe = np.abs((xx - yy) - 0.1 * width) < 1.5
    image[stripe] = (255, 255, 255)
    return np.round(image).astype(np.uint8)


CALIBRATION_IMAGES = 8


def make_calibration_image(index: int, height: int = 40, width: int = 40) -> np.ndarray:
    """Calibration picture `index`: the test image's kind of content (gradients, flat
    shapes, a thin stripe) with seeded colours, positions and noise, so calibration sees the
    ranges the test image produces without seeing the test image itself."""
    rng = np.random.default_rng(1000 + index)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    a, b = rng.uniform(0.7, 1.0, 2)
    image = np.stack([255 * a * xx / (width - 1), 255 * b * yy / (height - 1),
                      255 * rng.uniform(0.7, 1.0) * (1 - (xx + yy) / (width + height - 2))],
                     axis=2)
    palette = [(250, 220, 30), (20, 40, 200), (255, 255, 255), (200, 30, 30)]
    for _ in range(3):
        cy, cx = rng.uniform(0.1, 0.9, 2) * (height, width)
        r = rng.uniform(0.1, 0.3) * min(height, width)
        shape = ((yy - cy) ** 2 + (xx - cx) ** 2 < r * r) if rng.uniform() < 0.5 else \
            (np.abs(yy - cy) < r) & (np.abs(xx - cx) < r)
        image[shape] = palette[rng.integers(len(palette))]
    stripe = np.abs((xx - yy) - rng.uniform(-0.5, 0.5) * width) < 1.5
    image[stripe] = 255
    image += rng.normal(0, 4, image.shape)
    return np.round(np.clip(image, 0, 255)).astype(np.uint8)


def write_examples(out_dir: str | Path) -> tuple[Path, ...]:
    from PIL import Image

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model_path, image_path = out_dir / "tiny_cnn.onnx", out_dir / "tiny_input.png"
    model_path.write_bytes(build_model().SerializeToString(deterministic=True))
    Image.fromarray(make_image(), mode="RGB").save(image_path, format="PNG", optimize=False)
    calib = out_dir / "calib"
    calib.mkdir(exist_ok=True)
    paths = [model_path, image_path]
    for i in range(CALIBRATION_IMAGES):
        path = calib / f"img_{i:02d}.png"
        Image.fromarray(make_calibration_image(i), mode="RGB").save(path, format="PNG",
                                                                    optimize=False)
        paths.append(path)
    return tuple(paths)


def main(argv: list[str]) -> int:
    out_dir = Path(argv[0]) if argv else Path(__file__).resolve().parent
    for path in write_examples(out_dir):
        print(f"wrote {path} ({path.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
