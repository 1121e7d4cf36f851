"""Turning user files into model inputs: images (with the preprocessing recorded on the model's
input argument) and .npz / .npy arrays.

Image preprocessing, the user's contract (`preprocess_image`), step by step:

1. Decode the file with Pillow. The stored pixel grid is used as is: EXIF orientation is not
   applied, an alpha channel is dropped, palette / CMYK images are converted by Pillow.
2. Convert to the pixel format: `rgb`; `bgr` (RGB with the channel order reversed); `gray`
   (Pillow's "L": L = R * 299/1000 + G * 587/1000 + B * 114/1000).
3. Resize to `resize_dims` (height, width), or to the input's H, W when it is not given, with
   Pillow's bilinear filter (which also low-pass filters when shrinking). With
   `keep_aspect_ratio`, the image is scaled by min(height / h, width / w), its new size
   rounded to the nearest integer (at least 1), and placed at the centre of a
   height x width canvas filled with `pad_value` (a raw pixel value, 0..255, applied before
   mean and scale), at offset ((height - h') // 2, (width - w') // 2).
4. If `resize_dims` is larger than the input's H, W: centre crop to H, W, the crop starting at
   ((height - H) // 2, (width - W) // 2). A `resize_dims` smaller than H, W is an error.
5. Convert to float32 (pixel values 0..255).
6. Per channel c, in float32: (x - mean[c]) * scale[c]. mean and scale give one value per
   channel (in the pixel format's order) or one value for every channel.
7. Lay out as NCHW or NHWC. A batch size N > 1 repeats the image N times. An input of
   integer type gets the values rounded to nearest and clipped to the type's range.

The result is deterministic: the same file and settings give the same bytes.

The settings live on the model's input argument as attributes (`kiln.mean`, `kiln.scale`,
`kiln.pixel_format`, `kiln.channel_format`, `kiln.resize_dims`, `kiln.keep_aspect_ratio`,
`kiln.pad_value`), written by model_transform and read by every tool that feeds images.
"""

from __future__ import annotations

import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

PIXEL_FORMATS = ("rgb", "bgr", "gray")
CHANNEL_FORMATS = ("nchw", "nhwc")
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff",
                            ".ppm", ".pgm", ".pbm"})
ATTR_PREFIX = "kiln."
_ATTRS = ("mean", "scale", "pixel_format", "channel_format", "resize_dims",
          "keep_aspect_ratio", "pad_value")


class InputDataError(Exception):
    """An input file or preprocessing setting that cannot be used; the message says why."""


@dataclass(frozen=True)
class Preprocess:
    """How an image becomes the tensor of one model input (see the module docstring)."""

    mean: tuple[float, ...] = (0.0,)
    scale: tuple[float, ...] = (1.0,)
    pixel_format: str = "rgb"
    channel_format: str = "nchw"
    resize_dims: tuple[int, int] | None = None
    keep_aspect_ratio: bool = False
    pad_value: float = 0.0

    @property
    def channels(self) -> int:
        return 1 if self.pixel_format == "gray" else 3

    def image_size(self, shape: tuple[int, ...]) -> tuple[int, int, int, int]:
        """(N, H, W, C) of an input of `shape` laid out in this channel format."""
        if len(shape) != 4:
            raise InputDataError(f"an image input must be 4-D, this one has shape {list(shape)}")
        if self.channel_format == "nchw":
            n, c, h, w = shape
        else:
            n, h, w, c = shape
        return n, h, w, c

    def check(self, shape: tuple[int, ...]) -> None:
        """Raise InputDataError unless these settings can produce an input of `shape`."""
        if self.pixel_format not in PIXEL_FORMATS:
            raise InputDataError(f"pixel format '{self.pixel_format}' is not one of "
                                 f"{', '.join(PIXEL_FORMATS)}")
        if self.channel_format not in CHANNEL_FORMATS:
            raise InputDataError(f"channel format '{self.channel_format}' is not one of "
                                 f"{', '.join(CHANNEL_FORMATS)}")
        n, h, w, c = self.image_size(shape)
        if min(n, h, w) <= 0:
            raise InputDataError(f"image input shape {list(shape)} has a dynamic or empty "
                                 f"dimension")
        if c != self.channels:
            raise InputDataError(
                f"pixel format '{self.pixel_format}' gives {self.channels} channel(s) but the "
                f"input ({self.channel_format}, shape {list(shape)}) has {c}")
        for what, values in (("mean", self.mean), ("scale", self.scale)):
            if len(values) not in (1, c):
                raise InputDataError(f"{what} has {len(values)} values; give 1 or {c} (one per "
                                     f"channel)")
        if self.resize_dims is not None:
            rh, rw = self.resize_dims
            if rh < h or rw < w:
                raise InputDataError(f"resize_dims {rh},{rw} is smaller than the input's "
                                     f"height, width {h},{w} (it may be equal or larger: the "
                                     f"image is then centre-cropped)")

    def to_attributes(self, shape: tuple[int, ...]) -> dict[str, object]:
        """The argument attributes recording these settings, complete and explicit (mean and
        scale per channel, resize_dims defaulting to the input's H, W)."""
        self.check(shape)
        _, h, w, c = self.image_size(shape)
        per_channel = [tuple(float(v) for v in (x * c if len(x) == 1 else x))
                       for x in (self.mean, self.scale)]
        values = {"mean": per_channel[0], "scale": per_channel[1],
                  "pixel_format": self.pixel_format, "channel_format": self.channel_format,
                  "resize_dims": tuple(self.resize_dims or (h, w)),
                  "keep_aspect_ratio": bool(self.keep_aspect_ratio),
                  "pad_value": float(self.pad_value)}
        return {ATTR_PREFIX + k: v for k, v in values.items()}

    @classmethod
    def from_attributes(cls, attrs: Mapping[str, object]) -> Preprocess | None:
        """The settings recorded on an argument, or None if it records none."""
        found = {k: attrs[ATTR_PREFIX + k] for k in _ATTRS if ATTR_PREFIX + k in attrs}
        if not found:
            return None
        try:
            kw: dict[str, object] = {}
            for key in ("mean", "scale"):
                if key in found:
                    kw[key] = tuple(float(v) for v in _as_tuple(found[key]))
            for key in ("pixel_format", "channel_format"):
                if key in found:
                    if not isinstance(found[key], str):
                        raise TypeError(f"{key} must be a string")
                    kw[key] = found[key]
            if "resize_dims" in found:
                dims = tuple(int(v) for v in _as_tuple(found["resize_dims"]))
                if len(dims) != 2:
                    raise ValueError("resize_dims must have 2 values")
                kw["resize_dims"] = dims
            if "keep_aspect_ratio" in found:
                kw["keep_aspect_ratio"] = bool(found["keep_aspect_ratio"])
            if "pad_value" in found:
                kw["pad_value"] = float(found["pad_value"])
        except (TypeError, ValueError) as e:
            raise InputDataError(f"bad preprocessing attribute on the input: {e}") from None
        return cls(**kw)


def _as_tuple(value: object) -> tuple:
    if isinstance(value, (tuple, list)):
        return tuple(value)
    if isinstance(value, np.ndarray):
        return tuple(value.ravel().tolist())
    if hasattr(value, "array"):  # a DenseAttr
        return tuple(np.asarray(value.array).ravel().tolist())
    return (value,)


def is_image_file(path: str | Path) -> bool:
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def input_file_kind(path: str | Path) -> str:
    """`npz`, `npy` or `image`, by suffix; InputDataError if the file is missing or of
    another kind."""
    path = Path(path)
    suffix = path.suffix.lower()
    if not path.is_file():
        raise InputDataError(f"{path}: no such file")
    if suffix in (".npz", ".npy"):
        return suffix[1:]
    if suffix in IMAGE_SUFFIXES:
        return "image"
    raise InputDataError(f"{path}: unknown input file type '{suffix}' (give an .npz, an .npy "
                         f"or an image: {', '.join(sorted(IMAGE_SUFFIXES))})")


def load_image(path: str | Path, pixel_format: str) -> np.ndarray:
    """Decode an image file as an H x W x C uint8 array in `pixel_format`."""
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    try:
        with Image.open(path) as img:
            img.load()
            mode = "L" if pixel_format == "gray" else "RGB"
            array = np.asarray(img.convert(mode), dtype=np.uint8)
    except FileNotFoundError:
        raise InputDataError(f"{path}: no such file") from None
    except (UnidentifiedImageError, OSError, ValueError) as e:
        raise InputDataError(f"{path}: cannot decode the image ({e})") from None
    if array.ndim == 2:
        array = array[:, :, None]
    if pixel_format == "bgr":
        array = array[:, :, ::-1]
    return np.ascontiguousarray(array)


def _resize(pixels: np.ndarray, height: int, width: int) -> np.ndarray:
    """Bilinear resize of an H x W x C uint8 array to float32 height x width x C."""
    from PIL import Image

    if pixels.shape[:2] == (height, width):
        return pixels.astype(np.float32)
    planes = [np.asarray(Image.fromarray(np.ascontiguousarray(pixels[:, :, k])).resize(
        (width, height), Image.Resampling.BILINEAR), dtype=np.float32)
        for k in range(pixels.shape[2])]
    return np.stack(planes, axis=2)


def preprocess_image(path: str | Path, pre: Preprocess, shape: tuple[int, ...],
                     dtype: np.dtype | str = np.float32) -> np.ndarray:
    """The tensor of `shape` (and `dtype`) that image file `path` gives under `pre`."""
    pre.check(tuple(shape))
    n, h, w, c = pre.image_size(tuple(shape))
    pixels = load_image(path, pre.pixel_format)
    rh, rw = pre.resize_dims or (h, w)
    if pre.keep_aspect_ratio:
        ih, iw = pixels.shape[:2]
        factor = min(rh / ih, rw / iw)
        nh = min(rh, max(1, round(ih * factor)))
        nw = min(rw, max(1, round(iw * factor)))
        canvas = np.full((rh, rw, c), pre.pad_value, np.float32)
        top, left = (rh - nh) // 2, (rw - nw) // 2
        canvas[top:top + nh, left:left + nw] = _resize(pixels, nh, nw)
        image = canvas
    else:
        image = _resize(pixels, rh, rw)
    top, left = (rh - h) // 2, (rw - w) // 2
    image = image[top:top + h, left:left + w]
    mean = np.asarray(pre.mean, np.float32)
    scale = np.asarray(pre.scale, np.float32)
    image = (image - mean) * scale
    if pre.channel_format == "nchw":
        image = image.transpose(2, 0, 1)
    batch = np.repeat(image[None], n, axis=0)
    return _cast(np.ascontiguousarray(batch, dtype=np.float32), np.dtype(dtype))


def _cast(array: np.ndarray, dtype: np.dtype) -> np.ndarray:
    if dtype.kind == "f":
        return array.astype(dtype)
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return np.clip(np.rint(array), info.min, info.max).astype(dtype)
    raise InputDataError(f"an image cannot feed an input of type {dtype}")


@dataclass(frozen=True)
class InputSpec:
    """One model input: its name, shape (-1 for a dynamic dimension), element type, and the
    preprocessing recorded for it (None if it takes no images)."""

    name: str
    shape: tuple[int, ...]
    dtype: np.dtype
    preprocess: Preprocess | None = None


def input_specs(func) -> list[InputSpec]:
    """The inputs of an IR function (`kiln.compiler.ir.Function`)."""
    from ..compiler.interpreter import expected_dtype, input_names
    from ..compiler.types import TensorType

    specs = []
    for name, arg, attrs in zip(input_names(func), func.arguments, func.arg_attributes):
        t = arg.type
        if not isinstance(t, TensorType):
            continue
        specs.append(InputSpec(name, tuple(t.shape), expected_dtype(t),
                               Preprocess.from_attributes(attrs)))
    return specs


def _fit(spec: InputSpec, array: np.ndarray, source: str) -> np.ndarray:
    """Check an array against an input; floats and integers are converted within their kind."""
    array = np.asarray(array)
    shape_ok = len(array.shape) == len(spec.shape) and all(
        d < 0 or d == s for d, s in zip(spec.shape, array.shape))
    if not shape_ok:
        raise InputDataError(f"{source}: input '{spec.name}' has shape {list(array.shape)}, "
                             f"the model expects {list(spec.shape)}")
    if array.dtype != spec.dtype:
        same_kind = (array.dtype.kind == spec.dtype.kind == "f"
                     or (array.dtype.kind in "iub" and spec.dtype.kind in "iub"))
        if not same_kind:
            raise InputDataError(f"{source}: input '{spec.name}' is {array.dtype}, the model "
                                 f"expects {spec.dtype}")
        array = array.astype(spec.dtype)
    return array


def _load_array_file(path: Path) -> dict[str, np.ndarray] | np.ndarray:
    try:
        with open(path, "rb") as f:
            if path.suffix.lower() == ".npy":
                return np.load(f, allow_pickle=False)
            with np.load(f, allow_pickle=False) as data:
                return {k: data[k] for k in data.files}
    except FileNotFoundError:
        raise InputDataError(f"{path}: no such file") from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise InputDataError(f"{path}: not a readable {path.suffix} file ({e})") from None


def load_inputs(path: str | Path, specs: list[InputSpec]) -> dict[str, np.ndarray]:
    """The model's inputs from a file, keyed by input name, in the model's input order.

    - `.npz`: one array per input, by name (other arrays are ignored, so a whole tensor dump
      can be fed); a single array feeds a single-input model whatever its name.
    - `.npy`: the one input of a single-input model.
    - an image: the one input that has preprocessing recorded.
    """
    path = Path(path)
    source = str(path)
    kind = input_file_kind(path)
    if not specs:
        raise InputDataError("the model has no tensor inputs to feed")
    if kind != "image":
        loaded = _load_array_file(path)
        if isinstance(loaded, np.ndarray):
            if len(specs) != 1:
                raise InputDataError(f"{source}: a .npy file feeds one input, the model has "
                                     f"{len(specs)} ({', '.join(s.name for s in specs)}); "
                                     f"use an .npz keyed by input name")
            return {specs[0].name: _fit(specs[0], loaded, source)}
        if len(specs) == 1 and len(loaded) == 1 and specs[0].name not in loaded:
            return {specs[0].name: _fit(specs[0], next(iter(loaded.values())), source)}
        missing = [s.name for s in specs if s.name not in loaded]
        if missing:
            raise InputDataError(f"{source}: no array for input(s) {', '.join(missing)} (it has "
                                 f"{', '.join(sorted(loaded)) or 'no arrays'})")
        return {s.name: _fit(s, loaded[s.name], source) for s in specs}
    image_inputs = [s for s in specs if s.preprocess is not None]
    if len(specs) != 1 or len(image_inputs) != 1:
        if not image_inputs:
            raise InputDataError(
                f"{source}: an image input needs the preprocessing recorded on the model input "
                f"(model_transform --mean/--scale/--pixel_format/...); none is recorded")
        raise InputDataError(f"{source}: one image can feed a single-input model only; this "
                             f"one has {len(specs)} inputs: use an .npz keyed by input name")
    spec = image_inputs[0]
    try:
        return {spec.name: preprocess_image(path, spec.preprocess, spec.shape, spec.dtype)}
    except InputDataError as e:
        raise InputDataError(f"input '{spec.name}': {e}") from None
