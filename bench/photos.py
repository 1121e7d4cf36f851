"""Real photos for calibration and accuracy benchmarks: deterministic crops of the photos
that scikit-image ships (no download), resized to the model's input.

    images = photo_crops(100, 320, seed=0)   # list of HxWx3 uint8 arrays
    save_crops(images, folder)               # PNG files, as a user's calibration folder
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

PHOTOS = ["astronaut", "coffee", "chelsea", "rocket", "motorcycle_left", "immunohistochemistry",
          "retina", "hubble_deep_field", "colorwheel", "logo", "camera", "coins", "moon",
          "page", "text", "horse", "brick", "grass", "gravel", "cell", "clock"]


def _photos() -> list[np.ndarray]:
    import skimage.data as data

    out = []
    for name in PHOTOS:
        fn = getattr(data, name, None)
        if fn is None:
            continue
        try:
            img = np.asarray(fn())
        except Exception:
            continue
        if img.dtype != np.uint8:
            img = (255 * (img.astype(np.float64) / max(img.max(), 1))).astype(np.uint8)
        if img.ndim == 2:
            img = np.stack([img] * 3, axis=-1)
        out.append(img[..., :3])
    if not out:
        raise RuntimeError("scikit-image ships none of the photos")
    return out


def photo_crops(n: int, size: int, seed: int = 0) -> list[np.ndarray]:
    """`n` square crops (random position and scale, 30% to 100% of the shorter side) of the
    shipped photos, resized to size x size."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    photos = _photos()
    out = []
    for i in range(n):
        img = photos[i % len(photos)]
        h, w = img.shape[:2]
        side = int(min(h, w) * rng.uniform(0.3, 1.0))
        y, x = rng.integers(0, h - side + 1), rng.integers(0, w - side + 1)
        crop = Image.fromarray(img[y:y + side, x:x + side]).resize((size, size),
                                                                  Image.BILINEAR)
        out.append(np.asarray(crop))
    return out


def save_crops(images: list[np.ndarray], folder: str | Path) -> list[Path]:
    from PIL import Image

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, img in enumerate(images):
        p = folder / f"crop_{i:04d}.png"
        Image.fromarray(img).save(p)
        paths.append(p)
    return paths
