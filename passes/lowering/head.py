"""The detector-head rule: values of very different ranges meeting in a Concat.

YOLO exports concatenate box coordinates (hundreds of pixels) with class scores (0 to 1):
one 8-bit scale for both leaves the scores a handful of codes, and the detections are gone
while the output cosine still looks fine. So when the ranges of a Concat's inputs differ by
more than HEAD_RATIO, the lowering does not give them one narrow scale:
- a Concat that only feeds float consumers (the model's outputs, which are dequantized, or
  float layers) is done in float: each input is dequantized with its own scale first, which
  costs nothing the output did not already cost;
- otherwise it is done at the narrowest wider width the target allows that keeps the small
  input's resolution (bits + log2(ratio)), else in float.
Each decision is written on the op (`kiln.note`) and reported by the tools.
"""

from __future__ import annotations

import math

from ...compiler.ir import Operation

HEAD_RATIO = 16.0


def _magnitude(lo: float, hi: float) -> float:
    return max(abs(lo), abs(hi))


def _float_consumers(L, op: Operation) -> bool:
    from .scheme import mode_bits

    users = op.result.users
    return bool(users) and all(
        u.name == "func.return" or not mode_bits(L.mode(u)) for u in users)


def _to_float(L, op: Operation, text: str) -> None:
    from ..apply_qtable import MODE_ATTR

    op.attributes[MODE_ATTR] = "F32"
    L.note(op, text)


def concat_rule(L, op: Operation) -> int | None:
    """The bit width to concatenate at, or None to leave the Concat in float."""
    bits = L.bits(op)
    sizes = [_magnitude(*L.ranges[id(v)]) for v in op.operands]
    sizes = [t for t in sizes if t > 0]
    if len(sizes) < 2 or max(sizes) <= HEAD_RATIO * min(sizes):
        return bits
    ratio = max(sizes) / min(sizes)
    if _float_consumers(L, op):
        _to_float(L, op, f"input ranges differ {ratio:.0f}x and only float layers read "
                         "it: concatenated in float, each input at its own scale")
        return None
    needed = bits + math.ceil(math.log2(ratio))
    wider = sorted(b for b in L.scheme.act_bits if b >= needed)
    if wider:
        L.note(op, f"input ranges differ {ratio:.0f}x: concatenated at {wider[0]} bits")
        return wider[0]
    _to_float(L, op, f"input ranges differ {ratio:.0f}x, no integer width of the target "
                     "keeps both: concatenated in float")
    return None
