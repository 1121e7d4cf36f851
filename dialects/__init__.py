"""The dialects. Importing this package registers every op, so the parser builds op classes
(and the verifier runs their checks) instead of generic operations."""

from . import func, npu, top  # noqa: F401  (imported for their registrations)
