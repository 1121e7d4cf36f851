"""top ops: tensor (being written)."""

__all__: list[str] = []
