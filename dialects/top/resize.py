"""top ops: resize (being written)."""

__all__: list[str] = []
