"""Code generation: device model files written from a lowered module (the `.kmodel`)."""

from .binary import KModelError
from .kmodel import read_kmodel, write_kmodel

__all__ = ["KModelError", "read_kmodel", "write_kmodel"]
