"""Real trained models shipped inside PyPI wheels, fetched once and cached outside the repo.

    path = real_model("yolov8n")        # nudenet==3.4.2: nudenet/320n.onnx (1x3x320x320)
    path = real_model("ppocr_det")      # rapidocr-onnxruntime==1.4.4: PP-OCRv4 text detection
    path = real_model("ppocr_cls")      # rapidocr-onnxruntime==1.4.4: text direction classifier

The cache is $KILN_MODEL_CACHE, else ~/.cache/kiln/models. Fetching runs
`pip download --no-deps` (PyPI is reachable from every machine here) and unzips only the
model file; nothing is written into the repository. `light_model(name)` gives the ONNX
backend test data's `light/` architectures (ResNet-50, SqueezeNet, ...) shipped with onnx.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

MODELS: dict[str, tuple[str, str]] = {
    # name: (pip requirement, path inside the wheel)
    "yolov8n": ("nudenet==3.4.2", "nudenet/320n.onnx"),
    "ppocr_det": ("rapidocr-onnxruntime==1.4.4",
                  "rapidocr_onnxruntime/models/ch_PP-OCRv4_det_infer.onnx"),
    "ppocr_cls": ("rapidocr-onnxruntime==1.4.4",
                  "rapidocr_onnxruntime/models/ch_ppocr_mobile_v2.0_cls_infer.onnx"),
}


class ModelUnavailable(Exception):
    """The wheel could not be downloaded (no network) or does not hold the model."""


def cache_dir() -> Path:
    return Path(os.environ.get("KILN_MODEL_CACHE", Path.home() / ".cache" / "kiln" / "models"))


def real_model(name: str) -> Path:
    requirement, member = MODELS[name]
    target = cache_dir() / f"{name}.onnx"
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", tmp,
               requirement]
        done = subprocess.run(cmd, capture_output=True, text=True)
        wheels = list(Path(tmp).glob("*.whl"))
        if done.returncode != 0 or not wheels:
            raise ModelUnavailable(f"pip download {requirement} failed: {done.stderr.strip()}")
        with zipfile.ZipFile(wheels[0]) as zf:
            if member not in zf.namelist():
                onnx_files = [n for n in zf.namelist() if n.endswith(".onnx")]
                raise ModelUnavailable(f"{requirement} has no {member}; it has {onnx_files}")
            partial = target.with_suffix(".part")
            partial.write_bytes(zf.read(member))
            partial.replace(target)
    return target


def light_model(name: str) -> Path:
    """`onnx/backend/test/data/light/light_<name>.onnx` from the installed onnx package."""
    import onnx

    path = Path(onnx.__file__).parent / "backend" / "test" / "data" / "light" / f"light_{name}.onnx"
    if not path.exists():
        raise ModelUnavailable(f"{path} is not in the installed onnx package")
    return path


if __name__ == "__main__":
    for model in MODELS:
        print(model, real_model(model))
