"""Passes: one per file, named like the pass; see registry.py for the list."""
