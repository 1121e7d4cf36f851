"""Rendered text for the OCR models of the accuracy benchmark: deterministic images that hold
real glyphs (the DejaVu fonts, random words, sizes and colours), so a text detector finds
something and a direction classifier has a known answer.

    lines, labels = text_lines(100, seed=0)           # 48x192 crops, label 1 = rotated 180
    scenes = text_scenes(50, 512, seed=0, backgrounds=photo_crops(50, 512, seed=3))

Backgrounds are plain colours or gradients, or, when given, photos (bench/photos.py) under the
text. Text lines are resized and padded the way PaddleOCR's direction classifier expects:
height 48 keeping the aspect ratio, width at most 192, the rest padded with mid-grey (0 after
its (x/255 - 0.5)/0.5 normalization).
"""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path

import numpy as np

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
WORDS = ("the quick brown fox jumps over lazy dog invoice total amount date name address "
         "phone email order number street city station exit open closed sale price only "
         "today free parking north south east west hotel coffee bakery pharmacy bank museum "
         "kiln quantize model tensor layer Warning Danger STOP Welcome Hello OCR INT8 "
         "2024 1999 42 3.14 100% $19.99 No.7 A-12 km/h").split()
PAD_GREY = 128  # the padding value: (128/255 - 0.5) / 0.5 is about 0


@lru_cache(maxsize=1)
def font_paths() -> tuple[Path, ...]:
    """The DejaVu text fonts (the TeX math font, which lacks plain glyph coverage, is left
    out), sorted so the choice is deterministic."""
    paths = tuple(sorted(p for p in FONT_DIR.glob("DejaVu*.ttf") if "Math" not in p.name))
    if not paths:
        raise FileNotFoundError(f"no DejaVu fonts in {FONT_DIR} (apt-get install fonts-dejavu)")
    return paths


@lru_cache(maxsize=256)
def _font(path: Path, size: int):
    from PIL import ImageFont

    return ImageFont.truetype(str(path), size)


def random_text(rng: np.random.Generator, min_words: int = 1, max_words: int = 4) -> str:
    return " ".join(WORDS[i] for i in rng.integers(0, len(WORDS),
                                                   rng.integers(min_words, max_words + 1)))


def _background(rng: np.random.Generator, h: int, w: int,
                photo: np.ndarray | None) -> np.ndarray:
    """An h x w x 3 uint8 background: a random crop of `photo`, else a plain colour or a
    linear gradient between two colours."""
    from PIL import Image

    if photo is not None:
        ph, pw = photo.shape[:2]
        ch = max(1, min(ph, int(ph * rng.uniform(0.3, 1.0))))
        cw = max(1, min(pw, int(ch * w / h)))
        y, x = rng.integers(0, ph - ch + 1), rng.integers(0, pw - cw + 1)
        crop = Image.fromarray(np.ascontiguousarray(photo[y:y + ch, x:x + cw, :3]))
        return np.asarray(crop.resize((w, h), Image.BILINEAR))
    a = rng.integers(0, 256, 3).astype(np.float64)
    if rng.random() < 0.5:
        return np.broadcast_to(a.astype(np.uint8), (h, w, 3)).copy()
    b = rng.integers(0, 256, 3).astype(np.float64)
    t = np.linspace(0, 1, w)[None, :, None] if rng.random() < 0.5 else \
        np.linspace(0, 1, h)[:, None, None]
    return np.broadcast_to(a + (b - a) * t, (h, w, 3)).astype(np.uint8)


def _ink(rng: np.random.Generator, region: np.ndarray) -> tuple[int, int, int]:
    """A text colour that contrasts with the mean luminance of `region`."""
    lum = float(np.mean(region)) if region.size else 128.0
    lo, hi = (0, 70) if lum > 128 else (185, 256)
    return tuple(int(v) for v in rng.integers(lo, hi, 3))  # type: ignore[return-value]


def render_line(rng: np.random.Generator, text: str | None = None,
                photo: np.ndarray | None = None) -> np.ndarray:
    """One line of text, tightly framed (a few pixels of margin), as an h x w x 3 uint8
    image of its natural size: font and size (20 to 44 px) drawn at random."""
    from PIL import Image, ImageDraw

    text = text if text is not None else random_text(rng)
    paths = font_paths()
    font = _font(paths[int(rng.integers(len(paths)))], int(rng.integers(20, 45)))
    x0, y0, x1, y1 = font.getbbox(text)
    mx, my = (int(v) for v in rng.integers(2, 9, 2))
    w, h = (x1 - x0) + 2 * mx, (y1 - y0) + 2 * my
    bg = _background(rng, h, w, photo)
    img = Image.fromarray(bg)
    ImageDraw.Draw(img).text((mx - x0, my - y0), text, font=font, fill=_ink(rng, bg))
    return np.asarray(img)


def cls_input(line: np.ndarray, height: int = 48, width: int = 192) -> np.ndarray:
    """PaddleOCR's direction-classifier resize: height `height` keeping the aspect ratio,
    width capped at `width`, padded on the right with mid-grey to `width`."""
    from PIL import Image

    h, w = line.shape[:2]
    new_w = min(width, max(1, math.ceil(height * w / h)))
    out = np.full((height, width, 3), PAD_GREY, np.uint8)
    out[:, :new_w] = np.asarray(Image.fromarray(line).resize((new_w, height), Image.BILINEAR))
    return out


def text_lines(n: int, seed: int = 0, height: int = 48, width: int = 192,
               backgrounds: list[np.ndarray] | None = None
               ) -> tuple[list[np.ndarray], np.ndarray]:
    """`n` classifier inputs (height x width x 3 uint8) and their labels: exactly half
    (rounded down) are rotated by 180 degrees (label 1), in a random order. With
    `backgrounds`, every other line is drawn on a crop of one of them."""
    rng = np.random.default_rng(seed)
    labels = np.zeros(n, np.int64)
    labels[rng.permutation(n)[: n // 2]] = 1
    images = []
    for i in range(n):
        photo = backgrounds[i % len(backgrounds)] if backgrounds and i % 2 else None
        line = render_line(rng, photo=photo)
        if labels[i]:
            line = np.ascontiguousarray(line[::-1, ::-1])
        images.append(cls_input(line, height, width))
    return images, labels


def text_scene(rng: np.random.Generator, height: int, width: int,
               background: np.ndarray | None = None, lines: tuple[int, int] = (3, 9)
               ) -> np.ndarray:
    """Several horizontal text lines at random places over `background` (resized to the
    scene) or a plain or gradient background: an image for a text detector."""
    from PIL import Image, ImageDraw

    if background is not None:
        bg = np.asarray(Image.fromarray(background[..., :3]).resize((width, height),
                                                                  Image.BILINEAR))
    else:
        bg = _background(rng, height, width, None)
    img = Image.fromarray(np.ascontiguousarray(bg))
    draw = ImageDraw.Draw(img)
    paths = font_paths()
    placed: list[tuple[int, int, int, int]] = []
    for _ in range(int(rng.integers(lines[0], lines[1] + 1))):
        # a few tries to find a line that fits and overlaps no earlier one; else skip it
        for _try in range(10):
            font = _font(paths[int(rng.integers(len(paths)))],
                         int(rng.integers(max(10, height // 36), max(12, height // 9))))
            text = random_text(rng, 1, 5)
            x0, y0, x1, y1 = font.getbbox(text)
            tw, th = x1 - x0, y1 - y0
            if tw >= width or th >= height:
                continue
            x = int(rng.integers(0, width - tw))
            y = int(rng.integers(0, height - th))
            box = (x - 2, y - 2, x + tw + 2, y + th + 2)
            if any(box[0] < b[2] and b[0] < box[2] and box[1] < b[3] and b[1] < box[3]
                   for b in placed):
                continue
            placed.append(box)
            region = bg[y:y + th, x:x + tw]
            draw.text((x - x0, y - y0), text, font=font, fill=_ink(rng, region))
            break
    return np.asarray(img)


def text_scenes(n: int, size: int, seed: int = 0,
                backgrounds: list[np.ndarray] | None = None) -> list[np.ndarray]:
    """`n` size x size x 3 uint8 scenes with text; with `backgrounds`, every other scene is
    drawn over one of them (in order), the rest over plain or gradient backgrounds."""
    rng = np.random.default_rng(seed)
    return [text_scene(rng, size, size,
                       backgrounds[(i // 2) % len(backgrounds)] if backgrounds and i % 2
                       else None)
            for i in range(n)]
