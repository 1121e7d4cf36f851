"""Elementwise, MatMul and Gemm kernels against onnxruntime single-node models."""

from __future__ import annotations

import numpy as np
import pytest
from kiln.kernels import elementwise as E
from onnx import helper
from ort_single_node import ort, same

RNG = np.random.default_rng(1)

BROADCAST = [
    ((2, 3, 4), (2, 3, 4)),
    ((2, 3, 4), (4,)),
    ((3, 1), (1, 4)),
    ((), (2, 3)),
    ((2, 1, 4), (3, 1)),
    ((1,), (2, 3, 1)),
]




def rand(shape: tuple[int, ...], dtype: type = np.float32, nonzero: bool = False) -> np.ndarray:
    if np.issubdtype(dtype, np.integer):
        x = RNG.integers(-20, 20, shape).astype(dtype)
        return np.where(x == 0, 7, x).astype(dtype) if nonzero else x
    x = RNG.standard_normal(shape).astype(dtype)
    return np.where(np.abs(x) < 0.1, 0.5, x).astype(dtype) if nonzero else x


@pytest.mark.parametrize("shapes", BROADCAST, ids=str)
@pytest.mark.parametrize("dtype", [np.float32, np.int32, np.int64], ids=lambda d: d.__name__)
@pytest.mark.parametrize(
    "kernel,op", [(E.add, "Add"), (E.sub, "Sub"), (E.mul, "Mul"), (E.div, "Div")]
)
def test_arithmetic(kernel, op, dtype, shapes):
    a = rand(shapes[0], dtype)
    b = rand(shapes[1], dtype, nonzero=op == "Div")
    same(kernel(a, b), ort(op, [a, b]))


@pytest.mark.parametrize("dtype", [np.int8, np.int32, np.int64], ids=lambda d: d.__name__)
def test_integer_div_truncates_toward_zero(dtype):
    a = np.array([7, -7, 7, -7, 6, -6, 1, -1, 0], dtype)
    b = np.array([2, 2, -2, -2, 3, 3, 5, 5, -3], dtype)
    got = E.div(a, b)
    np.testing.assert_array_equal(got, [3, -3, -3, 3, 2, -2, 0, 0, 0])
    if dtype != np.int8:  # onnxruntime has no int8 Div kernel
        same(got, ort("Div", [a, b]))


def test_int64_arithmetic_wraps_and_keeps_large_values():
    big = np.array([2**62, -(2**62), 2**63 - 1, 123456789012345], np.int64)
    one = np.array([2**62, -(2**62), 1, 1000], np.int64)
    for kernel, op in [(E.add, "Add"), (E.sub, "Sub"), (E.mul, "Mul"), (E.div, "Div")]:
        same(kernel(big, one), ort(op, [big, one]))


def test_python_scalar_operand_takes_array_dtype():
    x = np.arange(4, dtype=np.float32)
    assert E.add(x, 1).dtype == np.float32
    assert E.mul(2.5, x).dtype == np.float32
    assert E.div(np.arange(5, dtype=np.int64), 2).dtype == np.int64


def test_dtype_and_broadcast_errors():
    with pytest.raises(ValueError, match="dtype"):
        E.add(np.ones(3, np.float32), np.ones(3, np.float64))
    with pytest.raises(ValueError, match="broadcast"):
        E.mul(np.ones((2, 3), np.float32), np.ones((4,), np.float32))


POW_CASES = [
    (np.array([2.0, 3.0, -2.0, 0.5, 0.0], np.float32), np.array([2, -1, 3, 4, 0], np.int64)),
    (np.array([2.0, 3.0, -2.0, 0.5, 4.0], np.float32), np.array([2.5, 2, 3, -1, 0.5], np.float32)),
    (np.array([2, 3, -2, 5], np.int64), np.array([2.5, 2.0, 3.0, 0.5], np.float32)),
    (np.array([2, 3, -2, 1, -1, 0], np.int64), np.array([-1, -2, -1, -3, -3, 0], np.int64)),
    (np.array([2, 3, -2, 10], np.int32), np.array([10, 3, 7, 9], np.int32)),
    (np.array([[1.5], [2.0]], np.float32), np.array([1.0, 2.0, 3.0], np.float32)),
    (np.array([2.0, 3.0], np.float64), np.array([0.5, 3], np.float32)),
]


@pytest.mark.parametrize("a,b", POW_CASES, ids=lambda v: str(v.dtype))
def test_pow(a, b):
    got = E.pow(a, b)
    assert got.dtype == a.dtype
    same(got, ort("Pow", [a, b], opset=15))


def test_pow_negative_base_fractional_exponent_is_nan():
    got = E.pow(np.array([-2.0], np.float32), np.array([0.5], np.float32))
    assert np.isnan(got).all()


SPECIAL = np.array([-3.5, -2.5, -1.5, -0.5, -0.0, 0.0, 0.5, 1.5, 2.5, 2.4999, 7.0], np.float32)


@pytest.mark.parametrize(
    "kernel,op,domain",
    [
        (E.sqrt, "Sqrt", "pos"),
        (E.exp, "Exp", "any"),
        (E.log, "Log", "pos"),
        (E.neg, "Neg", "any"),
        (E.abs, "Abs", "any"),
        (E.reciprocal, "Reciprocal", "nonzero"),
        (E.floor, "Floor", "any"),
        (E.ceil, "Ceil", "any"),
        (E.round, "Round", "any"),
        (E.sign, "Sign", "any"),
    ],
)
def test_unary_float(kernel, op, domain):
    x = np.concatenate([SPECIAL, rand((10,)) * 5]).astype(np.float32)
    if domain == "pos":
        x = np.abs(x) + np.float32(1e-3)
    elif domain == "nonzero":
        x = x[x != 0]
    same(kernel(x), ort(op, [x]))
    scalar = x[:1].reshape(())
    same(kernel(scalar), ort(op, [scalar]))


def test_round_half_to_even():
    got = E.round(np.array([0.5, 1.5, 2.5, -0.5, -1.5, -2.5], np.float32))
    np.testing.assert_array_equal(got, [0, 2, 2, -0.0, -2, -2])


def test_unary_special_values():
    x = np.array([-1.0, 0.0, np.inf, np.nan], np.float32)
    for kernel, op in [(E.sqrt, "Sqrt"), (E.log, "Log"), (E.reciprocal, "Reciprocal")]:
        with np.errstate(all="raise"):
            got = kernel(x)
        np.testing.assert_array_equal(got, ort(op, [x]))
    np.testing.assert_array_equal(E.sign(np.array([np.nan, -0.0], np.float32)), [np.nan, 0])


@pytest.mark.parametrize("dtype", [np.int8, np.int32, np.int64], ids=lambda d: d.__name__)
@pytest.mark.parametrize("kernel,op", [(E.neg, "Neg"), (E.abs, "Abs"), (E.sign, "Sign")])
def test_unary_int(kernel, op, dtype):
    info = np.iinfo(dtype)
    x = np.array([info.min, -5, 0, 3, info.max], dtype)
    same(kernel(x), ort(op, [x]))


@pytest.mark.parametrize(
    "shapes", [((5,),), ((2, 3), (3,)), ((2, 1), (1, 3), ()), ((4,), (4,), (4,), (1,))], ids=str
)
@pytest.mark.parametrize("kernel,op", [(E.min, "Min"), (E.max, "Max")])
@pytest.mark.parametrize("dtype", [np.float32, np.int64], ids=lambda d: d.__name__)
def test_min_max_variadic(kernel, op, dtype, shapes):
    xs = [rand(s, dtype) for s in shapes]
    same(kernel(*xs), ort(op, xs))


def test_min_max_nan_propagates():
    a = np.array([1, np.nan, 3], np.float32)
    b = np.array([np.nan, 2, 1], np.float32)
    for kernel, op in [(E.min, "Min"), (E.max, "Max")]:
        np.testing.assert_array_equal(kernel(a, b), ort(op, [a, b]))
    with pytest.raises(ValueError, match="at least one"):
        E.max()


@pytest.mark.parametrize("fmod", [False, True])
@pytest.mark.parametrize("dtype", [np.int32, np.int64], ids=lambda d: d.__name__)
def test_mod_int(dtype, fmod):
    a = np.array([7, -7, 7, -7, 5, -5, 0, 9], dtype)
    b = np.array([2, 2, -2, -2, 3, 3, 4, -3], dtype)
    attrs = {"fmod": int(fmod)}
    same(E.mod(a, b, fmod=fmod), ort("Mod", [a, b], attrs))
    a2, b2 = a.reshape(2, 4), b[:4]
    same(E.mod(a2, b2, fmod=fmod), ort("Mod", [a2, b2], attrs))


def test_mod_float():
    a = np.array([7.5, -7.5, -0.0, 5.0, 3.25], np.float32)
    b = np.array([2.0, 2.0, 3.0, -3.0, -1.0], np.float32)
    same(E.mod(a, b, fmod=True), ort("Mod", [a, b], {"fmod": 1}))
    with pytest.raises(ValueError, match="fmod"):
        E.mod(a, b)


@pytest.mark.parametrize("shapes", BROADCAST[:4], ids=str)
@pytest.mark.parametrize("dtype", [np.float32, np.int64], ids=lambda d: d.__name__)
@pytest.mark.parametrize(
    "kernel,op",
    [
        (E.equal, "Equal"),
        (E.less, "Less"),
        (E.less_or_equal, "LessOrEqual"),
        (E.greater, "Greater"),
        (E.greater_or_equal, "GreaterOrEqual"),
    ],
)
def test_comparison(kernel, op, dtype, shapes):
    a = RNG.integers(-2, 3, shapes[0]).astype(dtype)
    b = RNG.integers(-2, 3, shapes[1]).astype(dtype)
    same(kernel(a, b), ort(op, [a, b], opset=16))


@pytest.mark.parametrize("shapes", BROADCAST, ids=str)
@pytest.mark.parametrize("kernel,op", [(E.and_, "And"), (E.or_, "Or"), (E.xor, "Xor")])
def test_logic(kernel, op, shapes):
    a = RNG.integers(0, 2, shapes[0]).astype(bool)
    b = RNG.integers(0, 2, shapes[1]).astype(bool)
    same(kernel(a, b), ort(op, [a, b]))


def test_not_and_bool_check():
    x = RNG.integers(0, 2, (3, 4)).astype(bool)
    same(E.not_(x), ort("Not", [x]))
    with pytest.raises(ValueError, match="bool"):
        E.and_(np.ones(2, np.int32), np.ones(2, bool))


@pytest.mark.parametrize(
    "shapes", [((2, 3), (2, 3), (2, 3)), ((3,), (2, 1), ()), ((2, 1, 4), (3, 1), (4,))], ids=str
)
@pytest.mark.parametrize("dtype", [np.float32, np.int64], ids=lambda d: d.__name__)
def test_where(dtype, shapes):
    cond = RNG.integers(0, 2, shapes[0]).astype(bool)
    x, y = rand(shapes[1], dtype), rand(shapes[2], dtype)
    same(E.where(cond, x, y), ort("Where", [cond, x, y], opset=16))


CAST_IN = np.array([2.7, -2.7, 0.5, -0.5, 0.0, -0.0, 126.9, -127.9, 1.0, 99.99], np.float32)
CAST_TARGETS = [
    np.int8,
    np.uint8,
    np.int16,
    np.int32,
    np.int64,
    np.uint32,
    np.float16,
    np.float64,
    np.bool_,
]


@pytest.mark.parametrize("to", CAST_TARGETS, ids=lambda d: d.__name__)
def test_cast_from_float(to):
    x = np.abs(CAST_IN) if np.issubdtype(to, np.unsignedinteger) else CAST_IN
    got = E.cast(x, to)
    assert got.dtype == np.dtype(to)
    same(got, ort("Cast", [x], {"to": helper.np_dtype_to_tensor_dtype(np.dtype(to))}))


@pytest.mark.parametrize(
    "x,to",
    [
        (np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-30], np.float32), np.bool_),
        (np.array([True, False, True]), np.float32),
        (np.array([True, False, True]), np.int64),
        (np.array([0, 3, -2], np.int64), np.bool_),
        (np.array([300, -129, 2**40 + 5, -1], np.int64), np.int8),
        (np.array([300, -129, 2**40 + 5, -1], np.int64), np.uint8),
        (np.array([2**31, -(2**31) - 1, 7], np.int64), np.int32),
        (np.array([16777217, -5, 2**40 + 1], np.int64), np.float32),
        (np.array([1.0000001, 65504.0, 1e-8], np.float64), np.float32),
        (np.array([1.0001, 70000.0, 1e-8], np.float32), np.float16),
    ],
    ids=lambda v: getattr(v, "__name__", None) or str(v.dtype),
)
def test_cast_special(x, to):
    same(E.cast(x, to), ort("Cast", [x], {"to": helper.np_dtype_to_tensor_dtype(np.dtype(to))}))


def test_cast_rejects_strings():
    with pytest.raises(ValueError, match="cast"):
        E.cast(np.array([1.0]), np.str_)


MATMUL_SHAPES = [
    ((3, 4), (4, 5)),
    ((4,), (4, 5)),
    ((3, 4), (4,)),
    ((4,), (4,)),
    ((2, 1, 3, 4), (5, 4, 6)),
    ((2, 3, 4), (4, 2)),
    ((4,), (2, 4, 3)),
]


@pytest.mark.parametrize("shapes", MATMUL_SHAPES, ids=str)
@pytest.mark.parametrize("dtype", [np.float32, np.int32, np.int64], ids=lambda d: d.__name__)
def test_matmul(dtype, shapes):
    a, b = rand(shapes[0], dtype), rand(shapes[1], dtype)
    same(E.matmul(a, b), ort("MatMul", [a, b]))


def test_matmul_errors():
    with pytest.raises(ValueError, match="do not fit"):
        E.matmul(np.ones((2, 3), np.float32), np.ones((4, 2), np.float32))
    with pytest.raises(ValueError, match="rank"):
        E.matmul(np.ones((), np.float32), np.ones((2,), np.float32))


@pytest.mark.parametrize("c_shape", [None, (), (1,), (5,), (3, 1), (3, 5), (1, 5)], ids=str)
@pytest.mark.parametrize("trans_a,trans_b", [(0, 0), (1, 0), (0, 1), (1, 1)])
@pytest.mark.parametrize("alpha,beta", [(1.0, 1.0), (0.5, 2.0), (1.0, 0.0)])
def test_gemm(trans_a, trans_b, c_shape, alpha, beta):
    a = rand((4, 3) if trans_a else (3, 4))
    b = rand((5, 4) if trans_b else (4, 5))
    c = None if c_shape is None else rand(c_shape)
    attrs = {"alpha": alpha, "beta": beta, "transA": trans_a, "transB": trans_b}
    got = E.gemm(a, b, c, alpha=alpha, beta=beta, trans_a=bool(trans_a), trans_b=bool(trans_b))
    same(got, ort("Gemm", [a, b, c], attrs, opset=13))


def test_gemm_errors():
    a, b = np.ones((3, 4), np.float32), np.ones((4, 5), np.float32)
    with pytest.raises(ValueError, match="broadcast"):
        E.gemm(a, b, np.ones((4,), np.float32))
    with pytest.raises(ValueError, match="inner"):
        E.gemm(a, b, trans_b=True)
    with pytest.raises(ValueError, match="2-D"):
        E.gemm(np.ones(4, np.float32), b)
