"""The IR's Python API: use lists, the linked op list, the rewriter, pipelines, the verifier
on IR built in code, and the deterministic file writers."""

import kiln.dialects  # noqa: F401
import numpy as np
import pytest
from kiln.compiler.fileio import atomic_write_text, load_npz, npz_bytes, save_npz
from kiln.compiler.ir import Function, Module, Operation
from kiln.compiler.opdef import VerifyError
from kiln.compiler.pass_manager import PipelineError, split_pipeline
from kiln.compiler.rewrite import Rewriter, apply_patterns_greedily, pattern
from kiln.compiler.types import F32, TensorType
from kiln.compiler.verifier import verify_module
from kiln.dialects import top
from kiln.passes.registry import build_pass_manager, parse_pipeline

T = TensorType((4,), F32)


def tiny_module():
    module = Module("m")
    func = module.add_function(Function("main", [T], [T], ["x"]))
    x = func.arguments[0]
    a = func.body.append(top.ReluOp(x, result_types=[T], loc="a"))
    b = func.body.append(top.AddOp(a.result, a.result, result_types=[T], loc="b"))
    func.body.append(Operation.create("func.return", [b.result]))
    return module, func, x, a, b


def test_use_lists_follow_operands():
    _, _, x, a, b = tiny_module()
    assert a.result.uses == [(b, 0), (b, 1)]
    b.set_operand(1, x)
    assert a.result.uses == [(b, 0)] and (b, 1) in x.uses
    assert a.result.users == [b]


def test_erase_refuses_used_op_and_unlinks():
    module, func, x, a, b = tiny_module()
    with pytest.raises(ValueError, match="still used"):
        a.erase()
    a.result.replace_all_uses_with(x)
    a.erase()
    assert [op.name for op in func.body] == ["top.add", "func.return"]
    assert len(func.body) == 2 and x.uses == [(b, 0), (b, 1)]
    verify_module(module)


def test_verifier_rejects_use_before_definition():
    module, func, _x, a, _b = tiny_module()
    func.body.remove(a)
    func.body.insert_before(func.body.last, a)  # now after its user
    with pytest.raises(VerifyError, match=r"'top.add' op loc\(\"b\"\): operand 0 is not "
                                          r"defined before its use \(it is defined later"):
        verify_module(module)


def test_verifier_checks_declared_counts_and_attributes():
    module, func, x, _a, _b = tiny_module()
    bad = Operation.create("top.transpose", [x], [T], {"perm": (0,), "bogus": 1}, "t")
    func.body.insert_before(func.body.last, bad)
    with pytest.raises(VerifyError, match="unknown attribute 'bogus'"):
        verify_module(module)


def test_greedy_driver_reaches_fixed_point_and_erases_dead_ops():
    module, func, _x, _a, _b = tiny_module()

    @pattern(top.AddOp)
    def add_to_relu(op, rw: Rewriter):  # a silly rewrite that feeds itself
        new = top.ReluOp(op.lhs, result_types=[op.output.type], loc=op.loc)
        rw.replace_op(op, new)
        return True

    @pattern(top.ReluOp)
    def relu_of_relu(op, rw: Rewriter):
        inner = op.input.owner
        if not isinstance(inner, top.ReluOp):
            return False
        rw.replace_op(op, [inner.result])
        return True

    assert apply_patterns_greedily(module, [add_to_relu, relu_of_relu])
    assert [op.name for op in func.body] == ["top.relu", "func.return"]
    assert not apply_patterns_greedily(module, [add_to_relu, relu_of_relu])
    verify_module(module)


def test_pipeline_strings():
    assert split_pipeline("a, b{x=1,y=[1,2],s=\"p,q\"},c") == [
        ("a", {}), ("b", {"x": "1", "y": "[1,2]", "s": '"p,q"'}), ("c", {})]
    passes = parse_pipeline("cse,canonicalize{max_rounds=2}")
    assert [p.pipeline_text() for p in passes] == ["cse", "canonicalize{max_rounds=2}"]
    assert build_pass_manager("transform").pipeline_text == \
        "fold-constants,fuse-ops,canonicalize"
    for bad, msg in [("cse,,dce", "empty pass name"), ("cse{x}", "needs key=value"),
                     ("nope", "unknown pass 'nope'"), ("cse]", "unbalanced")]:
        with pytest.raises(PipelineError, match=msg):
            parse_pipeline(bad)


def test_npz_bytes_are_deterministic_and_ordered(tmp_path):
    arrays = {"b": np.arange(3, dtype=np.int64), "a": np.ones((2, 2), np.float32)}
    assert npz_bytes(arrays) == npz_bytes(dict(arrays))
    save_npz(tmp_path / "x.npz", arrays)
    loaded = load_npz(tmp_path / "x.npz")
    assert list(loaded) == ["b", "a"]
    np.testing.assert_array_equal(loaded["a"], arrays["a"])


def test_atomic_write_leaves_no_temporary(tmp_path):
    atomic_write_text(tmp_path / "sub" / "f.txt", "hello")
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["f.txt"]
