"""Frontends: turn models of other formats into kiln's top dialect."""
