"""Run the float IR and the deployed model on each sample and compare them layer by layer.

A layer is a tensor name (loc) that both dumps have, other than a model input, taken in the
float IR's program order. The deployed model's tensors are compared dequantized (model_runner's
dump: `NAME` is the dequantized float32, `NAME@int` the raw integers). Each sample's tensors
are compared as soon as both models have run and then dropped, so memory does not grow with
the number of samples; only the statistics stay.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np

from ..compiler.errors import UserError
from ..compiler.ir import Module
from ..compiler.similarity import compare_arrays
from ..compiler.types import TensorType, UniformPerAxisType, UniformType
from ..data.dataset import Dataset
from ..data.preprocess import InputDataError
from ..tools._cli import UsageError
from ..tools.model_runner import INT_SUFFIX, LoadedModel, run_interpreter
from .postprocess import PostProcessCheck, PostProcessFn, run_post_process

LUT = "npu.lut"


@dataclass(frozen=True)
class OpInfo:
    """What the deployed model computes a tensor with: `npu.conv2d`, storage `i8`.
    `lut_input`: only table lookups (npu.lut) read it. The lowering fits such a value to the
    interval where the tables' outputs still change (SiLU is flat below about -6), so its
    own cosine counts clipped values that change nothing; its lookups' cosine is the loss."""

    op: str
    storage: str
    quantized: bool
    lut_input: bool = False

    @property
    def label(self) -> str:
        return f"{self.op} {self.storage}"


def deployed_ops(module: Module) -> dict[str, OpInfo]:
    """loc -> the op (and storage type) of the value the interpreter keeps under that loc:
    the last op of the entry function with that loc and a tensor result."""
    out: dict[str, OpInfo] = {}
    for op in module.main.body:
        results = [r for r in op.results if isinstance(r.type, TensorType)]
        if op.loc is None or not results:
            continue
        t = results[-1].type
        quantized = isinstance(t.element, (UniformType, UniformPerAxisType))
        users = results[-1].users
        lut_input = quantized and bool(users) and all(u.name == LUT for u in users)
        out[op.loc] = OpInfo(op.name, t.scalar.name, quantized, lut_input)
    return out


@dataclass
class LayerStats:
    """One layer's similarity to the float IR over the samples (one entry per sample)."""

    index: int
    name: str
    info: OpInfo
    cosines: list[float] = field(default_factory=list)
    euclids: list[float] = field(default_factory=list)
    sqnrs: list[float] = field(default_factory=list)
    max_abs: float = 0.0

    def add(self, cosine: float, euclid: float, max_abs: float, sqnr: float) -> None:
        self.cosines.append(cosine)
        self.euclids.append(euclid)
        self.sqnrs.append(sqnr)
        # NaN (values the reference does not have) must not be hidden by max()
        if math.isnan(max_abs) or math.isnan(self.max_abs):
            self.max_abs = math.nan
        else:
            self.max_abs = max(self.max_abs, max_abs)

    @property
    def cos_mean(self) -> float:
        return _mean(self.cosines)

    @property
    def cos_min(self) -> float:
        return min(self.cosines, key=_nan_first) if self.cosines else math.nan

    @property
    def cos_max(self) -> float:
        return max(self.cosines) if self.cosines else math.nan

    @property
    def euclid_mean(self) -> float:
        return _mean(self.euclids)

    @property
    def sqnr_mean(self) -> float:
        """The mean of the per-sample SQNRs in dB (inf when a sample is exact)."""
        return _mean(self.sqnrs)

    def below(self, threshold: float) -> bool:
        """Cosine mean below the threshold; NaN (inf/NaN values) counts as below."""
        return not self.cos_mean >= threshold

    def loss(self, threshold: float) -> bool:
        """Below the threshold and not a table lookup's input (see OpInfo.lut_input): what
        the diagnosis counts."""
        return self.below(threshold) and not self.info.lut_input


def _nan_first(x: float) -> float:
    return -math.inf if math.isnan(x) else x


def _mean(values: list[float]) -> float:
    if not values:
        return math.nan
    with np.errstate(invalid="ignore", over="ignore"):
        return float(np.mean(np.asarray(values, dtype=np.float64)))


@dataclass
class DebugRun:
    """Everything a report needs: the layers in order, the samples, what was left out."""

    layers: list[LayerStats]
    samples: list[str]
    source: str
    post: PostProcessCheck | None = None
    skipped: list[str] = field(default_factory=list)  # layers left out, with the reason


def _layer_names(reference: Mapping[str, np.ndarray], deployed: Mapping[str, np.ndarray],
                 inputs: Iterable[str]) -> list[str]:
    skip = set(inputs)
    return [n for n in reference
            if n not in skip and not n.endswith(INT_SUFFIX) and n in deployed]


def _run(what: str, run: Callable[[], dict[str, np.ndarray]], sample: str
         ) -> dict[str, np.ndarray]:
    try:
        return run()
    except (InputDataError, UserError) as e:
        message = str(e)
        raise UsageError(message if sample in message else f"{sample}: {what}: {message}"
                         ) from None


def compare_models(float_module: Module, model: LoadedModel, ops: Mapping[str, OpInfo],
                   dataset: Dataset, *, float_name: str = "the float IR",
                   post_process: PostProcessFn | None = None,
                   threshold: float = 0.99,
                   on_first: Callable[[dict[str, np.ndarray], dict[str, np.ndarray]], None]
                   | None = None,
                   progress: Callable[[Iterable], Iterable] = iter) -> DebugRun:
    """Run both models on every sample of `dataset` and compare every common layer.
    `on_first(float_tensors, deployed_tensors)` sees the first sample's full dumps (for
    --dump). Raises UsageError when the models have no layer in common."""
    from ..compiler.interpreter import input_names, output_names

    func = float_module.main
    inputs = input_names(func)
    outputs = output_names(func)
    layers: list[LayerStats] = []
    skipped: list[str] = []
    post = PostProcessCheck(threshold) if post_process is not None else None
    for i, (name, feeds) in enumerate(progress(zip(dataset.names, dataset))):
        reference = _run("float IR", lambda f=feeds: run_interpreter(float_module, f, True),
                         name)
        deployed = _run(str(model.path), lambda f=feeds: model.run(f, True), name)
        if i == 0:
            names = _layer_names(reference, deployed, inputs)
            if not names:
                raise UsageError(
                    f"--model {model.path} has no layer in common with {float_name} (no "
                    f"tensor name of one is in the other): was it deployed from it?")
            for n in names:  # a lowering may change a layout under the same name
                if np.shape(reference[n]) != np.shape(deployed[n]):
                    skipped.append(f"{n} (shape {list(np.shape(reference[n]))} in the float "
                                   f"IR, {list(np.shape(deployed[n]))} deployed)")
                    continue
                info = ops.get(n, OpInfo("?", str(deployed[n].dtype), False))
                layers.append(LayerStats(len(layers), n, info))
            if not layers:
                raise UsageError(f"--model {model.path}: no layer of the same shape as in "
                                 f"{float_name}: {'; '.join(skipped[:5])}")
            if on_first is not None:
                on_first(reference, deployed)
        for layer in layers:
            row = compare_arrays(layer.name, reference[layer.name], deployed[layer.name])
            layer.add(row.cosine, row.euclid, row.max_abs, row.sqnr)
        if post is not None and post_process is not None:
            float_out = {n: reference[n] for n in outputs if n in reference}
            deployed_out = {n: deployed[n] for n in outputs if n in deployed}
            post.add(name, run_post_process(post_process, float_out, "float IR", name),
                     run_post_process(post_process, deployed_out, "deployed model", name))
    return DebugRun(layers, dataset.names, dataset.source, post, skipped)
