"""top ops: reduce (being written)."""

__all__: list[str] = []
