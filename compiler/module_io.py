"""Reading and writing a module file together with the weights file it names.

A module's `kiln.weights` attribute is a path relative to the module file. Reading attaches
a lazily loaded WeightStore; writing elsewhere rewrites that path so it still points at the
same file, and writes a new weights file only when passes added or changed weights.
"""

from __future__ import annotations

import os
from pathlib import Path

from .attributes import SymbolRef
from .fileio import atomic_write_text
from .ir import Module
from .text.parser import parse_file, parse_module
from .text.printer import print_module
from .weights import WeightStore

WEIGHTS_ATTR = "kiln.weights"


def attach_weights(module: Module, base_dir: Path) -> None:
    ref = module.attributes.get(WEIGHTS_ATTR)
    if isinstance(ref, str):
        module.weights = WeightStore(base_dir / ref)


def _register_dialects() -> None:
    """The ops must be known before parsing, or they read as generic ops and fail with a
    puzzling message; every reader registers them (a no-op after the first import)."""
    from .. import dialects  # noqa: F401


def read_module(path: str | Path) -> Module:
    _register_dialects()
    module = parse_file(path)
    attach_weights(module, Path(path).parent)
    return module


def read_module_text(text: str, source: str, base_dir: Path) -> Module:
    _register_dialects()
    module = parse_module(text, source=source)
    attach_weights(module, base_dir)
    return module


def _symbols(value: object, out: set[str]) -> None:
    if isinstance(value, SymbolRef):
        out.add(value.name)
    elif isinstance(value, tuple):
        for item in value:
            _symbols(item, out)


def referenced_weights(module: Module) -> set[str]:
    """The weights some op attribute names by symbol: `top.weight @w`, and an op's
    `kiln.rounded_weight @w` (calibration's integer choice beside the float weight)."""
    if module.weights is None:
        return set()
    names: set[str] = set()
    for op in module.walk():
        for value in op.attributes.values():
            _symbols(value, names)
    return {n for n in names if n in module.weights}


def relocate_weights(module: Module, out_path: Path) -> None:
    """Point `kiln.weights` at the weights, relative to where the module will be written;
    when passes changed the weights, write them beside it as `<stem>_weights.npz`."""
    store = module.weights
    if store is None:
        return
    out_dir = out_path.parent
    if store.dirty or store.path is None:
        target = out_dir / f"{out_path.stem}_weights.npz"
        used = referenced_weights(module)
        store.save(target, used)
        store.path, store.dirty = target, False
    module.attributes[WEIGHTS_ATTR] = os.path.relpath(store.path, out_dir)


def write_module(module: Module, path: str | Path, generic: bool = False) -> None:
    path = Path(path)
    relocate_weights(module, path)
    atomic_write_text(path, print_module(module, generic=generic))
