"""Helpers for the end-to-end tests of the user-facing tools: small ONNX models built here,
test images, running a tool in-process, and snapshots of a folder."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
TINY_CNN = EXAMPLES / "tiny_cnn.onnx"
TINY_INPUT = EXAMPLES / "tiny_input.png"
# The ONNX op types of examples/tiny_cnn.onnx beyond the core ones (Conv, Relu, Add).
TINY_CNN_EXTRA_OPS = ("BatchNormalization", "MaxPool", "GlobalAveragePool", "Flatten", "Gemm")


def _model(nodes, inputs, outputs, inits: dict[str, np.ndarray], opset: int = 13,
           ir_version: int = 8) -> onnx.ModelProto:
    graph = helper.make_graph(
        nodes, "case", inputs,
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in outputs],
        [numpy_helper.from_array(np.asarray(v), k) for k, v in inits.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = ir_version
    return model


def core_model(input_name: str = "input", shape=(1, 3, 16, 16), seed: int = 0,
               opset: int = 13, ir_version: int = 8) -> onnx.ModelProto:
    """Only ops that every build imports (Conv, Relu, Add, Transpose, Reshape); two outputs,
    "out" [1, N] and "feat" (the transposed features)."""
    rng = np.random.default_rng(seed)
    c = shape[1]
    inits = {
        "w1": (rng.standard_normal((4, c, 3, 3)) * 0.3).astype(np.float32),
        "b1": rng.standard_normal(4).astype(np.float32),
        "w2": (rng.standard_normal((4, 4, 3, 3)) * 0.3).astype(np.float32),
        "b2": rng.standard_normal(4).astype(np.float32),
        "flat_shape": np.array([1, -1], np.int64),
    }
    nodes = [
        helper.make_node("Conv", [input_name, "w1", "b1"], ["conv1"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["conv1"], ["relu1"]),
        helper.make_node("Conv", ["relu1", "w2", "b2"], ["conv2"], pads=[1, 1, 1, 1]),
        helper.make_node("Add", ["conv2", "relu1"], ["add1"]),
        helper.make_node("Relu", ["add1"], ["relu2"]),
        helper.make_node("Transpose", ["relu2"], ["feat"], perm=[0, 2, 3, 1]),
        helper.make_node("Reshape", ["feat", "flat_shape"], ["out"]),
    ]
    inputs = [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, list(shape))]
    return _model(nodes, inputs, ["out", "feat"], inits, opset, ir_version)


def nhwc_model(shape=(1, 16, 16, 3), seed: int = 1) -> onnx.ModelProto:
    """An NHWC-input model: Transpose to NCHW, Conv, Relu, Reshape."""
    rng = np.random.default_rng(seed)
    inits = {"w": (rng.standard_normal((4, shape[3], 3, 3)) * 0.3).astype(np.float32),
             "flat_shape": np.array([1, -1], np.int64)}
    nodes = [helper.make_node("Transpose", ["image"], ["nchw"], perm=[0, 3, 1, 2]),
             helper.make_node("Conv", ["nchw", "w"], ["conv"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["conv"], ["relu"]),
             helper.make_node("Reshape", ["relu", "flat_shape"], ["out"])]
    inputs = [helper.make_tensor_value_info("image", TensorProto.FLOAT, list(shape))]
    return _model(nodes, inputs, ["out"], inits)


def two_input_model() -> onnx.ModelProto:
    """Two non-image inputs: out = Relu(a + b)."""
    nodes = [helper.make_node("Add", ["a", "b"], ["sum"]),
             helper.make_node("Relu", ["sum"], ["out"])]
    inputs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, [2, 5]) for n in "ab"]
    return _model(nodes, inputs, ["out"], {})


def unsupported_model() -> onnx.ModelProto:
    """A model with an op of a custom domain, which no importer handles."""
    nodes = [helper.make_node("Frobnicate", ["x"], ["y"], domain="com.example")]
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])]
    model = _model(nodes, inputs, ["y"], {})
    model.opset_import.append(helper.make_opsetid("com.example", 1))
    return model


def save(model: onnx.ModelProto, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path


# model_transform flags of the example CNN: ImageNet-style preprocessing of a 36x36 resize
TINY_TRANSFORM = ["--input_shapes", "[[1,3,32,32]]", "--mean", "123.675,116.28,103.53",
                  "--scale", "0.0171,0.0175,0.0174", "--pixel_format", "rgb",
                  "--resize_dims", "36,36"]


def tiny_flow(root: Path, model_name: str = "tiny", images: int = 6,
              table: str | None = "cali_table") -> tuple[Path, Path, Path | None]:
    """The example CNN transformed to `root/tiny.mlir` (preprocessing recorded), `images`
    drawn 40x40 pictures in `root/imgs`, and calibrated on them into `root/<table>` (None:
    not calibrated): (mlir, images folder, table)."""
    from kiln.tools import model_transform, run_calibration

    mlir = root / "tiny.mlir"
    assert model_transform.run(["--model_name", model_name, "--model_def", str(TINY_CNN),
                                *TINY_TRANSFORM, "--mlir", str(mlir)]) == 0
    for i in range(images):
        make_png(root / "imgs" / f"img_{i:02d}.png", 40, 40, seed=i)
    if table is None:
        return mlir, root / "imgs", None
    assert run_calibration.run([str(mlir), "--dataset", str(root / "imgs"), "-o",
                                str(root / table)]) == 0
    return mlir, root / "imgs", root / table


def samples(module, folder: Path, n: int) -> list[dict]:
    """The first `n` inputs of a dataset folder, preprocessed as the module records."""
    from kiln.data.dataset import load_dataset

    return list(load_dataset(module.main, dataset=str(folder), data_list=None, input_num=n,
                             seed=0))


def make_png(path: Path, height: int = 20, width: int = 24, seed: int = 3,
             mode: str = "RGB") -> Path:
    """A deterministic random image."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    channels = 1 if mode == "L" else 3
    pixels = rng.integers(0, 256, (height, width, channels), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels[:, :, 0] if channels == 1 else pixels, mode=mode).save(path)
    return path


def cli(run: Callable[[list[str]], int], argv: list[str], capsys) -> tuple[int, str, str]:
    """Run a tool's `run(argv)` in-process: (exit code, stdout, stderr)."""
    capsys.readouterr()
    code = run([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def assert_usage_error(code: int, err: str, prog: str, *fragments: str) -> None:
    """Exit 2 with one `prog: error:` message, no traceback."""
    assert code == 2, err
    assert "Traceback" not in err
    assert err.startswith(f"{prog}: error: "), err
    for fragment in fragments:
        assert fragment in err, (fragment, err)


def snapshot(folder: Path) -> dict[str, tuple[str, int]]:
    """Every file under `folder`: (sha256, mtime in ns), to prove a run left it alone."""
    out = {}
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            out[str(p.relative_to(folder))] = (hashlib.sha256(p.read_bytes()).hexdigest(),
                                               p.stat().st_mtime_ns)
    return out


def files_bytes(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def needs_tiny_cnn_ops():
    """Skip unless the importers of every op type of examples/tiny_cnn.onnx are present."""
    from kiln.frontend.onnx.registry import load_builders

    missing = [t for t in TINY_CNN_EXTRA_OPS if t not in load_builders()]
    return pytest.mark.skipif(bool(missing), reason=f"no importer yet for {', '.join(missing)}")
