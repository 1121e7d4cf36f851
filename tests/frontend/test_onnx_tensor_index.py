"""ONNX import of indexing and shape-computing ops: Gather, GatherElements, GatherND, ScatterND,
Size, ConstantOfShape, Range, NonZero, and the folding of exporters' shape subgraphs."""

import numpy as np
import pytest
from kiln.frontend.onnx.importer import ImportFailure, ImportOptions, import_model
from onnx import helper, numpy_helper
from onnx_case import check_model, check_node, make_model

rng = np.random.default_rng(1)


def f32(*shape):
    return rng.standard_normal(shape).astype(np.float32)


def i64(*values):
    return np.array(values, np.int64)


def op_names(module):
    return [op.name for op in module.main.body]


def the_op(module, name):
    (op,) = [op for op in module.main.body if op.name == name]
    return op


# -- Gather --------------------------------------------------------------------------------------
@pytest.mark.parametrize("axis,indices", [
    (0, i64(2, 0, -1)),
    (1, np.array([[0, -4], [3, 1]], np.int64)),
    (-1, np.array(-2, np.int64)),
    (-2, np.array([1, -1], np.int32)),
])
def test_gather_static_indices(axis, indices):
    m = check_node("Gather", {"x": f32(3, 4, 5)}, {"axis": axis},
                   initializers={"i": indices})
    if indices.ndim == 0:  # x[..., i] is a slice and a reshape
        assert op_names(m) == ["top.slice", "top.reshape", "func.return"]
        assert the_op(m, "top.slice").starts[axis] == indices % 5
        return
    op = the_op(m, "top.gather")
    assert op.axis == axis % 3
    idx = op.indices.owner.attributes["value"].array
    assert idx.min() >= 0 and idx.dtype == indices.dtype  # negatives made non-negative


@pytest.mark.parametrize("axis", [0, 2, -1])
def test_gather_dynamic_indices(axis):
    x = f32(4, 3, 5)
    dim = x.shape[axis]
    indices = np.array([[dim - 1, -1], [0, -dim]], np.int64)  # negative ones at run time
    m = check_node("Gather", {"x": x, "i": indices}, {"axis": axis})
    assert op_names(m) == ["top.gather", "func.return"]


def test_gather_embedding_from_static_table():
    table = f32(10, 4)
    m = check_node("Gather", {"i": i64(3, 9, 0, -10)}, initializers={"w": table},
                   order=["w", "i"])
    assert op_names(m) == ["top.weight", "top.gather", "func.return"]  # 40 > inline limit


def test_gather_out_of_range_static_index_is_an_error():
    model = make_model([helper.make_node("Gather", ["x", "i"], ["y"], name="g", axis=1)],
                       {"x": f32(2, 3)}, ["y"], {"i": i64(3)})
    with pytest.raises(ImportFailure, match=r"node 'g' \(Gather\).*out of range"):
        import_model(model, ImportOptions())


# -- GatherElements, GatherND, ScatterND ---------------------------------------------------------
@pytest.mark.parametrize("axis,dynamic", [(0, False), (1, True), (-1, False), (-2, True)])
def test_gather_elements(axis, dynamic):
    x = f32(3, 4)
    dim = x.shape[axis]
    indices = rng.integers(-dim, dim, size=(2, 4) if axis in (0, -2) else (3, 2))
    indices = indices.astype(np.int64)
    if dynamic:
        check_node("GatherElements", {"x": x, "i": indices}, {"axis": axis})
    else:
        m = check_node("GatherElements", {"x": x}, {"axis": axis}, initializers={"i": indices})
        assert the_op(m, "top.gather_elements").axis == axis % 2


@pytest.mark.parametrize("batch_dims,shape,indices", [
    (0, (3, 4), np.array([[0, 1], [-1, -2]], np.int64)),
    (0, (3, 4, 2), np.array([[2], [-3]], np.int64)),
    (1, (2, 3, 4), np.array([[[1]], [[-1]]], np.int64)),
    (1, (2, 3, 4), np.array([[1, -1], [0, 3]], np.int64)),
])
@pytest.mark.parametrize("dynamic", [False, True])
def test_gather_nd(batch_dims, shape, indices, dynamic):
    x = f32(*shape)
    if dynamic:
        check_node("GatherND", {"x": x, "i": indices}, {"batch_dims": batch_dims})
    else:
        m = check_node("GatherND", {"x": x}, {"batch_dims": batch_dims},
                       initializers={"i": indices})
        idx = the_op(m, "top.gather_nd").indices.owner.attributes["value"].array
        assert idx.min() >= 0


@pytest.mark.parametrize("reduction,opset", [("none", 13), ("add", 16), ("mul", 16),
                                             ("max", 18), ("min", 18)])
def test_scatter_nd(reduction, opset):
    x = f32(4, 3)
    attrs = {} if reduction == "none" else {"reduction": reduction}
    m = check_node("ScatterND", {"x": x, "u": f32(2, 3)}, attrs,
                   initializers={"i": np.array([[1], [-1]], np.int64)},
                   order=["x", "i", "u"], opset=opset)
    assert the_op(m, "top.scatter_nd").reduction == reduction


def test_scatter_nd_dynamic_indices():
    check_node("ScatterND", {"x": f32(2, 3, 4), "i": np.array([[0, 2], [1, 0]], np.int64),
                             "u": f32(2, 4)})


# -- shape computations --------------------------------------------------------------------------
def test_exporter_shape_subgraph_folds_to_a_static_reshape():
    """x.view(x.size(0), -1) as exporters write it: Shape -> Gather -> Unsqueeze -> Concat."""
    x = f32(2, 3, 4, 5)
    nodes = [
        helper.make_node("Relu", ["x"], ["r"]),
        helper.make_node("Shape", ["r"], ["s"]),
        helper.make_node("Gather", ["s", "zero"], ["n"], axis=0),
        helper.make_node("Gather", ["s", "last"], ["w"], axis=0),
        helper.make_node("Unsqueeze", ["n", "ax0"], ["n1"]),
        helper.make_node("Unsqueeze", ["w", "ax0"], ["w1"]),
        helper.make_node("Concat", ["n1", "minus1", "w1"], ["shape"], axis=0),
        helper.make_node("Reshape", ["r", "shape"], ["y"]),
    ]
    inits = {"zero": np.array(0, np.int64), "last": np.array(-1, np.int64),
             "ax0": i64(0), "minus1": i64(-1)}
    m = check_model(make_model(nodes, {"x": x}, ["y"], inits, opset=13), {"x": x})
    assert op_names(m) == ["top.relu", "top.reshape", "func.return"]
    assert the_op(m, "top.reshape").shape == (2, 12, 5)


def test_shape_subgraph_with_slice_size_and_constant_of_shape_folds():
    x = f32(2, 3, 4)
    nodes = [
        helper.make_node("Shape", ["x"], ["s"]),
        helper.make_node("Slice", ["s", "b", "e"], ["tail"]),       # [3, 4]
        helper.make_node("Size", ["x"], ["n"]),                     # 24
        helper.make_node("Unsqueeze", ["n", "ax0"], ["n1"]),
        helper.make_node("ConstantOfShape", ["tail"], ["ones"],
                         value=numpy_helper.from_array(np.array([1.0], np.float32))),
        helper.make_node("Add", ["x", "ones"], ["y0"]),
        helper.make_node("Reshape", ["x", "n1"], ["y1"]),
    ]
    inits = {"b": i64(1), "e": i64(np.iinfo(np.int64).max), "ax0": i64(0)}
    m = check_model(make_model(nodes, {"x": x}, ["y0", "y1"], inits), {"x": x})
    assert op_names(m) == ["top.constant", "top.add", "top.reshape", "func.return"]


def test_dynamic_int_shape_tensor_ops_are_emitted():
    """A shape-like int64 tensor that depends on an input stays in the IR."""
    v = i64(5, 6, 7)
    nodes = [helper.make_node("Gather", ["v", "i"], ["g"], axis=0),
             helper.make_node("Unsqueeze", ["g", "ax0"], ["g1"]),
             helper.make_node("Concat", ["g1", "c"], ["y"], axis=0)]
    m = check_model(make_model(nodes, {"v": v}, ["y"],
                               {"i": np.array(-1, np.int64), "ax0": i64(0), "c": i64(1, 2)},
                               opset=13), {"v": v})
    assert [n for n in op_names(m) if n != "top.constant"] == \
        ["top.slice", "top.reshape", "top.reshape", "top.concat", "func.return"]


@pytest.mark.parametrize("start,limit,delta,dtype", [(0, 5, 1, np.int64), (10, 2, -3, np.int32),
                                                     (0.5, 2.0, 0.25, np.float32)])
def test_range_static_folds(start, limit, delta, dtype):
    x = f32(1)
    nodes = [helper.make_node("Range", ["s", "l", "d"], ["r"]),
             helper.make_node("Shape", ["r"], ["n"]),
             helper.make_node("Expand", ["x", "n"], ["y"])]
    inits = {k: np.array(v, dtype) for k, v in zip("sld", (start, limit, delta))}
    m = check_model(make_model(nodes, {"x": x}, ["y"], inits), {"x": x})
    assert op_names(m) == ["top.expand", "func.return"]


def test_range_dynamic_is_a_clear_error():
    model = make_model([helper.make_node("Range", ["s", "l", "d"], ["y"], name="rg")],
                       {"l": i64(5).reshape(())}, ["y"],
                       {"s": np.array(0, np.int64), "d": np.array(1, np.int64)})
    with pytest.raises(ImportFailure, match=r"node 'rg' \(Range\): Range's limit \('l'\) "
                                            r"must be computable at compile time"):
        import_model(model, ImportOptions())


def test_nonzero_static_folds():
    mask = np.array([[1, 0, 2], [0, 3, 0]], np.float32)
    x = f32(2, 3)
    nodes = [helper.make_node("NonZero", ["mask"], ["nz"]),
             helper.make_node("Transpose", ["nz"], ["t"], perm=[1, 0]),
             helper.make_node("GatherND", ["x", "t"], ["y"])]
    m = check_model(make_model(nodes, {"x": x}, ["y"], {"mask": mask}), {"x": x})
    assert op_names(m) == ["top.constant", "top.gather_nd", "func.return"]


def test_nonzero_dynamic_is_a_clear_error():
    model = make_model([helper.make_node("NonZero", ["x"], ["y"], name="nz")],
                       {"x": f32(3)}, ["y"])
    with pytest.raises(ImportFailure, match="NonZero on a value that depends on the inputs "
                                            "has a data-dependent shape"):
        import_model(model, ImportOptions())


def test_constant_of_shape_default_value_and_int_value():
    x = i64(1, 2, 3)
    nodes = [helper.make_node("ConstantOfShape", ["s"], ["z"]),
             helper.make_node("ConstantOfShape", ["s"], ["k"],
                              value=numpy_helper.from_array(i64(4))),
             helper.make_node("Add", ["x", "k"], ["y"]),
             helper.make_node("Shape", ["z"], ["y2"])]
    check_model(make_model(nodes, {"x": x}, ["y", "y2"], {"s": i64(3)}), {"x": x})


def test_gather_dynamic_scalar_index():
    m = check_node("Gather", {"x": f32(3, 4), "i": np.array(-1, np.int64)}, {"axis": 1})
    assert the_op(m, "top.gather").output.type.shape == (3,)
