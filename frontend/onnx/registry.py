"""The importer's table: ONNX op type -> builder function.

A builder takes the import context, the node, its inputs (TensorRef, or None for an omitted
optional input) positionally, and the node's attributes as keyword arguments whose defaults
are the ONNX defaults, so the signature is the attribute schema:

    @onnx_op("LeakyRelu")
    def leaky_relu(ctx, node, x, *, alpha=0.01):
        return ctx.emit(top.LeakyReluOp, [x], alpha=float(alpha))

It returns one TensorRef per node output (a single one may be returned bare).
"""

from __future__ import annotations

from collections.abc import Callable

Builder = Callable[..., object]

IMPORTERS: dict[str, Builder] = {}


def onnx_op(*op_types: str) -> Callable[[Builder], Builder]:
    def register(fn: Builder) -> Builder:
        for op_type in op_types:
            if op_type in IMPORTERS:
                raise ValueError(f"ONNX op {op_type} has two importers")
            IMPORTERS[op_type] = fn
        return fn
    return register


def load_builders() -> dict[str, Builder]:
    """Import every ops_*.py module of this package (each registers its builders)."""
    import importlib
    import pkgutil

    from . import __path__ as pkg_path

    for info in pkgutil.iter_modules(pkg_path):
        if info.name.startswith("ops_"):
            importlib.import_module(f"{__package__}.{info.name}")
    return IMPORTERS
