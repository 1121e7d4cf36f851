"""Quantization simulation in float: run a top-dialect module as an int8 device would compute
it, to judge a calibration table before any lowering exists.

Weights of conv, conv_transpose, matmul and gemm are quantized per output channel
(symmetric, `weight_bits`); every activation that has a threshold in the table is quantized
to it (symmetric, `bits`) as soon as it is produced, so the next op reads the quantized
value. Biases and ops without a threshold stay float. The rounding is the one of
`dialects.quant`.

With `activation_types` (loc -> the `!quant.uniform` type model_deploy's lowering gives
that tensor; `lowered_activation_types` makes them), each named activation is rounded to
exactly that type (scale, zero point, storage range: the 16-bit tensors, unsigned and
affine storage, the score branches' and the detector-head Concat's float as the device
has them) and every other activation stays float; the thresholds are then not used. Without
it, a detector's class scores (whose 8-bit threshold is a percentile of mostly-zero scores)
were clipped where the device keeps them at 16 bits, and the simulation said YOLOv8n
lost every detection.

`fake_quant` picks the side that is quantized, to tell which one loses accuracy (Magik's
WEIGHT_FAKE_QUANT / FEATURE_FAKE_QUANT): "both" (the default), "weights" (float
activations) or "activations" (float weights). `layer_bits` gives some activations another
width (their thresholds must be the ones for that width); `float_layers` are not quantized
at all (neither their results nor their weights), as a qtable's float layers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

import numpy as np

from ..compiler.interpreter import input_names, run_function
from ..compiler.ir import Module, Operation
from ..compiler.similarity import cosine_similarity
from ..compiler.types import UniformType
from ..dialects.quant import fake_quant_symmetric

# op name -> (operand index of the weight, axis of its output channels given the op)
_WEIGHT_OPERANDS: dict[str, Callable[[Operation], tuple[int, int]]] = {
    "top.conv": lambda op: (1, 0),
    "top.conv_transpose": lambda op: (1, 1),
    "top.matmul": lambda op: (1, -1),
    "top.gemm": lambda op: (1, 0 if op.attributes.get("trans_b") else 1),
}
# fake_quant -> (quantize weights, quantize activations)
FAKE_QUANT_SIDES = {"both": (True, True), "weights": (True, False),
                    "activations": (False, True)}


def weight_channels(module: Module) -> dict[int, int]:
    """id(op) of each weight/constant that is a quantized layer's weight -> its channel axis."""
    out: dict[int, int] = {}
    for op in module.walk():
        rule = _WEIGHT_OPERANDS.get(op.name)
        if rule is None:
            continue
        index, axis = rule(op)
        if index >= len(op.operands):
            continue
        src = op.operands[index].owner
        if src is not None and src.name in ("top.weight", "top.constant") and \
                src.results[0].type.rank >= 2:
            out[id(src)] = axis % src.results[0].type.rank
    return out


def fake_quant_per_channel(w: np.ndarray, axis: int, bits: int) -> np.ndarray:
    moved = np.moveaxis(w, axis, 0)
    absmax = np.abs(moved.reshape(moved.shape[0], -1)).max(axis=1)
    return fake_quant_symmetric(w, absmax, bits, axis=axis)


class QuantSimulator:
    def __init__(self, module: Module, thresholds: Mapping[str, float], *, bits: int = 8,
                 weight_bits: int = 8, quantize_weights: bool = True,
                 quantize_activations: bool = True, fake_quant: str | None = None,
                 layer_bits: Mapping[str, int] | None = None,
                 float_layers: Iterable[str] = (),
                 activation_types: Mapping[str, UniformType] | None = None) -> None:
        """`fake_quant`, when given, sets `quantize_weights` and `quantize_activations`
        (see the module docstring)."""
        if fake_quant is not None:
            if fake_quant not in FAKE_QUANT_SIDES:
                raise ValueError(f"fake_quant {fake_quant!r}: expected one of "
                                 f"{', '.join(FAKE_QUANT_SIDES)}")
            quantize_weights, quantize_activations = FAKE_QUANT_SIDES[fake_quant]
        self.module = module
        self.func = module.main
        floats = set(float_layers)
        self.thresholds = {k: v for k, v in thresholds.items() if k not in floats}
        self.bits, self.weight_bits = bits, weight_bits
        self.layer_bits = dict(layer_bits or {})
        self.quantize_weights = quantize_weights
        self.quantize_activations = quantize_activations
        self._weight_axes = weight_channels(module) if quantize_weights else {}
        if floats:
            self._weight_axes = {k: v for k, v in self._weight_axes.items()
                                 if not _only_float_users(module, k, floats)}
        self._weight_cache: dict[int, np.ndarray] = {}
        self.activation_types = None if activation_types is None else {
            k: v for k, v in activation_types.items() if k not in floats}
        self.observe: Callable[[Operation, np.ndarray], None] | None = None

    def _rewrite(self, op: Operation, array: np.ndarray) -> np.ndarray:
        axis = self._weight_axes.get(id(op))
        if axis is not None:
            cached = self._weight_cache.get(id(op))
            if cached is None:
                cached = fake_quant_per_channel(array, axis, self.weight_bits)
                self._weight_cache[id(op)] = cached
            return cached
        if self.observe is not None:
            self.observe(op, array)
        if self.quantize_activations and array.dtype.kind == "f":
            return self._activation(op.loc, array)
        return array

    def _activation(self, name: str | None, array: np.ndarray) -> np.ndarray:
        if self.activation_types is not None:
            t = self.activation_types.get(name)
            return array if t is None else fake_quant_type(array, t)
        t = self.thresholds.get(name)
        if t is None:
            return array
        return fake_quant_symmetric(array, t, self.layer_bits.get(name, self.bits))

    def run(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        feeds = dict(inputs)
        if self.quantize_activations:
            for name in input_names(self.func):
                if feeds[name].dtype.kind == "f":
                    feeds[name] = self._activation(name, feeds[name])
        outputs, _ = run_function(self.func, feeds, weights=self.module.weights,
                                  rewrite=self._rewrite)
        return outputs


def fake_quant_type(x: np.ndarray, t: UniformType) -> np.ndarray:
    """`x` rounded to the type's integers (scale, zero point, clamped to its storage) and
    back, keeping the dtype of `x`."""
    from ..kernels.integer import quantize

    q = quantize(x, t.scale, t.zp, t.storage).astype(np.float64)
    return ((q - t.zp) * np.float64(t.scale)).astype(x.dtype)


def lowered_activation_types(lowered: Module) -> dict[str, UniformType]:
    """loc -> result type of every quantized activation of a lowered module, and input name
    -> the type of its quantize cast (`<name>_quantize`)."""
    from ..compiler.types import TensorType

    out: dict[str, UniformType] = {}
    for op in lowered.walk():
        if op.name in ("top.weight", "top.constant") or not op.results or not op.loc:
            continue
        t = op.results[0].type
        if not (isinstance(t, TensorType) and isinstance(t.element, UniformType)):
            continue
        if op.name == "npu.cast" and op.loc.endswith("_quantize"):
            out.setdefault(op.loc[:-len("_quantize")], t.element)
        elif op.name == "npu.requant" and op.loc.endswith("_requant"):
            out[op.loc[:-len("_requant")]] = t.element  # what the readers get
        elif op.name != "npu.cast":
            out[op.loc] = t.element
    return out


def _only_float_users(module: Module, weight_id: int, floats: set[str]) -> bool:
    """Whether every reader of the weight op `weight_id` is a float layer."""
    src = next(op for op in module.walk() if id(op) == weight_id)
    return all(user.loc in floats for user in src.results[0].users)


def output_cosine(float_outputs: list[dict], quant_outputs: list[dict]) -> float:
    """The mean over samples of the smallest output cosine of each sample."""
    per_sample = [min(cosine_similarity(f[k], q[k]) for k in f if f[k].dtype.kind == "f")
                  for f, q in zip(float_outputs, quant_outputs)]
    return float(np.mean(per_sample)) if per_sample else 1.0
