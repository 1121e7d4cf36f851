"""Cross-layer weight equalization (`run_calibration --we`).

For a chain conv1 -> [relu] -> conv2 where conv1's output feeds only conv2, scaling output
channel i of conv1 by 1/s_i and input channel i of conv2 by s_i leaves the network's function
unchanged (relu(x / s) = relu(x) / s for s > 0), and with

    s_i = sqrt(r1_i * r2_i) / r2_i,   r1_i = max |W1[i, ...]|,  r2_i = max |W2[:, i, ...]|

both layers' per-channel weight ranges become sqrt(r1_i * r2_i): per-channel weights of very
different ranges, which per-tensor quantization handles badly, are evened out (Nagel et al.,
"Data-Free Quantization", 2019). Depthwise conv2 (group == channels) scales its own channel.

The pass changes weights: it adds new ones to the module's weights (never the user's file);
the tool writes the new IR and weights beside the calibration table.
"""

from __future__ import annotations

import numpy as np

from ..compiler.attributes import SymbolRef
from ..compiler.ir import Module, Operation, Value
from ..compiler.types import TensorType, scalar_type_of
from ..dialects import top

_HOMOGENEOUS = (top.ReluOp, top.LeakyReluOp)  # f(x / s) = f(x) / s for s > 0


def _weight(value: Value | None, module: Module) -> np.ndarray | None:
    op = value.owner if value is not None else None
    if op is None:
        return None
    if op.name == "top.weight":
        return module.weights.get(op.attributes["ref"].name)
    if op.name == "top.constant":
        return op.attributes["value"].array
    return None


def _set_weight(module: Module, op: Operation, index: int, array: np.ndarray, tag: str) -> None:
    """Point operand `index` of `op` at a new weight holding `array`."""
    name = module.weights.unique_name(f"{op.loc or 'w'}_{tag}")
    module.weights.add(name, array.astype(np.float32))
    t = TensorType(array.shape, scalar_type_of(np.dtype(np.float32)))
    w = Operation.create("top.weight", [], [t], {"ref": SymbolRef(name)}, name)
    op.parent.insert_before(op, w)
    op.set_operand(index, w.result)


def _next_conv(conv: Operation) -> Operation | None:
    """The conv that alone consumes `conv` (through at most one homogeneous activation)."""
    value = conv.results[0]
    if len(value.uses) != 1:
        return None
    user, index = value.uses[0]
    if isinstance(user, _HOMOGENEOUS):
        if len(user.results[0].uses) != 1:
            return None
        user, index = user.results[0].uses[0]
    if isinstance(user, top.ConvOp) and index == 0:
        return user
    return None


def equalize_pair(module: Module, conv1: Operation, conv2: Operation) -> bool:
    w1, w2 = _weight(conv1.filter, module), _weight(conv2.filter, module)
    if w1 is None or w2 is None or conv1.group != 1:
        return False
    b1 = _weight(conv1.bias, module) if conv1.bias is not None else None
    if conv1.bias is not None and b1 is None:
        return False
    channels = w1.shape[0]
    depthwise = conv2.group == channels and w2.shape[1] == 1
    if not depthwise and (conv2.group != 1 or w2.shape[1] != channels):
        return False
    r1 = np.abs(w1.reshape(channels, -1)).max(axis=1).astype(np.float64)
    r2 = (np.abs(w2.reshape(channels, -1)).max(axis=1) if depthwise
          else np.abs(np.moveaxis(w2, 1, 0).reshape(channels, -1)).max(axis=1)).astype(np.float64)
    ok = (r1 > 0) & (r2 > 0)
    if not ok.any():
        return False
    s = np.ones(channels)
    s[ok] = np.sqrt(r1[ok] * r2[ok]) / r2[ok]
    shape1 = (channels,) + (1,) * (w1.ndim - 1)
    _set_weight(module, conv1, 1, w1 / s.reshape(shape1), "we")
    if b1 is not None:
        _set_weight(module, conv1, 2, b1 / s, "we_bias")
    shape2 = (channels,) + (1,) * (w2.ndim - 1) if depthwise else \
        (1, channels) + (1,) * (w2.ndim - 2)
    _set_weight(module, conv2, 1, w2 * s.reshape(shape2), "we")
    return True


def equalize_weights(module: Module, iterations: int = 2) -> int:
    """Equalize every conv -> [relu] -> conv pair, `iterations` sweeps; returns pairs done."""
    done = 0
    for _ in range(iterations):
        for op in list(module.walk()):
            if isinstance(op, top.ConvOp) and not op.do_relu:
                nxt = _next_conv(op)
                if nxt is not None and equalize_pair(module, op, nxt):
                    done += 1
            elif isinstance(op, top.ConvOp) and op.do_relu:
                value = op.results[0]
                if len(value.uses) == 1 and isinstance(value.uses[0][0], top.ConvOp) and \
                        value.uses[0][1] == 0 and equalize_pair(module, op, value.uses[0][0]):
                    done += 1
    return done
