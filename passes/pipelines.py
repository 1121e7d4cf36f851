"""Named pipelines: the pass lists the tools run, kept in one place so that any prefix of a
tool's pipeline can be replayed by hand with `kiln-opt -p`."""

from __future__ import annotations

PIPELINES: dict[str, str] = {
    # The cleanup every tool runs after building or changing IR.
    "cleanup": "canonicalize",
    # model_transform: the float model as the device will see it, before quantization.
    "transform": "fold-constants,fuse-ops,canonicalize",
}


def expand_named(text: str) -> str:
    """Replace each name of a named pipeline in `text` by its passes (not recursively)."""
    from ..compiler.pass_manager import _split_top

    parts = [p.strip() for p in _split_top(text, ",")]
    return ",".join(PIPELINES.get(p, p) for p in parts)
