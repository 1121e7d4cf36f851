"""Real photos for calibration and accuracy benchmarks: deterministic crops of the photos
that scikit-image ships (no download), resized to the model's input.

    images = photo_crops(100, 320, seed=0)   # list of HxWx3 uint8 arrays
    scenes = people_scenes(300, 320, seed=1)  # for a detector of people and their parts
    save_crops(images, folder)               # PNG files, as a user's calibration folder

YOLOv8n here is nudenet's detector, whose 18 classes are faces and body parts: on crops of
all the photos, 150 pictures held 37 float detections at a score of 0.25, and one detection
that flipped moved F1 by 0.027 (all-INT16 scored 0.947). `people_scenes` draws mostly from
the photos with people in them (scikit-image's astronaut and cameraman, matplotlib's Grace
Hopper portrait, mosaics of scikit-image's 25x25 LFW faces), with the other photos mixed in
for pictures without anyone: about 1.3 float detections a picture.
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
    rng = np.random.default_rng(seed)
    photos = _photos()
    return [_crop(photos[i % len(photos)], size, rng, mirror=False) for i in range(n)]


def _people() -> list[np.ndarray]:
    import skimage.data as data
    from matplotlib import cbook
    from PIL import Image

    with Image.open(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)) as img:
        hopper = np.asarray(img.convert("RGB"))
    return [data.astronaut()[..., :3], np.stack([data.camera()] * 3, axis=-1), hopper]


def _crop(img: np.ndarray, size: int, rng: np.random.Generator,
          mirror: bool = True) -> np.ndarray:
    """A random square crop (30% to 100% of the shorter side) resized to size x size; with
    `mirror`, mirrored half the time."""
    from PIL import Image

    h, w = img.shape[:2]
    side = int(min(h, w) * rng.uniform(0.3, 1.0))
    y, x = rng.integers(0, h - side + 1), rng.integers(0, w - side + 1)
    crop = img[y:y + side, x:x + side]
    if mirror and rng.random() < 0.5:
        crop = crop[:, ::-1]
    return np.asarray(Image.fromarray(np.ascontiguousarray(crop)).resize((size, size),
                                                                        Image.BILINEAR))


def _face_mosaic(faces: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """k x k LFW faces (k from 2 to 4) tiled and resized to size x size, as RGB."""
    from PIL import Image

    k = int(rng.integers(2, 5))
    tiles = faces[rng.choice(len(faces), k * k, replace=False)]
    edge = tiles.shape[1]
    grid = tiles.reshape(k, k, edge, edge).transpose(0, 2, 1, 3).reshape(k * edge, k * edge)
    grey = Image.fromarray(grid).resize((size, size), Image.BILINEAR)
    return np.asarray(grey.convert("RGB"))


def people_scenes(n: int, size: int, seed: int = 0) -> list[np.ndarray]:
    """`n` size x size pictures, in turn: a crop of each of the three photos of people, a
    mosaic of LFW faces, a crop of the other photos (photo_crops)."""
    import skimage.data as data

    rng = np.random.default_rng(seed)
    people = _people()
    faces = (255 * data.lfw_subset()).round().astype(np.uint8)
    others = photo_crops((n + 4) // 5, size, seed + 1000)
    out = []
    for i in range(n):
        kind = i % 5
        if kind < len(people):
            out.append(_crop(people[kind], size, rng))
        elif kind == len(people):
            out.append(_face_mosaic(faces, size, rng))
        else:
            out.append(others[i // 5])
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
