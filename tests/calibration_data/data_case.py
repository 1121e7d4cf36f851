"""Helpers for the calibration-data tests: model entry functions with given inputs, and
writers for every kind of sample file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from kiln.compiler.ir import Function
from kiln.compiler.types import TensorType, scalar_type_of
from kiln.data.preprocess import Preprocess
from PIL import Image


def entry(*inputs: tuple[str, tuple[int, ...], str], images: dict[str, Preprocess] | None = None
          ) -> Function:
    """A function with arguments (name, shape, numpy dtype name); `images` records
    preprocessing on some of them. Names that are not SSA names go to `kiln.name`."""
    types, names, attrs = [], [], []
    for name, shape, dtype in inputs:
        types.append(TensorType(shape, scalar_type_of(np.dtype(dtype))))
        ssa = "".join(ch if ch.isalnum() or ch == "_" else "_" for ch in name)
        names.append(ssa)
        a: dict[str, object] = {} if ssa == name else {"kiln.name": name}
        if images and name in images:
            a.update(images[name].to_attributes(shape))
        attrs.append(a)
    return Function("main", types, [], names, arg_attributes=attrs)


def png(path: Path, seed: int = 0, size: tuple[int, int] = (10, 12)) -> Path:
    pixels = np.random.default_rng(seed).integers(0, 256, (*size, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)
    return path


def npy(path: Path, array) -> Path:
    np.save(path, np.asarray(array))
    return path


def bin_file(path: Path, array, dtype="<f4") -> Path:
    path.write_bytes(np.asarray(array).astype(dtype).tobytes())
    return path


def npz(path: Path, **arrays) -> Path:
    np.savez(path, **arrays)
    return path
