"""A real-looking test picture drawn with Pillow, and the input tensors real models expect.

Uniform noise is a poor input for a trained network: detectors see nothing, activations sit
in ranges a real picture never gives, and a final sigmoid then works on its far tail. The
picture here has what real inputs have: a smooth background gradient, filled shapes with
edges at several angles, and dark text on a light band (PP-OCR finds it, the classifier sees
upright text).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


def _font(size: int) -> ImageFont.ImageFont:
    if FONT.is_file():
        return ImageFont.truetype(str(FONT), size)
    return ImageFont.load_default()


def synthetic_image(height: int, width: int, seed: int = 0) -> np.ndarray:
    """An RGB uint8 picture of shape (height, width, 3): gradient, shapes and text."""
    rng = np.random.default_rng(seed)
    y = np.linspace(0.0, 1.0, height)[:, None]
    x = np.linspace(0.0, 1.0, width)[None, :]
    base = np.stack([90 + 120 * x + 0 * y, 140 + 60 * y + 0 * x, 200 - 110 * x * y], axis=-1)
    image = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(image)
    s = min(height, width)
    draw.ellipse([0.05 * width, 0.55 * height, 0.05 * width + 0.3 * s, 0.55 * height + 0.3 * s],
                 fill=(220, 60, 40), outline=(30, 20, 20), width=max(1, s // 80))
    draw.rectangle([0.62 * width, 0.08 * height, 0.92 * width, 0.40 * height],
                   fill=(40, 160, 70))
    draw.polygon([(0.55 * width, 0.95 * height), (0.75 * width, 0.55 * height),
                  (0.95 * width, 0.95 * height)], fill=(240, 200, 40))
    for _ in range(6):  # a few thin lines at random angles
        x0, x1 = rng.uniform(0, width, 2)
        y0, y1 = rng.uniform(0, height, 2)
        draw.line([(x0, y0), (x1, y1)], fill=tuple(int(v) for v in rng.integers(0, 255, 3)),
                  width=max(1, s // 120))
    # text on a light band: the thing OCR models are for
    size = max(8, int(0.55 * height) if height < 96 else s // 12)
    font = _font(size)
    band_top, band_bottom = (0.0, 1.0) if height < 96 else (0.42, 0.42 + 0.18 * s / height)
    draw.rectangle([0, band_top * height, width, band_bottom * height], fill=(235, 235, 225))
    lines = ["Kiln 2024: text", "quantize me"] if height >= 96 else ["Hello kiln 42"]
    ty = band_top * height + 2
    for line in lines:
        draw.text((0.04 * width, ty), line, fill=(15, 15, 20), font=font)
        ty += size * 1.15
    return np.asarray(image, dtype=np.uint8)


def to_nchw(image: np.ndarray, mean, std) -> np.ndarray:
    """(x / 255 - mean) / std per channel, as a float32 1x3xHxW tensor."""
    x = image.astype(np.float32) / np.float32(255.0)
    x = (x - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)
    return np.ascontiguousarray(x.transpose(2, 0, 1)[None]).astype(np.float32)


# name -> (input shape, mean, std) as the models' own preprocessing does it
PREPROCESS = {
    "yolov8n": ((1, 3, 320, 320), (0.0, 0.0, 0.0), (1.0, 1.0, 1.0)),
    "ppocr_det": ((1, 3, 640, 640), (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
    "ppocr_cls": ((1, 3, 48, 192), (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)),
}


def model_input(name: str, seed: int = 0) -> np.ndarray:
    """The input tensor for one of the real models: the synthetic picture, normalized."""
    shape, mean, std = PREPROCESS[name]
    return to_nchw(synthetic_image(shape[2], shape[3], seed), mean, std)
