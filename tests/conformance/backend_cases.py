"""The ONNX backend test data shipped with the installed onnx package, as cases kiln can run.

Two layouts (see `onnx/backend/test/loader` and `runner`):

- a folder `<kind>/<case>/` with `model.onnx` and `test_data_set_N/{input,output}_K.pb`;
  `input_K.pb` feeds `model.graph.input[K]` (real inputs come first; old exporters list
  initializers after them),
- `light/light_<name>.onnx` with `light_<name>_output_K.pb`: the runner feeds each model
  `generate_dummy_data(..., random=False)`, i.e. `arange(n).reshape(shape) / n` in float32
  (dimensions without a value taken as 1), and compares with the bundled outputs.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from pathlib import Path

import kiln.dialects  # noqa: F401
import numpy as np
import onnx
from kiln.compiler.interpreter import run_module
from kiln.compiler.text.parser import parse_module
from kiln.compiler.text.printer import print_module
from kiln.compiler.verifier import verify_module
from kiln.frontend.onnx.importer import ImportOptions, import_model
from onnx import numpy_helper

DATA_DIR = Path(onnx.__file__).parent / "backend" / "test" / "data"
FOLDER_KINDS = ("pytorch-converted", "simple", "pytorch-operator")
RTOL, ATOL = 1e-4, 1e-5


class NotTensorData(Exception):
    """A test data file holds a sequence, optional or map: kiln runs tensors only."""


@dataclass(frozen=True)
class BackendCase:
    kind: str   # pytorch-converted, simple, pytorch-operator or light
    name: str   # the folder name (test_...) or light_<model>
    path: Path  # the case folder, or the light model file

    @property
    def id(self) -> str:
        return f"{self.kind}/{self.name}"


def discover() -> list[BackendCase]:
    """Every case of the folder kinds that has test data, then every light model."""
    cases = []
    for kind in FOLDER_KINDS:
        root = DATA_DIR / kind
        if not root.is_dir():
            continue
        for case in sorted(root.iterdir()):
            if (case / "model.onnx").is_file() and list(case.glob("test_data_set_*")):
                cases.append(BackendCase(kind, case.name, case))
    light = DATA_DIR / "light"
    for model in sorted(light.glob("light_*.onnx")) if light.is_dir() else []:
        cases.append(BackendCase("light", model.stem, model))
    return cases


def _load_tensor(path: str | Path, type_proto: onnx.TypeProto | None) -> np.ndarray:
    if type_proto is not None and not type_proto.HasField("tensor_type"):
        raise NotTensorData(f"{Path(path).name} is a {type_proto.WhichOneof('value')}")
    tensor = onnx.TensorProto()
    tensor.ParseFromString(Path(path).read_bytes())
    return numpy_helper.to_array(tensor)


def dummy_input(info: onnx.ValueInfoProto) -> np.ndarray:
    """What onnx's backend runner feeds a light model (generate_dummy_data, random=False)."""
    shape = tuple(d.dim_value if d.HasField("dim_value") else 1
                  for d in info.type.tensor_type.shape.dim)
    n = int(np.prod(shape))
    return (np.arange(n).reshape(shape) / n).astype(np.float32)


def load_case(case: BackendCase) -> tuple[onnx.ModelProto, list[tuple[dict, list]]]:
    """The model, and its data sets as (inputs by name, reference outputs in output order)."""
    if case.kind == "light":
        model = onnx.load(str(case.path))
        inits = {t.name for t in model.graph.initializer}
        feeds = {i.name: dummy_input(i) for i in model.graph.input if i.name not in inits}
        prefix = str(case.path)[: -len(".onnx")]
        outputs = [_load_tensor(f"{prefix}_output_{k}.pb", o.type)
                   for k, o in enumerate(model.graph.output)]
        return model, [(feeds, outputs)]
    model = onnx.load(str(case.path / "model.onnx"))
    data_sets = []
    for folder in sorted(glob.glob(os.path.join(case.path, "test_data_set_*"))):
        n_in = len(glob.glob(os.path.join(folder, "input_*.pb")))
        n_out = len(glob.glob(os.path.join(folder, "output_*.pb")))
        feeds = {model.graph.input[k].name: _load_tensor(os.path.join(folder, f"input_{k}.pb"),
                                                         model.graph.input[k].type)
                 for k in range(n_in)}
        outputs = [_load_tensor(os.path.join(folder, f"output_{k}.pb"),
                                model.graph.output[k].type) for k in range(n_out)]
        data_sets.append((feeds, outputs))
    return model, data_sets


def run_case(case: BackendCase) -> None:
    """Import (with the data set's inputs as example data), verify, check that the printed IR
    parses back to the same text, run and compare every data set; AssertionError on a
    mismatch, ImportFailure etc. when kiln cannot do it."""
    model, data_sets = load_case(case)
    for feeds, want in data_sets:
        options = ImportOptions(example_inputs=feeds,
                                input_shapes=[list(a.shape) for a in feeds.values()],
                                model_name=case.name)
        module = import_model(model, options, source=case.id)
        verify_module(module)
        text = print_module(module)
        assert print_module(parse_module(text)) == text, "print/parse round trip differs"
        got = run_module(module, feeds)
        names = [o.name for o in model.graph.output]
        assert len(want) == len(names), (case.id, len(want), names)
        for name, w in zip(names, want):
            g = got[name]
            assert g.shape == w.shape, f"{name}: shape {g.shape}, reference {w.shape}"
            assert g.dtype == w.dtype, f"{name}: dtype {g.dtype}, reference {w.dtype}"
            if w.dtype.kind in "fc":
                np.testing.assert_allclose(g, w, rtol=RTOL, atol=ATOL, err_msg=name)
            else:
                np.testing.assert_array_equal(g, w, err_msg=name)
