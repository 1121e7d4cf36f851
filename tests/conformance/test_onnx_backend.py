"""ONNX backend conformance: every model case shipped with the installed onnx package.

Each case under onnx/backend/test/data/{pytorch-converted,simple,pytorch-operator} and each
light model (onnx/backend/test/data/light) is imported with the data set's inputs as example
data, verified, run by kiln's interpreter and compared with the bundled reference outputs
(rtol 1e-4, atol 1e-5); see backend_cases.py for how the data is read.

A case kiln cannot support is listed in SKIPPED with the reason. It is reported as skipped,
and `test_skipped_case_still_fails` runs it anyway: a listed case that now passes fails that
test, so the table only shrinks as support grows.
"""

from __future__ import annotations

import pytest
from backend_cases import BackendCase, NotTensorData, discover, run_case
from kiln.compiler.interpreter import InterpreterError
from kiln.compiler.opdef import VerifyError
from kiln.frontend.onnx.importer import ImportFailure

_SEQUENCES = "sequence types (Sequence* / SplitToSequence / ConcatFromSequence) are not supported"
_STRINGS = "op StringNormalizer not supported: string tensors"
_DYNAMIC_EXPAND = ("Expand's target shape is a model input: the output shape depends on input "
                   "data, and kiln needs static shapes")

SKIPPED: dict[str, str] = {
    # simple/
    "test_expand_shape_model1": _DYNAMIC_EXPAND,
    "test_expand_shape_model2": _DYNAMIC_EXPAND,
    "test_expand_shape_model3": _DYNAMIC_EXPAND,
    "test_expand_shape_model4": _DYNAMIC_EXPAND,
    "test_gradient_of_add": "op ai.onnx.preview.training.Gradient not supported: training",
    "test_gradient_of_add_and_mul": "op ai.onnx.preview.training.Gradient not supported: "
                                    "training",
    "test_sequence_model1": _SEQUENCES,
    "test_sequence_model2": _SEQUENCES,
    "test_sequence_model3": _SEQUENCES,
    "test_sequence_model4": _SEQUENCES,
    "test_sequence_model5": _SEQUENCES,
    "test_sequence_model6": _SEQUENCES,
    "test_sequence_model7": _SEQUENCES,
    "test_sequence_model8": _SEQUENCES,
    "test_strnorm_model_monday_casesensintive_lower": _STRINGS,
    "test_strnorm_model_monday_casesensintive_nochangecase": _STRINGS,
    "test_strnorm_model_monday_casesensintive_upper": _STRINGS,
    "test_strnorm_model_monday_empty_output": _STRINGS,
    "test_strnorm_model_monday_insensintive_upper_twodim": _STRINGS,
    "test_strnorm_model_nostopwords_nochangecase": _STRINGS,
}

# What a skipped case may fail with: kiln refusing it, or a wrong result. Anything else (an
# AttributeError, ...) is a bug and is reported as such.
EXPECTED_FAILURES = (ImportFailure, NotTensorData, AssertionError, VerifyError,
                     InterpreterError)

# The passing cases at the time of writing, per kind; the count may only grow.
MIN_PASSING = {"pytorch-converted": 82, "simple": 3, "pytorch-operator": 35, "light": 9}

CASES = discover()
BY_NAME = {c.name: c for c in CASES}


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_backend_case(case: BackendCase) -> None:
    if case.name in SKIPPED:
        pytest.skip(SKIPPED[case.name])
    run_case(case)


@pytest.mark.parametrize("name", sorted(SKIPPED))
def test_skipped_case_still_fails(name: str) -> None:
    """A case in SKIPPED that passes must leave the table."""
    if name not in BY_NAME:
        pytest.fail(f"{name} is in SKIPPED but the installed onnx has no such case")
    try:
        run_case(BY_NAME[name])
    except EXPECTED_FAILURES:
        return
    pytest.fail(f"{BY_NAME[name].id} passes now: remove it from SKIPPED")


def test_case_names_unique() -> None:
    assert len(BY_NAME) == len(CASES), "SKIPPED is keyed by case name: names must be unique"


def test_pass_count() -> None:
    """The number of cases expected to pass (every one not in SKIPPED), per kind."""
    kinds = sorted({c.kind for c in CASES})
    passing = {k: sum(1 for c in CASES if c.kind == k and c.name not in SKIPPED) for k in kinds}
    total = {k: sum(1 for c in CASES if c.kind == k) for k in kinds}
    for k in kinds:
        print(f"onnx backend {k}: {passing[k]} of {total[k]} cases run and must pass")
    print(f"onnx backend: {sum(passing.values())} of {len(CASES)} cases run and must pass, "
          f"{len(SKIPPED)} skipped")
    for kind, minimum in MIN_PASSING.items():
        assert passing.get(kind, 0) >= minimum, (kind, passing.get(kind, 0), minimum)
