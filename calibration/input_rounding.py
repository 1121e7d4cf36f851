"""The mean rounding error of each integer layer's input (`run_calibration --input_rounding
correct`, the default), for the lowering to take out of the layer's bias.

Rounding an activation to its int8 grid is unbiased only when the values spread evenly over
each step. A SiLU or hard-swish output on a symmetric grid is not: its bulk sits within a few
steps of zero (its negative half holds only [-0.28, 0] on a grid that reaches -t), so each
channel's rounding errors have a mean of up to a fifth of a step, and a conv sums those means
over all its taps and input channels into a shift of every output. On YOLOv8n (int8-sym) the
stem's second SiLU output has a mean error of 0.14 to 0.18 steps in most channels.

For each conv, matmul and gemm that the table's lowering computes as an integer op reading an
8-bit input, this measures E[q(x) - x] per input channel over calibration samples (x the
layer's input in the float model clipped to what the type holds, q the rounding to exactly
the type the lowered layer reads: rounding only, the clipping is the threshold's choice)
and records it on the op: `kiln.input_rounding = [@weight, ...]` (the per-channel means)
and `kiln.input_rounding_type = [tensor<Cx!quant.uniform<...>>, ...]` (the input type each
was measured for: run_calibration measures the target's scheme and, on a symmetric target,
model_deploy --asymmetric's). lower-to-npu subtracts W e from the layer's bias for the type
the layer reads, and ignores the rest (another table, a 16-bit or float layer), so the IR
still computes the float model. Inputs with fewer than MIN_VALUES_PER_CHANNEL values per channel
over the samples (an SE block's 1x1 maps, a classifier's pooled vector) are left alone: their
measured mean would be mostly sampling noise; so are channels whose mean error is below
MIN_MEAN_STEPS of a step. A padded conv's taps read an exact zero at the borders: the
lowering weighs each tap by the fraction of output positions at which it reads the input
(lower_to_npu.tap_fractions), the best single bias for the whole map.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from ..compiler.attributes import SymbolRef
from ..compiler.interpreter import run_function, tensor_name
from ..compiler.ir import Module, Operation
from ..compiler.types import TensorType, UniformType
from ..passes.lower_to_npu import INPUT_ROUNDING_ATTR, INPUT_ROUNDING_TYPE_ATTR
from .simulate import fake_quant_type

LAYERS = {"top.conv": "npu.conv2d", "top.matmul": "npu.matmul", "top.gemm": "npu.matmul"}
MIN_VALUES_PER_CHANNEL = 256
# a channel whose mean error is below this many steps keeps its bias: measured on the float
# model, a small mean is within what the device's own (noisier) inputs change it by (on the
# direction classifier the means measured in an int8 simulation hardly correlate with the
# float ones). Scratch runs, clipping error still counted then: every channel corrected
# (0.0) took PP-OCR cls from 0.99750 to 0.99644 on 3000 lines, 0.05 to 0.99711, 0.1 to
# 0.99748; YOLOv8n F1 0.935 / 0.929, 0.926 / 0.928, 0.927 / 0.930 (0.903 / 0.894 without)
MIN_MEAN_STEPS = 0.1


def _channel_axis(op: Operation) -> int:
    return 1 if op.name == "top.conv" else -1


def representable(t: UniformType) -> tuple[float, float]:
    """The interval of values the type holds: what lies beyond is clipped, a choice of the
    threshold that a bias must not undo (and with a clipping method such as kl, the part of
    the error that depends most on the samples)."""
    qmin, qmax = t.storage.int_range
    zp = t.zp or 0
    return (qmin - zp) * t.scale, (qmax - zp) * t.scale


def read_types(lowered: Module) -> dict[str, UniformType]:
    """loc -> the 8-bit input type of each lowered conv / matmul."""
    out: dict[str, UniformType] = {}
    for op in lowered.walk():
        if op.name in ("npu.conv2d", "npu.matmul") and op.loc and op.operands:
            el = op.operands[0].type.element
            if isinstance(el, UniformType) and el.storage.bits == 8:
                out[op.loc] = el
    return out


def measure_input_rounding(module: Module, lowered: Module | Sequence[Module],
                           samples: Iterable[Mapping[str, np.ndarray]]) -> list[str]:
    """Annotate the integer layers of `module` (as each of the `lowered` modules computes
    them: the target's scheme, and --asymmetric's) with their inputs' mean rounding error
    for each input type; returns the locs annotated."""
    variants = [lowered] if isinstance(lowered, Module) else list(lowered)
    per_variant = [read_types(low) for low in variants]
    func = module.main
    layers: dict[str, list[tuple[Operation, list[UniformType]]]] = {}
    for op in module.walk():
        if op.name not in LAYERS or not op.operands:
            continue
        types = list(dict.fromkeys(t[op.loc] for t in per_variant if op.loc in t))
        name = tensor_name(op.operands[0], func)
        if types and name is not None:
            layers.setdefault(name, []).append((op, types))
    # one sum per (tensor, channel axis, type): layers reading the same input in the same
    # type (a detector head's box and class branches) share it
    wanted = {name: {(_channel_axis(op), t) for op, types in ops for t in types}
              for name, ops in layers.items()}
    sums: dict[tuple[str, int, UniformType], np.ndarray] = {}
    counts: dict[tuple[str, int], int] = {}

    def tap(name: str, array: np.ndarray) -> None:
        if name not in wanted:
            return
        x = np.asarray(array, np.float64)
        for axis, t in wanted[name]:
            a = axis % x.ndim
            err = fake_quant_type(x, t) - np.clip(x, *representable(t))
            err = np.moveaxis(err, a, 0).reshape(x.shape[a], -1)
            sums[name, axis, t] = sums.get((name, axis, t), 0.0) + err.sum(axis=1)
        for axis in {axis for axis, _ in wanted[name]}:
            counts[name, axis] = counts.get((name, axis), 0) + x.size // x.shape[axis % x.ndim]

    for sample in samples:
        run_function(func, sample, weights=module.weights, on_tensor=tap)
    done = []
    for input_name, ops in layers.items():
        for op, types in ops:
            axis = _channel_axis(op)
            n = counts.get((input_name, axis), 0)
            if n < MIN_VALUES_PER_CHANNEL:
                continue
            refs, kinds = [], []
            for t in types:
                mean = sums[input_name, axis, t] / n
                mean = np.where(np.abs(mean) >= MIN_MEAN_STEPS * t.scale, mean, 0.0)
                if not mean.any():
                    continue
                name = module.weights.unique_name(f"{op.loc}_input_rounding")
                module.weights.add(name, mean.astype(np.float32))
                refs.append(SymbolRef(name))
                kinds.append(TensorType(mean.shape, t))
            if refs:
                op.attributes[INPUT_ROUNDING_ATTR] = tuple(refs)
                op.attributes[INPUT_ROUNDING_TYPE_ATTR] = tuple(kinds)
                done.append(op.loc)
    return done
