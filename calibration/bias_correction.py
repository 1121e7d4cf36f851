"""Empirical bias correction (`run_calibration --bc`).

Quantizing a layer's weights shifts the mean of its output per channel (the error of the
rounded weights times the mean input does not average out). Over a few samples, compare each
conv's output channel means in the float run with those in the quantization simulation
(taken before the layer's own output is quantized) and add the difference to the conv's
bias. Layers whose drift is negligible (below `min_relative` of the output's scale) are left
alone. The corrected biases are new weights (the user's files are never touched).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

from ..compiler.attributes import SymbolRef
from ..compiler.interpreter import run_function
from ..compiler.ir import Module, Operation
from ..compiler.types import TensorType, scalar_type_of
from .simulate import QuantSimulator


def _channel_mean(array: np.ndarray) -> np.ndarray:
    axes = tuple(i for i in range(array.ndim) if i != 1)
    return array.astype(np.float64).mean(axis=axes)


def correct_biases(module: Module, thresholds: Mapping[str, float],
                   samples: Iterable[Mapping[str, np.ndarray]], *, bits: int = 8,
                   min_relative: float = 1e-3) -> list[str]:
    """Adjust conv biases in place; returns the locs of the corrected convs."""
    convs = {op.loc: op for op in module.walk() if op.name == "top.conv" and op.loc}
    float_sum: dict[str, np.ndarray] = {}
    quant_sum: dict[str, np.ndarray] = {}
    scale: dict[str, float] = {}
    n = 0

    def float_tap(loc: str, array: np.ndarray) -> None:
        if loc in convs:
            float_sum[loc] = float_sum.get(loc, 0) + _channel_mean(array)
            scale[loc] = max(scale.get(loc, 0.0), float(np.abs(array).max()))

    def quant_tap(op: Operation, array: np.ndarray) -> None:
        if op.loc in convs and op.name == "top.conv":
            quant_sum[op.loc] = quant_sum.get(op.loc, 0) + _channel_mean(array)

    sim = QuantSimulator(module, thresholds, bits=bits)
    sim.observe = quant_tap
    for sample in samples:
        run_function(module.main, sample, weights=module.weights, on_tensor=float_tap)
        sim.run(sample)
        n += 1
    corrected = []
    for loc, conv in convs.items():
        if loc not in float_sum or loc not in quant_sum or conv.attributes.get("do_relu"):
            continue  # after a fused relu the mean shift is not a bias shift
        delta = (float_sum[loc] - quant_sum[loc]) / n
        if np.abs(delta).max() <= min_relative * max(scale.get(loc, 0.0), 1e-12):
            continue
        _add_to_bias(module, conv, delta)
        corrected.append(loc)
    return corrected


def _add_to_bias(module: Module, conv: Operation, delta: np.ndarray) -> None:
    out_channels = conv.results[0].type.shape[1]
    old = np.zeros(out_channels, np.float32)
    if conv.bias is not None:
        src = conv.bias.owner
        if src.name == "top.weight":
            old = module.weights.get(src.attributes["ref"].name)
        elif src.name == "top.constant":
            old = src.attributes["value"].array
    new = (old.astype(np.float64) + delta).astype(np.float32)
    name = module.weights.unique_name(f"{conv.loc}_bc_bias")
    module.weights.add(name, new)
    t = TensorType(new.shape, scalar_type_of(new.dtype))
    w = Operation.create("top.weight", [], [t], {"ref": SymbolRef(name)}, name)
    conv.parent.insert_before(conv, w)
    operands = list(conv.operands)
    if len(operands) >= 3:
        conv.set_operand(2, w.result)
    else:
        conv.set_operands([*operands, w.result])
