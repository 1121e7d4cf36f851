"""Fuzz: random and mutated text given to the parser (and the verifier when it parses) ends
in success or a clean ParseError / VerifyError with a file:line message, never anything else."""

from pathlib import Path

import kiln.dialects  # noqa: F401
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kiln.compiler.opdef import VerifyError
from kiln.compiler.text.parser import ParseError, parse_module
from kiln.compiler.verifier import verify_module

ROOT = Path(__file__).resolve().parents[2]
CORPUS = [p.read_text() for p in sorted((ROOT / "lit_tests").rglob("*.mlir"))]
TOKENS = ["%0", "%x", "=", ":", ",", "(", ")", "{", "}", "<", ">", "[", "]", "->", "tensor<",
          "x", "f32", "i8", "!quant.uniform<", "!quant.calibrated<", "loc(", '"', "dense<",
          "@", "#", "return", "func.func", "module", "top.add", "-", "1", "0.5", "nan", "\n"]


def check(text: str) -> None:
    try:
        module = parse_module(text, source="fuzz.mlir")
    except ParseError as e:
        assert str(e).startswith("fuzz.mlir"), str(e)
        return
    try:
        verify_module(module)
    except VerifyError:
        pass  # a clean verifier message is an acceptable outcome for mutated text


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=200) | st.lists(st.sampled_from(TOKENS), max_size=60).map(" ".join))
def test_random_text(text):
    check(text)


@st.composite
def mutated(draw):
    text = draw(st.sampled_from(CORPUS))
    for _ in range(draw(st.integers(1, 4))):
        if not text:
            break
        i = draw(st.integers(0, len(text) - 1))
        j = min(len(text), i + draw(st.integers(0, 12)))
        action = draw(st.sampled_from(["delete", "insert", "replace", "duplicate"]))
        if action == "delete":
            text = text[:i] + text[j:]
        elif action == "insert":
            text = text[:i] + draw(st.sampled_from(TOKENS)) + text[i:]
        elif action == "replace":
            text = text[:i] + draw(st.text(max_size=4)) + text[j:]
        else:
            text = text[:j] + text[i:j] + text[j:]
    return text


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_corpus(text):
    for chunk in text.split("// -----"):
        check(chunk)
