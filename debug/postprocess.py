"""The user's post-processing (`--post_process FILE`) and the comparison of its results.

The file is Python source defining `PostProcess(outputs)`: `outputs` is a dict of the model's
outputs by name (float32 arrays: the deployed model's are dequantized), and it returns a dict
of named arrays or one array (named `result`). It is applied to the float IR's outputs and to
the deployed model's, sample by sample, and the two results compared key by key:

- integer, boolean and string results (labels, masks, decisions) must be equal element for
  element;
- float results (scores, boxes) must have a cosine similarity of at least the threshold
  (as every layer must).

A result whose shape differs between the two models disagrees.
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..compiler.similarity import cosine_similarity
from ..tools._cli import UsageError

PostProcessFn = Callable[[dict[str, np.ndarray]], object]
FUNCTION = "PostProcess"


def _where(e: BaseException, path: Path) -> str:
    """`file:line` of the deepest frame of the user's file in e's traceback, if any."""
    frames = [f for f in traceback.extract_tb(e.__traceback__)
              if Path(f.filename).resolve() == path.resolve()]
    return f"{path}:{frames[-1].lineno}: " if frames else f"{path}: "


def load_post_process(path: str | Path) -> PostProcessFn:
    """The `PostProcess` function of a Python file; UsageError naming the file otherwise."""
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"--post_process {path}: no such file")
    digest = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:12]
    # an explicit source loader: the file is Python whatever its name ends with
    loader = importlib.machinery.SourceFileLoader(f"kiln_post_process_{digest}", str(path))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as e:  # the user's code: any error is theirs, reported with its line
        raise UsageError(f"--post_process {_where(e, path)}{type(e).__name__}: {e}") from None
    fn = getattr(module, FUNCTION, None)
    if not callable(fn):
        raise UsageError(f"--post_process {path}: defines no function {FUNCTION}(outputs)")
    fn.__kiln_source__ = path  # type: ignore[attr-defined]
    return fn


def run_post_process(fn: PostProcessFn, outputs: Mapping[str, np.ndarray], model: str,
                     sample: str) -> dict[str, np.ndarray]:
    """`fn` on copies of `outputs`, its result as named arrays; a failure of the user's
    function is a UsageError naming the sample and the model."""
    path = Path(getattr(fn, "__kiln_source__", "<post_process>"))
    try:
        result = fn({k: np.array(v, copy=True) for k, v in outputs.items()})
    except Exception as e:  # the user's code: any error is theirs, reported with its line
        raise UsageError(f"--post_process {_where(e, path)}{FUNCTION} failed on the "
                         f"{model}'s outputs of {sample}: {type(e).__name__}: {e}") from None
    items = result.items() if isinstance(result, Mapping) else [("result", result)]
    out: dict[str, np.ndarray] = {}
    for key, value in items:
        array = np.asarray(value)
        if array.dtype == object:
            raise UsageError(f"--post_process {path}: {FUNCTION} returned {key!r} that is not "
                             f"an array of numbers, booleans or strings")
        out[str(key)] = array
    return out


def compare_result(a: np.ndarray, b: np.ndarray, threshold: float) -> str | None:
    """None when the float IR's result `a` and the deployed model's `b` agree, else why not."""
    if a.shape != b.shape:
        return f"shape {list(a.shape)} vs {list(b.shape)}"
    if a.dtype.kind == "f" and b.dtype.kind == "f":
        if np.array_equal(a, b, equal_nan=True):
            return None
        cosine = cosine_similarity(a, b)
        return None if cosine >= threshold else f"cosine {cosine:.6f} < {threshold:g}"
    differ = int(np.count_nonzero(a != b)) if a.dtype.kind == b.dtype.kind else a.size
    if differ == 0:
        return None
    return f"{differ} of {a.size} element(s) differ" if a.size > 1 else \
        f"{_scalar(a)} vs {_scalar(b)}"


def _scalar(a: np.ndarray) -> str:
    return repr(a.reshape(-1)[0].item())


@dataclass
class PostProcessCheck:
    """The post-processed results of both models over the samples: which disagree."""

    threshold: float
    samples: int = 0
    keys: list[str] = field(default_factory=list)
    disagreements: list[tuple[str, str, str]] = field(default_factory=list)  # sample, key, why

    def add(self, sample: str, float_result: dict[str, np.ndarray],
            deployed_result: dict[str, np.ndarray]) -> None:
        self.samples += 1
        for key in [*float_result, *deployed_result]:  # in order: a set's order varies
            if key not in self.keys:
                self.keys.append(key)
        for key in self.keys:
            if key not in float_result or key not in deployed_result:
                which = "float IR" if key not in float_result else "deployed model"
                self.disagreements.append((sample, key, f"missing from the {which}'s result"))
                continue
            why = compare_result(float_result[key], deployed_result[key], self.threshold)
            if why is not None:
                self.disagreements.append((sample, key, why))

    @property
    def agree(self) -> bool:
        return not self.disagreements

    @property
    def bad_samples(self) -> list[str]:
        seen: list[str] = []
        for sample, _, _ in self.disagreements:
            if sample not in seen:
                seen.append(sample)
        return seen

    def summary(self) -> str:
        """One line: agreement, or per result key on how many samples it differs and why on
        the first of them."""
        keys = ", ".join(repr(k) for k in self.keys) or "no result"
        if self.agree:
            return f"post-process results ({keys}) agree on all {self.samples} sample(s)"
        parts = []
        for key in self.keys:
            rows = [(s, why) for s, k, why in self.disagreements if k == key]
            if rows:
                parts.append(f"{key!r} on {len(rows)} (first {rows[0][0]}: {rows[0][1]})")
        return (f"post-process results ({keys}) disagree on {len(self.bad_samples)} of "
                f"{self.samples} sample(s): " + "; ".join(parts))
