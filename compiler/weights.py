"""The weights a module refers to by name (`top.weight @"name"`), kept in an npz file.

The file is read on first use. Passes that make new weights (folding, fusion) add them in
memory; writing the module writes a new npz beside it. The user's file is never modified.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .fileio import InputFileError, load_npz, save_npz
from .types import TensorType


class WeightStore:
    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else None
        self._arrays: dict[str, np.ndarray] | None = None if path is not None else {}
        self.dirty = False  # weights were added or replaced since the file was read

    @property
    def loaded(self) -> bool:
        return self._arrays is not None

    def _load(self) -> dict[str, np.ndarray]:
        if self._arrays is None:
            self._arrays = load_npz(self.path)
        return self._arrays

    def __contains__(self, name: str) -> bool:
        return name in self._load()

    def names(self) -> list[str]:
        return sorted(self._load())

    def get(self, name: str) -> np.ndarray:
        arrays = self._load()
        if name not in arrays:
            raise InputFileError(f"{self.path or 'weights'}: no weight named '{name}'")
        return arrays[name]

    def add(self, name: str, array: np.ndarray) -> None:
        self._load()[name] = np.asarray(array)
        self.dirty = True

    def unique_name(self, base: str) -> str:
        arrays, name, k = self._load(), base, 1
        while name in arrays:
            name = f"{base}_{k}"
            k += 1
        return name

    def check(self, name: str, type: TensorType, op) -> None:
        """Raise the verifier's error if weight `name` is missing or does not match `type`."""
        from .opdef import op_error

        arrays = self._load()
        if name not in arrays:
            raise op_error(op, f"weight '{name}' is not in {self.path or 'the weights'}")
        array = arrays[name]
        if tuple(array.shape) != type.shape:
            raise op_error(op, f"weight '{name}' has shape {tuple(array.shape)} in "
                               f"{self.path or 'the weights'}, but the op says {type.shape}")
        if array.dtype != type.scalar.numpy_dtype:
            raise op_error(op, f"weight '{name}' is {array.dtype}, but the op says "
                               f"{type.scalar.name}")

    def save(self, path: str | Path, used: set[str] | None = None) -> None:
        """Write the weights (only the `used` names, if given) to `path`."""
        arrays = self._load()
        save_npz(path, {k: v for k, v in arrays.items() if used is None or k in used})

    def __repr__(self) -> str:
        return f"WeightStore({self.path})"


__all__ = ["InputFileError", "WeightStore"]
