"""Property: printing a random module, parsing it and printing again gives the same text, and
every attribute and type reads back equal to what was built (floats bit for bit)."""

import math

import kiln.dialects  # noqa: F401
from hypothesis import HealthCheck, given, settings
from kiln.compiler.attributes import DenseAttr
from kiln.compiler.text.parser import parse_module
from kiln.compiler.text.printer import print_module
from kiln.compiler.verifier import verify_module
from strategies import modules


def same_attr(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.copysign(1.0, a) == math.copysign(1.0, b) and a == b
    if isinstance(a, tuple) and isinstance(b, tuple):
        return len(a) == len(b) and all(same_attr(x, y) for x, y in zip(a, b))
    if isinstance(a, DenseAttr):
        return a == b  # by type and bytes
    return type(a) is type(b) and a == b


def same_dict(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(same_attr(a[k], b[k]) for k in a)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(modules())
def test_print_parse_print(module):
    verify_module(module)
    text = print_module(module)
    parsed = parse_module(text)
    assert print_module(parsed) == text
    assert print_module(parse_module(print_module(module, generic=True)), generic=True) == \
        print_module(module, generic=True)
    assert same_dict(parsed.attributes, module.attributes)
    for f0, f1 in zip(module.functions, parsed.functions):
        assert [a.type for a in f0.arguments] == [a.type for a in f1.arguments]
        assert all(same_dict(a, b) for a, b in zip(f0.arg_attributes, f1.arg_attributes))
        for op0, op1 in zip(f0.body, f1.body):
            assert op0.name == op1.name and op0.loc == op1.loc
            assert [r.type for r in op0.results] == [r.type for r in op1.results]
            assert same_dict(op0.attributes, op1.attributes), (op0.attributes, op1.attributes)
