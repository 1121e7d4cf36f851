"""top ops: normalization (being written)."""

__all__: list[str] = []
