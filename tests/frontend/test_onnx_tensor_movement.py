"""ONNX import of data-movement ops: reshapes, Concat, Split, Slice, Tile, Expand, Pad,
DepthToSpace/SpaceToDepth, TopK, CumSum, Einsum (checked against onnxruntime)."""

import numpy as np
import pytest
from kiln.frontend.onnx.importer import ImportFailure, ImportOptions, import_model
from onnx import helper
from onnx_case import check_model, check_node, make_model

rng = np.random.default_rng(0)
INT64_MAX = np.iinfo(np.int64).max
INT64_MIN = np.iinfo(np.int64).min


def f32(*shape):
    return rng.standard_normal(shape).astype(np.float32)


def i64(*values):
    return np.array(values, np.int64)


def op_names(module):
    return [op.name for op in module.main.body]


def the_op(module, name):
    (op,) = [op for op in module.main.body if op.name == name]
    return op


# -- reshapes ------------------------------------------------------------------------------------
@pytest.mark.parametrize("axis", [0, 1, 2, 3, -1, -3])
def test_flatten(axis):
    m = check_node("Flatten", {"x": f32(2, 3, 4)}, {"axis": axis})
    assert op_names(m) == ["top.reshape", "func.return"]


@pytest.mark.parametrize("opset,axes", [(11, [1, -1]), (13, [1, -1]), (13, None), (21, [0]),
                                        (13, [])])
def test_squeeze(opset, axes):
    x = f32(1, 1, 3, 1)
    if axes is None:
        check_node("Squeeze", {"x": x}, opset=opset)
    elif opset < 13:
        check_node("Squeeze", {"x": x}, {"axes": axes}, opset=opset)
    else:
        check_node("Squeeze", {"x": x}, initializers={"axes": np.array(axes, np.int64)},
                   opset=opset)


@pytest.mark.parametrize("opset,axes", [(11, [0, -1]), (13, [0, -1]), (13, [2, 0]), (21, [1])])
def test_unsqueeze(opset, axes):
    x = f32(2, 3)
    if opset < 13:
        m = check_node("Unsqueeze", {"x": x}, {"axes": axes}, opset=opset)
    else:
        m = check_node("Unsqueeze", {"x": x}, initializers={"axes": i64(*axes)}, opset=opset)
    assert op_names(m) == ["top.reshape", "func.return"]


def test_squeeze_non_unit_axis_is_an_error():
    model = make_model([helper.make_node("Squeeze", ["x", "a"], ["y"], name="sq")],
                       {"x": f32(2, 3)}, ["y"], {"a": i64(0)})
    with pytest.raises(ImportFailure, match=r"node 'sq' \(Squeeze\).*do not have size 1"):
        import_model(model, ImportOptions())


# -- Concat and Split ----------------------------------------------------------------------------
@pytest.mark.parametrize("axis", [0, 1, -1, -2])
def test_concat(axis):
    shapes = {0: [(1, 3, 4), (2, 3, 4)], 1: [(2, 1, 4), (2, 3, 4)], -1: [(2, 3, 1), (2, 3, 5)],
              -2: [(2, 2, 4), (2, 3, 4)]}[axis]
    check_node("Concat", {"a": f32(*shapes[0]), "b": f32(*shapes[1]), "c": f32(*shapes[1])},
               {"axis": axis}, order=["a", "b", "c"] if axis in (0, -2, 1) else ["a", "b"])


def test_concat_mixed_static_and_dynamic_int64():
    m = check_node("Concat", {"a": i64(1, 2)}, {"axis": 0}, initializers={"b": i64(7, 8, 9)})
    op = the_op(m, "top.concat")
    assert op.axis == 0 and len(op.inputs) == 2


@pytest.mark.parametrize("opset,kind", [(11, "attr"), (13, "input"), (13, "equal"),
                                        (18, "num_outputs"), (18, "input")])
def test_split(opset, kind):
    x = f32(2, 7, 3) if kind != "equal" else f32(2, 6, 3)
    attrs = {"axis": -2}
    inits = {}
    n = 3
    if kind == "attr":
        attrs["split"] = [2, 4, 1]
    elif kind == "input":
        inits["s"] = i64(2, 4, 1)
    elif kind == "num_outputs":
        attrs["num_outputs"] = 3  # 7 -> 3, 3, 1
    m = check_node("Split", {"x": x}, attrs, initializers=inits, n_outputs=n, opset=opset)
    slices = [op for op in m.main.body if op.name == "top.slice"]
    assert [op.loc for op in slices] == ["y0", "y1", "y2"]
    assert all(op.attributes["steps"] == (1, 1, 1) for op in slices)


def test_split_dynamic_sizes_is_an_error():
    model = make_model([helper.make_node("Split", ["x", "s"], ["a", "b"], name="sp")],
                       {"x": f32(4), "s": i64(2, 2)}, ["a", "b"], opset=13)
    with pytest.raises(ImportFailure, match=r"Split's split .* must be computable"):
        import_model(model, ImportOptions())


# -- Slice ---------------------------------------------------------------------------------------
SLICE_CASES = {
    "basic": ([1, 0], [3, 2], [0, 1], None),
    "negative_axes": ([-3, 1], [-1, 100], [-3, -1], None),
    "int64_max": ([1], [INT64_MAX], [1], None),
    "reverse_all": ([-1], [INT64_MIN], [2], [-1]),
    "reverse_step2": ([INT64_MAX, 3], [-INT64_MAX, 0], [0, 1], [-2, -1]),
    "reverse_to_start": ([2], [-100], [0], [-1]),
    "step3": ([0, 1], [INT64_MAX, INT64_MAX], [1, 2], [3, 2]),
    "empty": ([3], [1], [2], None),
    "empty_negative_step": ([0], [3], [1], [-1]),
    "no_axes": ([0, 1, 2], [1, 3, 4], None, None),
}


@pytest.mark.parametrize("case", sorted(SLICE_CASES))
def test_slice(case):
    starts, ends, axes, steps = SLICE_CASES[case]
    inits = {"starts": i64(*starts), "ends": i64(*ends)}
    order = ["x", "starts", "ends"]
    if axes is not None:
        inits["axes"] = i64(*axes)
    if axes is not None or steps is not None:
        order.append("axes" if axes is not None else "")
    if steps is not None:
        inits["steps"] = i64(*steps)
        order.append("steps")
    m = check_node("Slice", {"x": f32(4, 5, 6)}, initializers=inits, order=order)
    op = the_op(m, "top.slice")
    x = np.arange(4 * 5 * 6).reshape(4, 5, 6)
    index = tuple(slice(s, e, t) for s, e, t in zip(op.starts, op.ends, op.steps))
    assert x[index].shape == op.output.type.shape  # the bounds are plain numpy bounds
    for d, s in zip(x.shape, op.starts):
        assert 0 <= s < max(d, 1)


def test_slice_opset9_attributes():
    check_node("Slice", {"x": f32(3, 4)}, {"starts": [1, -3], "ends": [INT64_MAX, -1],
                                           "axes": [0, 1]}, opset=9)


def test_slice_reverse_stores_numpy_bound_through_zero():
    m = check_node("Slice", {"x": f32(4)}, initializers={
        "s": i64(-1), "e": i64(INT64_MIN), "a": i64(0), "t": i64(-1)})
    op = the_op(m, "top.slice")
    assert (op.starts, op.ends, op.steps) == ((3,), (-5,), (-1,))


def test_slice_dynamic_starts_is_an_error():
    model = make_model([helper.make_node("Slice", ["x", "s", "e"], ["y"], name="sl")],
                       {"x": f32(4), "s": i64(0)}, ["y"], {"e": i64(2)})
    with pytest.raises(ImportFailure, match=r"Slice's starts \('s'\) must be computable"):
        import_model(model, ImportOptions())


# -- Tile, Expand --------------------------------------------------------------------------------
@pytest.mark.parametrize("repeats", [(1, 1), (2, 3), (3, 1)])
def test_tile(repeats):
    m = check_node("Tile", {"x": f32(2, 3)}, initializers={"r": i64(*repeats)})
    assert the_op(m, "top.tile").repeats == repeats


@pytest.mark.parametrize("xshape,shape", [((3, 1), (2, 1, 4)), ((1, 4), (3, 1)),
                                          ((2, 3), (2, 3)), ((3,), (1,))])
def test_expand(xshape, shape):
    m = check_node("Expand", {"x": f32(*xshape)}, initializers={"s": i64(*shape)})
    op = the_op(m, "top.expand")
    assert op.shape == op.output.type.shape == np.broadcast_shapes(xshape, shape)


# -- Pad -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["constant", "reflect", "edge", "wrap"])
def test_pad_modes(mode):
    opset = 19 if mode == "wrap" else 13
    check_node("Pad", {"x": f32(1, 2, 4, 5)},
               {"mode": mode}, initializers={"p": i64(0, 0, 1, 2, 0, 0, 2, 1)}, opset=opset)


def test_pad_constant_value_and_negative_pads():
    m = check_node("Pad", {"x": f32(3, 5)}, initializers={
        "p": i64(1, -1, -1, 2), "v": np.array(1.5, np.float32)})
    op = the_op(m, "top.pad")
    assert op.pads == (1, -1, -1, 2) and op.value == 1.5 and op.mode == "constant"


def test_pad_int_tensor_keeps_an_int_value():
    m = check_node("Pad", {"x": i64(1, 2, 3)}, initializers={"p": i64(2, 1), "v": i64(-7)})
    assert the_op(m, "top.pad").value == -7


def test_pad_opset2_attributes():
    check_node("Pad", {"x": f32(2, 3)}, {"pads": [0, 1, 1, 0], "value": 2.0,
                                         "mode": "constant"}, opset=10)


@pytest.mark.parametrize("axes", [[1], [-1, 0]])
def test_pad_axes_input(axes):
    pads = i64(*([1] * len(axes) + [2] * len(axes)))
    m = check_node("Pad", {"x": f32(2, 3)}, {"mode": "edge"},
                   initializers={"p": pads, "a": i64(*axes)}, order=["x", "p", "", "a"],
                   opset=18)
    assert len(the_op(m, "top.pad").pads) == 4


# -- DepthToSpace, SpaceToDepth ------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["DCR", "CRD"])
def test_depth_to_space(mode):
    m = check_node("DepthToSpace", {"x": f32(1, 8, 2, 3)}, {"blocksize": 2, "mode": mode})
    assert the_op(m, "top.depth_to_space").mode == mode


def test_space_to_depth():
    check_node("SpaceToDepth", {"x": f32(2, 3, 4, 6)}, {"blocksize": 2})


# -- TopK, CumSum, Einsum ------------------------------------------------------------------------
@pytest.mark.parametrize("axis,largest", [(-1, 1), (0, 0), (1, 1)])
def test_topk(axis, largest):
    m = check_node("TopK", {"x": f32(3, 5)}, {"axis": axis, "largest": largest},
                   initializers={"k": i64(2)}, n_outputs=2)
    values, indices = (the_op(m, n) for n in ("top.topk_values", "top.topk_indices"))
    assert (values.loc, indices.loc) == ("y0", "y1")
    assert values.axis == indices.axis == axis % 2 and values.k == 2


def test_topk_only_indices_are_an_output():
    x = f32(2, 6)
    nodes = [helper.make_node("TopK", ["x", "k"], ["vals", "idx"], axis=1)]
    m = check_model(make_model(nodes, {"x": x}, ["idx"], {"k": i64(3)}), {"x": x})
    assert the_op(m, "top.topk_indices").loc == "idx"
    assert m.main.return_op.operands[0].owner.name == "top.topk_indices"


@pytest.mark.parametrize("exclusive,reverse,axis", [(0, 0, 1), (1, 0, -1), (0, 1, 0),
                                                    (1, 1, -2)])
def test_cumsum(exclusive, reverse, axis):
    m = check_node("CumSum", {"x": f32(3, 4)}, {"exclusive": exclusive, "reverse": reverse},
                   initializers={"axis": np.array(axis, np.int32)})
    assert the_op(m, "top.cumsum").axis == axis % 2


@pytest.mark.parametrize("equation,shapes", [
    ("ij,jk->ik", [(2, 3), (3, 4)]),
    ("bij, bjk -> bik", [(2, 3, 4), (2, 4, 5)]),
    ("...ij,...jk->...ik", [(2, 3, 4), (2, 4, 5)]),
    ("ij,ij", [(2, 3), (2, 3)]),
    ("ii->i", [(3, 3)]),
    ("bhqd,bhkd->bhqk", [(1, 2, 3, 4), (1, 2, 5, 4)]),
    ("i,j,k->ijk", [(2,), (3,), (4,)]),
])
def test_einsum(equation, shapes):
    names = "abc"[:len(shapes)]
    m = check_node("Einsum", {n: f32(*s) for n, s in zip(names, shapes)},
                   {"equation": equation}, atol=1e-4)
    assert the_op(m, "top.einsum").equation == equation.replace(" ", "")


def test_einsum_with_a_static_operand_folds_nothing_else():
    x = f32(2, 3)
    m = check_node("Einsum", {"x": x}, {"equation": "ij,jk->ik"}, initializers={"w": f32(3, 4)})
    assert op_names(m) == ["top.constant", "top.einsum", "func.return"]
