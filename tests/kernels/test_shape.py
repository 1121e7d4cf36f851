"""Shape and data-movement kernels against onnxruntime single-node models."""

from __future__ import annotations

import numpy as np
import pytest
from kiln.kernels import shape as S
from onnx import numpy_helper
from onnxruntime.capi.onnxruntime_pybind11_state import InvalidArgument
from ort_single_node import ort, run_node, same

RNG = np.random.default_rng(4)

I64 = np.int64
INT64_MAX = np.iinfo(np.int64).max
INT64_MIN = np.iinfo(np.int64).min




def rand(shape: tuple[int, ...], dtype: type = np.float32) -> np.ndarray:
    if np.issubdtype(dtype, np.integer):
        return RNG.integers(-50, 50, shape).astype(dtype)
    return RNG.standard_normal(shape).astype(dtype)


def i64(values) -> np.ndarray:
    return np.array(values, dtype=I64)


@pytest.mark.parametrize(
    "in_shape,attr,allowzero",
    [
        ((2, 3, 4), (6, -1), False),
        ((2, 3, 4), (0, -1), False),
        ((2, 3, 4), (0, 0, 4), False),
        ((2, 3, 4), (-1,), False),
        ((2, 3, 4), (4, 0, 2), False),
        ((0, 3), (-1, 3), False),
        ((0, 3), (3, 0), True),
        ((0, 3), (0, 3), True),
        ((2, 3, 4), (1, 1, -1, 2), False),
    ],
    ids=str,
)
def test_reshape(in_shape, attr, allowzero):
    x = rand(in_shape)
    dims = S.resolve_reshape_shape(x.shape, attr, allowzero)
    want = ort("Reshape", [x, i64(attr)], {"allowzero": int(allowzero)}, opset=14)
    assert dims == want.shape
    same(S.reshape(x, dims), want)


@pytest.mark.parametrize(
    "in_shape,attr,allowzero,match",
    [
        ((2, 3), (-1, -1), False, "at most one"),
        ((2, 3), (4, -1), False, "infer"),
        ((2, 3), (0, 0, 0), False, "no input dim"),
        ((0, 3), (0, -1), True, "both 0 and -1"),
        ((2, 3), (5,), False, "cannot reshape"),
        ((2, 3), (-2, 3), False, "invalid"),
    ],
)
def test_reshape_errors(in_shape, attr, allowzero, match):
    with pytest.raises(ValueError, match=match):
        S.resolve_reshape_shape(in_shape, attr, allowzero)
    with pytest.raises(ValueError, match="reshape"):
        S.reshape(np.zeros((2, 3)), (4, 2))


@pytest.mark.parametrize("axis", [0, 1, 2, 3, -1, -3])
def test_flatten(axis):
    x = rand((2, 3, 4))
    same(S.flatten(x, axis=axis), ort("Flatten", [x], {"axis": axis}))


@pytest.mark.parametrize("perm", [None, (0, 1, 2), (2, 0, 1), (1, 2, 0), (-1, 0, 1)], ids=str)
def test_transpose(perm):
    x = rand((2, 3, 4))
    attrs = {} if perm is None else {"perm": [p % 3 for p in perm]}
    same(S.transpose(x, perm=perm), ort("Transpose", [x], attrs))
    with pytest.raises(ValueError, match="permutation"):
        S.transpose(x, perm=(0, 1))


@pytest.mark.parametrize("axes", [None, (0,), (2,), (-2,), (0, 2)], ids=str)
def test_squeeze(axes):
    x = rand((1, 3, 1, 2))
    ort_axes = None if axes is None else i64(axes)
    same(S.squeeze(x, axes=axes), ort("Squeeze", [x, ort_axes], opset=13))


def test_squeeze_rejects_non_unit_axis():
    with pytest.raises(ValueError, match="size 1"):
        S.squeeze(np.zeros((1, 3)), axes=(1,))


@pytest.mark.parametrize("axes", [(0,), (2,), (-1,), (0, 3), (1, -1), (0, 1, 2)], ids=str)
def test_unsqueeze(axes):
    x = rand((2, 3))
    same(S.unsqueeze(x, axes=axes), ort("Unsqueeze", [x, i64(axes)], opset=13))
    with pytest.raises(ValueError, match="out of range"):
        S.unsqueeze(x, axes=(3,))


@pytest.mark.parametrize("axis", [0, 1, 2, -1, -2])
def test_concat(axis):
    shapes = [[2, 3, 4], [2, 3, 4], [2, 3, 4]]
    for i, s in enumerate(shapes):
        s[axis] = i + 1
    xs = [rand(tuple(s)) for s in shapes]
    same(S.concat(xs, axis=axis), ort("Concat", xs, {"axis": axis}))


def test_concat_errors():
    with pytest.raises(ValueError, match="dtype"):
        S.concat([np.zeros(2, np.float32), np.zeros(2, np.int64)], axis=0)
    with pytest.raises(ValueError, match="concat"):
        S.concat([np.zeros((2, 3)), np.zeros((3, 3))], axis=1)


@pytest.mark.parametrize(
    "axis,sizes", [(0, (1, 3)), (1, (2, 2, 1)), (-1, (3, 0, 3)), (1, (5,))], ids=str
)
def test_split(axis, sizes):
    x = rand((4, 5, 6))
    got = S.split(x, axis=axis, sizes=sizes)
    want = run_node("Split", [x, i64(sizes)], {"axis": axis}, n_outputs=len(sizes), opset=13)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        same(g, w)
    with pytest.raises(ValueError, match="add up"):
        S.split(x, axis=axis, sizes=(1, 1))


SLICES = [
    # starts, ends, axes, steps
    ((0,), (3,), None, None),
    ((1, 0), (-1, 100), (0, 2), None),
    ((-100,), (INT64_MAX,), (1,), None),
    ((INT64_MAX,), (INT64_MIN,), (0,), (-1,)),
    ((-1,), (-100,), (2,), (-1,)),
    ((4, 3), (0, -10), (2, 1), (-2, -1)),
    ((10,), (-1,), (1,), (-1,)),
    ((2,), (2,), (0,), None),
    ((3,), (1,), (0,), (1,)),
    ((0, 0, 0), (4, 5, 6), (0, 1, 2), (2, 3, 4)),
    ((-2,), (-4,), (-1,), (-1,)),
    ((1,), (INT64_MIN,), (-2,), (-2,)),
    ((-1,), (1,), (0,), (-1,)),
]


@pytest.mark.parametrize("starts,ends,axes,steps", SLICES, ids=str)
def test_slice(starts, ends, axes, steps):
    x = rand((4, 5, 6))
    inputs = [x, i64(starts), i64(ends), None if axes is None else i64(axes)]
    inputs.append(None if steps is None else i64(steps))
    if inputs[3] is None and steps is not None:
        inputs[3] = i64(range(len(starts)))
    same(S.slice(x, starts=starts, ends=ends, axes=axes, steps=steps), ort("Slice", inputs))


def test_normalize_slice_returns_python_slices():
    got = S.normalize_slice((4, 5), starts=(-1,), ends=(INT64_MIN,), axes=(1,), steps=(-1,))
    assert got == (slice(None), slice(4, None, -1))
    assert S.normalize_slice((0,), (0,), (1,), None, (-1,)) == (slice(0, 0, -1),)
    with pytest.raises(ValueError, match="0"):
        S.normalize_slice((4,), (0,), (1,), None, (0,))
    with pytest.raises(ValueError, match="length"):
        S.normalize_slice((4,), (0, 1), (1,), None, None)


@pytest.mark.parametrize(
    "axis,indices",
    [(0, [0, -1, 2]), (1, [[0, 1], [-1, -3]]), (2, 3), (-1, [-4, 0]), (1, np.zeros((0,), int))],
    ids=str,
)
@pytest.mark.parametrize("idx_dtype", [np.int32, np.int64], ids=lambda d: d.__name__)
def test_gather(axis, indices, idx_dtype):
    x = rand((3, 4, 4))
    idx = np.array(indices, dtype=idx_dtype)
    same(S.gather(x, idx, axis=axis), ort("Gather", [x, idx], {"axis": axis}))


def test_gather_out_of_range():
    with pytest.raises(ValueError, match="out of range"):
        S.gather(np.zeros((3, 2)), np.array([3]), axis=0)


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_gather_elements(axis):
    x = rand((3, 4))
    n = x.shape[axis]
    idx = RNG.integers(-n, n, (2, 3)).astype(I64)  # shorter than x on the other axis too
    same(S.gather_elements(x, idx, axis=axis), ort("GatherElements", [x, idx], {"axis": axis}))


@pytest.mark.parametrize(
    "x_shape,idx,batch_dims",
    [
        ((2, 2), [[0, 0], [1, 1]], 0),
        ((2, 2), [[1], [0]], 0),
        ((2, 2, 2), [[0, 1], [1, -1]], 0),
        ((2, 2, 2), [[[0, 1]], [[1, 0]]], 0),
        ((2, 2, 2), [[1], [0]], 1),
        ((2, 3, 4), [[[1, 2], [0, -1]], [[2, 3], [1, 0]]], 1),
    ],
    ids=str,
)
def test_gather_nd(x_shape, idx, batch_dims):
    x = rand(x_shape)
    idx = i64(idx)
    want = ort("GatherND", [x, idx], {"batch_dims": batch_dims}, opset=13)
    same(S.gather_nd(x, idx, batch_dims=batch_dims), want)


@pytest.mark.parametrize("reduction", ["none", "add", "mul", "max", "min"])
def test_scatter_nd(reduction):
    x = rand((4, 3, 2))
    idx = i64([[0], [2], [-1]])
    updates = rand((3, 3, 2))
    want = ort("ScatterND", [x, idx, updates], {"reduction": reduction}, opset=18)
    same(S.scatter_nd(x, idx, updates, reduction=reduction), want)
    idx2 = i64([[0, 1], [3, 2]])
    upd2 = rand((2, 2))
    want = ort("ScatterND", [x, idx2, upd2], {"reduction": reduction}, opset=18)
    same(S.scatter_nd(x, idx2, upd2, reduction=reduction), want)


@pytest.mark.parametrize(
    "x_shape,shape",
    [((3, 1), (2, 1, 6)), ((3, 1), (3, 4)), ((1,), (2, 3)), ((2, 3), (1, 1)), ((), (2,))],
    ids=str,
)
def test_expand(x_shape, shape):
    x = rand(x_shape)
    same(S.expand(x, shape), ort("Expand", [x, i64(shape)]))
    with pytest.raises(ValueError, match="broadcast"):
        S.expand(np.zeros((3,)), (2,))


@pytest.mark.parametrize("repeats", [(1, 1), (2, 3), (0, 2), (3, 1)], ids=str)
def test_tile(repeats):
    x = rand((2, 3), np.int64)
    same(S.tile(x, repeats), ort("Tile", [x, i64(repeats)]))
    with pytest.raises(ValueError, match="repeats"):
        S.tile(x, (2,))


PADS = [
    (0, 0, 0, 0),
    (1, 2, 3, 1),
    (0, 1, 0, 2),
    (-1, 1, 1, -2),
    (2, -1, -2, 1),
    (-1, -1, 0, 0),
]


@pytest.mark.parametrize("pads", PADS, ids=str)
@pytest.mark.parametrize("mode", ["constant", "reflect", "edge", "wrap"])
def test_pad(mode, pads):
    x = rand((4, 5))
    inputs = [x, i64(pads)]
    value = None
    if mode == "constant":
        value = np.float32(2.5)
        inputs.append(np.array(value, np.float32))
    try:
        want = ort("Pad", inputs, {"mode": mode}, opset=19)
    except InvalidArgument:  # onnxruntime rejects reflect pads wider than the cropped dim - 1
        with pytest.raises(ValueError, match="reflect"):
            S.pad(x, pads=pads, mode=mode, value=value)
        return
    same(S.pad(x, pads=pads, mode=mode, value=value), want)


def test_pad_int_default_value_and_errors():
    x = rand((2, 3), np.int32)
    same(S.pad(x, pads=(1, 0, 0, 2)), ort("Pad", [x, i64((1, 0, 0, 2))], {}, opset=18))
    with pytest.raises(ValueError, match="reflect"):
        S.pad(x, pads=(2, 0, 0, 0), mode="reflect")
    with pytest.raises(ValueError, match="pads"):
        S.pad(x, pads=(1, 1))
    with pytest.raises(ValueError, match="mode"):
        S.pad(x, pads=(0, 0, 0, 0), mode="mirror")


INT_RANGES = [(0, 10, 3), (10, 0, -3), (5, 5, 1), (5, 0, 1), (-7, 7, 2)]
FLOAT_RANGES = [(0.0, 1.0, 0.1), (1.5, -2.0, -0.25), (0.0, 1.0, 0.3333), (-1.0, 1.0, 0.5)]
RANGE_CASES = [(r, d) for r in INT_RANGES for d in (np.float32, np.int32, np.int64)]
RANGE_CASES += [(r, d) for r in FLOAT_RANGES for d in (np.float32, np.float64)]


@pytest.mark.parametrize("bounds,dtype", RANGE_CASES, ids=str)
def test_range(bounds, dtype):
    args = [np.array(v, dtype) for v in bounds]
    same(S.range(*args), ort("Range", args, opset=11))


def test_range_zero_delta():
    with pytest.raises(ValueError, match="delta"):
        S.range(np.int64(0), np.int64(3), np.int64(0))


@pytest.mark.parametrize(
    "shape,value",
    [
        ((2, 3), None),
        ((4,), np.array([7], np.int64)),
        ((0, 2), np.array([1.5], np.float32)),
        ((), np.array([True])),
    ],
    ids=str,
)
def test_constant_of_shape(shape, value):
    attrs = {} if value is None else {"value": numpy_helper.from_array(value)}
    want = ort("ConstantOfShape", [i64(shape)], attrs)
    same(S.constant_of_shape(shape, value), want)


@pytest.mark.parametrize(
    "start,end", [(0, None), (1, None), (-2, None), (0, -1), (-10, 10), (3, 1)], ids=str
)
def test_shape_of(start, end):
    x = rand((2, 3, 4, 5))
    attrs = {"start": start} if end is None else {"start": start, "end": end}
    same(S.shape_of(x, start=start, end=end), ort("Shape", [x], attrs, opset=15))


def test_size_of():
    for shape in [(2, 3), (), (0, 4)]:
        x = np.zeros(shape, np.float32)
        same(S.size_of(x), ort("Size", [x]))


@pytest.mark.parametrize(
    "x",
    [
        np.array([[1, 0], [1, 1]], np.float32),
        np.zeros((2, 3), np.float32),
        np.array([0, 3, 0, -1], np.int64),
        np.array([[[True, False]], [[False, True]]]),
        np.array(3.0, np.float32),
        np.array(0.0, np.float32),
        np.zeros((0, 2), np.int32),
    ],
    ids=lambda x: f"{x.dtype}{x.shape}",
)
def test_nonzero(x):
    same(S.nonzero(x), ort("NonZero", [x]))


@pytest.mark.parametrize("largest", [True, False])
@pytest.mark.parametrize("axis", [0, 1, -1])
@pytest.mark.parametrize("k", [1, 3])
@pytest.mark.parametrize("dtype", [np.float32, np.int64, np.uint8], ids=lambda d: d.__name__)
def test_topk_sorted_with_ties(dtype, k, axis, largest):
    x = RNG.integers(0, 4, (4, 5, 6)).astype(dtype)  # many ties
    attrs = {"axis": axis, "largest": int(largest), "sorted": 1}
    if dtype == np.uint8:  # onnxruntime has no uint8 TopK: check against int64 instead
        want = run_node("TopK", [x.astype(np.int64), i64([k])], attrs, n_outputs=2)
        want[0] = want[0].astype(np.uint8)
    else:
        want = run_node("TopK", [x, i64([k])], attrs, n_outputs=2)
    values, indices = S.topk(x, k=k, axis=axis, largest=largest, sorted=True)
    same(values, want[0])
    same(indices, want[1])


def test_topk_unsorted_returns_the_same_set():
    x = rand((3, 8))
    want_v, want_i = run_node("TopK", [x, i64([4])], {"sorted": 0}, n_outputs=2)
    values, indices = S.topk(x, k=4, axis=1, largest=True, sorted=False)
    same(np.sort(indices, axis=1), np.sort(want_i, axis=1))
    same(np.sort(values, axis=1), np.sort(want_v, axis=1))
    with pytest.raises(ValueError, match="k="):
        S.topk(x, k=9, axis=1)


@pytest.mark.parametrize("exclusive", [False, True])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("axis", [0, 1, -1])
@pytest.mark.parametrize("dtype", [np.float32, np.int32, np.int64], ids=lambda d: d.__name__)
def test_cumsum(dtype, axis, reverse, exclusive):
    x = rand((3, 4), dtype)
    attrs = {"exclusive": int(exclusive), "reverse": int(reverse)}
    want = ort("CumSum", [x, np.array(axis, I64)], attrs, opset=14)
    same(S.cumsum(x, axis, exclusive=exclusive, reverse=reverse), want)


@pytest.mark.parametrize(
    "equation,shapes",
    [
        ("ij,jk->ik", [(2, 3), (3, 4)]),
        ("bij,bjk->bik", [(2, 2, 3), (2, 3, 4)]),
        ("ii->i", [(3, 3)]),
        ("ij->ji", [(2, 3)]),
        ("i,i", [(4,), (4,)]),
        ("...ij,...jk->...ik", [(2, 2, 3), (2, 3, 4)]),
        ("bhqd,bhkd->bhqk", [(1, 2, 3, 4), (1, 2, 5, 4)]),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_einsum(equation, shapes):
    xs = [rand(s) for s in shapes]
    same(S.einsum(equation, *xs), ort("Einsum", xs, {"equation": equation}, opset=12))


def test_normalize_axes_errors():
    with pytest.raises(ValueError, match="out of range"):
        S.normalize_axis(3, 3, "x")
    with pytest.raises(ValueError, match="repeated"):
        S.normalize_axes((0, -3), 3, "x")
    assert S.normalize_axes((-1, 0), 3) == (2, 0)


def test_constant_of_shape_default_dtype():
    out = S.constant_of_shape(i64([2]))
    assert out.dtype == np.float32 and np.all(out == 0)
