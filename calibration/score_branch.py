"""Score branches: the layers that only compute a detector's class scores.

A detector's class scores are a sigmoid over logits that sit far below zero almost
everywhere (background) and rise near zero only at the rare anchors that hold an object.
The activations of the branch that computes those logits are the same: a bulk of ordinary
values and a few peaks, and the peaks are the detections. A percentile threshold, right for
the bulk of a feature map, clips exactly those peaks: on YOLOv8n-320 every class score of an
object dropped (mean logit error -0.40 at the anchors that can become detections, F1 against
float 0.72 at confidence 0.25 on 150 photo crops), and keeping the branch's maxima instead
gave -0.25 and 0.82 (the rest of the network unchanged).

`score_branch_layers(func, weights)` finds them from the graph alone:
1. a *score* is a `top.sigmoid` (a detector's class scores) or `top.softmax` (a classifier's
   probabilities, whose logits kl would clip the same way) whose result reaches only the
   function's outputs, through data movement at most (reshape, transpose, slice, concat...);
2. the ops that feed only scores: each op's result is followed forward through data
   movement, element by element where it matters (YOLO concatenates box and class logits,
   then slices the class rows back out), by running the movement ops' own kernels on
   arrays of producer numbers; an op whose numbers reach no consumer but score sigmoids
   feeds only scores;
3. from those, upwards along single-input chains (conv -> SiLU -> conv ...), an op belongs
   to the branch while every reader of its result does; the walk stops at the op where the
   branch leaves a shared feature map (the neck output that also feeds the box branch), and
   at ops with several activation inputs (an add or concat is included, not crossed).
A chain network whose whole body ends in one sigmoid would have a long branch; step 3 stops
at the first op with several activation inputs, so only its head is affected.
"""

from __future__ import annotations

import numpy as np

from ..compiler.interpreter import EvalContext
from ..compiler.ir import Function, Operation, Value
from ..compiler.types import TensorType
from .exclusion import CONSTANT_OPS

# ops that only move or select values, each output element one input element: followed
# element by element (pad adds values of its own; gather picks by data, left out too)
MOVEMENT_OPS = frozenset({"top.reshape", "top.transpose", "top.slice", "top.concat",
                          "top.tile", "top.expand", "top.depth_to_space",
                          "top.space_to_depth"})
RETURN = "func.return"
SCORE_OPS = frozenset({"top.sigmoid", "top.softmax"})


def _is_activation(value: Value) -> bool:
    owner = value.owner
    return isinstance(value.type, TensorType) and value.type.expressed.is_float and (
        owner is None or owner.name not in CONSTANT_OPS)


def _readers(func: Function) -> dict[int, set[int]]:
    """id(op) of each non-movement op (and the return) -> id(op) of every non-movement op
    (or the return) that reads any element it produced, following movement ops element by
    element with their own kernels applied to arrays of producer numbers."""
    ops = list(func.body)
    number = {id(op): i for i, op in enumerate(ops)}
    ctx = EvalContext()
    moved: dict[int, np.ndarray] = {}   # id(value) of a movement result -> producer numbers

    def numbers(value: Value) -> np.ndarray | None:
        if id(value) in moved:
            return moved[id(value)]
        owner = value.owner
        t = value.type
        if owner is None or not isinstance(t, TensorType) or not t.is_static:
            return None
        return np.broadcast_to(np.float64(number[id(owner)]), t.shape)

    readers: dict[int, set[int]] = {id(op): set() for op in ops}
    for op in ops:
        if op.name in CONSTANT_OPS:
            continue
        if op.name in MOVEMENT_OPS and len(op.results) == 1:
            args = [numbers(v) for v in op.operands]
            if all(a is not None for a in args):
                moved[id(op.result)] = np.asarray(op.evaluate(ctx, args)[0])
                continue
        for value in op.operands:
            a = numbers(value)
            sources = [value.owner] if a is None else [ops[int(i)] for i in np.unique(a)]
            for src in sources:
                if src is not None and src.name not in MOVEMENT_OPS:
                    readers[id(src)].add(id(op))
    return readers


def score_branch_layers(func: Function) -> list[str]:
    """The locs of the tensors made by score branches (see the module docstring), in program
    order: the branch ops' results, and the movement results built only from them."""
    ops = list(func.body)
    by_id = {id(op): op for op in ops}
    readers = _readers(func)
    returns = {id(op) for op in ops if op.name == RETURN}
    scores = {id(op) for op in ops if op.name in SCORE_OPS and readers[id(op)]
              and readers[id(op)] <= returns}
    if not scores:
        return []
    branch = {id(op) for op in ops if op.name not in MOVEMENT_OPS | CONSTANT_OPS
              and id(op) not in scores and readers[id(op)] and readers[id(op)] <= scores}
    frontier = [by_id[i] for i in branch]
    while frontier:
        op = frontier.pop()
        inputs = [v for v in op.operands if _is_activation(v)]
        if len(inputs) != 1 or inputs[0].owner is None:
            continue
        producer = inputs[0].owner
        if id(producer) in branch or producer.name in MOVEMENT_OPS:
            continue
        if readers[id(producer)] and readers[id(producer)] <= branch:
            branch.add(id(producer))
            frontier.append(producer)
    return _branch_tensors(ops, branch)


def _branch_tensors(ops: list[Operation], branch: set[int]) -> list[str]:
    """The branch ops' locs, and those of movement ops all of whose inputs are branch
    tensors (their ranges are the branch's)."""
    inside = set(branch)
    out = []
    for op in ops:
        if op.name in MOVEMENT_OPS:
            sources = [v.owner for v in op.operands if _is_activation(v)]
            if sources and all(s is not None and id(s) in inside for s in sources):
                inside.add(id(op))
        if id(op) in inside and op.loc:
            out.append(op.loc)
    return out
