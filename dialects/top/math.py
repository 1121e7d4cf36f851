"""top ops: math (being written)."""

__all__: list[str] = []
