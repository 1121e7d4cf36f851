"""ONNX import of Resize (opsets 10 to 19) and Upsample, checked against onnxruntime."""

import numpy as np
import pytest
from kiln.frontend.onnx.importer import ImportFailure, ImportOptions, import_model
from onnx import helper
from onnx_case import check_model, check_node, make_model

rng = np.random.default_rng(0)
EMPTY = np.zeros((0,), np.float32)


def f32(*shape):
    return rng.standard_normal(shape).astype(np.float32)


def scales(*values):
    return np.array(values, np.float32)


def sizes(*values):
    return np.array(values, np.int64)


def resize_ops(module):
    return [op for op in module.main.body if op.name == "top.resize"]


def check_resize(x, attrs, roi=None, scale_values=None, size_values=None, opset=13, **kw):
    """One Resize node with its roi/scales/sizes as initializers ('' when omitted)."""
    inits, names = {}, ["x"]
    for name, value in (("roi", roi), ("scales", scale_values), ("sizes", size_values)):
        if value is not None:
            inits[name] = value
            names.append(name)
        else:
            names.append("")
    while names[-1] == "":
        names.pop()
    module = check_node("Resize", {"x": x}, attrs, inits, opset=opset, order=names, **kw)
    (op,) = resize_ops(module)
    return op


# -- real exporters' patterns -------------------------------------------------------------------
@pytest.mark.parametrize("opset", [11, 13])
def test_pytorch_upsample_nearest_2x(opset):
    """nn.Upsample(scale_factor=2, mode='nearest'): Resize(x, roi, scales) with asymmetric
    coordinates and floor rounding; opset 11 passes an empty roi, 13 may omit it."""
    attrs = {"mode": "nearest", "coordinate_transformation_mode": "asymmetric",
             "nearest_mode": "floor", "cubic_coeff_a": -0.75}
    roi = EMPTY if opset == 11 else None
    op = check_resize(f32(1, 3, 5, 6), attrs, roi, scales(1, 1, 2, 2), opset=opset)
    assert op.sizes == (1, 3, 10, 12) and op.scales == (1.0, 1.0, 2.0, 2.0)
    assert op.mode == "nearest" and op.nearest_mode == "floor"
    assert op.coordinate_transformation_mode == "asymmetric"
    assert "cubic_coeff_a" not in op.attributes and "roi" not in op.attributes


@pytest.mark.parametrize("coord", ["half_pixel", "pytorch_half_pixel", "align_corners"])
@pytest.mark.parametrize("opset", [11, 13])
def test_pytorch_bilinear(coord, opset):
    """F.interpolate(mode='bilinear', align_corners=False / True), by scale and by size."""
    attrs = {"mode": "linear", "coordinate_transformation_mode": coord}
    check_resize(f32(2, 3, 4, 5), attrs, EMPTY, scales(1, 1, 2, 2), opset=opset)
    op = check_resize(f32(1, 2, 6, 5), attrs, EMPTY, EMPTY, sizes(1, 2, 9, 3), opset=opset)
    assert op.scales == (1.0, 1.0, 1.5, 0.6)


def test_yolo_nearest_upsample_in_a_graph():
    """YOLOv5's neck: Conv -> Resize(2x nearest) added to a skip branch."""
    x, skip = f32(1, 4, 4, 4), f32(1, 2, 8, 8)
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"]),
             helper.make_node("Resize", ["c", "", "s"], ["up"], mode="nearest",
                              coordinate_transformation_mode="asymmetric",
                              nearest_mode="floor"),
             helper.make_node("Add", ["up", "skip"], ["y"])]
    model = make_model(nodes, {"x": x, "skip": skip}, ["y"],
                       {"w": f32(2, 4, 1, 1), "s": scales(1, 1, 2, 2)}, opset=13)
    module = check_model(model, {"x": x, "skip": skip})
    assert [op.name for op in module.main.body][-3:] == ["top.resize", "top.add", "func.return"]


# -- modes --------------------------------------------------------------------------------------
COORDS = ["half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric",
          "tf_half_pixel_for_nn"]


@pytest.mark.parametrize("coord", COORDS)
@pytest.mark.parametrize("nearest_mode", ["round_prefer_floor", "round_prefer_ceil", "floor",
                                          "ceil"])
@pytest.mark.parametrize("factors", [(2.0, 3.0), (0.5, 0.6), (1.7, 0.75)])
def test_nearest(coord, nearest_mode, factors):
    attrs = {"mode": "nearest", "coordinate_transformation_mode": coord,
             "nearest_mode": nearest_mode}
    check_resize(f32(1, 2, 7, 8), attrs, None, scales(1, 1, *factors))


@pytest.mark.parametrize("coord", COORDS)
@pytest.mark.parametrize("factors", [(2.0, 3.0), (0.5, 0.6), (1.7, 0.75)])
def test_linear(coord, factors):
    attrs = {"mode": "linear", "coordinate_transformation_mode": coord}
    check_resize(f32(2, 2, 7, 8), attrs, None, scales(1, 1, *factors))


@pytest.mark.parametrize("coord", ["half_pixel", "pytorch_half_pixel", "align_corners",
                                   "asymmetric"])
@pytest.mark.parametrize("a, exclude", [(-0.75, 0), (-0.5, 1), (-0.75, 1)])
@pytest.mark.parametrize("factors", [(2.0, 1.5), (0.5, 0.8)])
def test_cubic(coord, a, exclude, factors):
    attrs = {"mode": "cubic", "coordinate_transformation_mode": coord, "cubic_coeff_a": a,
             "exclude_outside": exclude}
    op = check_resize(f32(1, 2, 6, 7), attrs, None, scales(1, 1, *factors))
    assert op.cubic_coeff_a == a and op.exclude_outside == bool(exclude)


def test_half_pixel_symmetric_opset19():
    attrs = {"mode": "linear", "coordinate_transformation_mode": "half_pixel_symmetric"}
    check_resize(f32(1, 2, 5, 6), attrs, None, scales(1, 1, 1.5, 0.7), opset=19)
    check_resize(f32(1, 2, 5, 6), attrs, None, None, sizes(1, 2, 8, 4), opset=19)


@pytest.mark.parametrize("mode", ["nearest", "linear"])
def test_tf_crop_and_resize(mode):
    attrs = {"mode": mode, "coordinate_transformation_mode": "tf_crop_and_resize",
             "extrapolation_value": 7.5}
    roi = np.array([0, 0, -0.2, 0.3, 1, 1, 0.8, 1.25], np.float32)  # leaves the input
    op = check_resize(f32(1, 2, 6, 6), attrs, roi, None, sizes(1, 2, 5, 7))
    assert op.roi == (0.0, 0.0, -0.2, 0.3, 1.0, 1.0, 0.8, 1.25)
    assert op.extrapolation_value == 7.5


def test_nearest_other_ranks_and_integers():
    attrs = {"mode": "nearest"}
    check_resize(f32(2, 3, 5), attrs, None, scales(1, 1, 2.5))
    check_resize(f32(3, 4), attrs, None, None, sizes(6, 3))
    x = rng.integers(0, 255, (1, 3, 4, 4)).astype(np.uint8)
    check_resize(x, attrs, None, scales(1, 1, 2, 2))


def test_sizes_from_scales_truncate_in_float32():
    """size = int(float32(scale) * float32(dim)): 7 * 1.3 = 9.1 -> 9, 5 * 0.3 -> 1."""
    op = check_resize(f32(1, 1, 7, 5), {"mode": "linear"}, None, scales(1, 1, 1.3, 0.3))
    assert op.sizes == (1, 1, 9, 1) and op.scales == (1.0, 1.0, 1.3, 0.3)


# -- opset 18: axes, keep_aspect_ratio_policy ---------------------------------------------------
@pytest.mark.parametrize("axes", [[2, 3], [-2, -1], [3, 2]])
def test_axes_with_scales(axes):
    values = scales(2, 3) if axes != [3, 2] else scales(3, 2)
    op = check_resize(f32(1, 2, 4, 5), {"mode": "linear", "axes": axes}, None, values,
                      opset=18)
    assert op.sizes == (1, 2, 8, 15)


def test_axes_with_sizes_and_roi():
    attrs = {"mode": "linear", "axes": [3], "coordinate_transformation_mode":
             "tf_crop_and_resize"}
    op = check_resize(f32(1, 2, 4, 5), attrs, np.array([0.1, 0.9], np.float32), None,
                      sizes(7), opset=18)
    assert op.sizes == (1, 2, 4, 7) and op.roi == (0.0, 0.0, 0.0, 0.1, 1.0, 1.0, 1.0, 0.9)


@pytest.mark.parametrize("policy, want", [("stretch", (1, 2, 6, 12)),
                                          ("not_larger", (1, 2, 6, 8)),
                                          ("not_smaller", (1, 2, 9, 12))])
@pytest.mark.parametrize("mode", ["nearest", "linear"])
def test_keep_aspect_ratio_policy(policy, want, mode):
    attrs = {"mode": mode, "axes": [2, 3], "keep_aspect_ratio_policy": policy}
    op = check_resize(f32(1, 2, 3, 4), attrs, None, None, sizes(6, 12), opset=18)
    assert op.sizes == want


def test_keep_aspect_ratio_rounds_half_up():
    """not_larger: scale min(5/4, 5/3) = 1.25; 1.25 * 6 = 7.5 rounds to 8 (roundf)."""
    attrs = {"mode": "nearest", "axes": [2, 3], "keep_aspect_ratio_policy": "not_larger"}
    op = check_resize(f32(1, 1, 4, 6), attrs, None, None, sizes(5, 10), opset=18)
    assert op.sizes == (1, 1, 5, 8) and op.scales == (1.0, 1.0, 1.25, 1.25)


# -- opset 10 Resize and Upsample ---------------------------------------------------------------
@pytest.mark.parametrize("mode", ["nearest", "linear"])
@pytest.mark.parametrize("factors", [(2.0, 3.0), (0.5, 0.6), (1.7, 1.0)])
def test_resize_opset10(mode, factors):
    module = check_node("Resize", {"x": f32(1, 2, 6, 10)}, {"mode": mode},
                        {"s": scales(1, 1, *factors)}, opset=10)
    (op,) = resize_ops(module)
    assert op.coordinate_transformation_mode == "asymmetric"
    if mode == "nearest":
        assert op.nearest_mode == ("ceil" if factors[0] < 1 else "floor")


def test_resize_opset10_nearest_mixed_directions_is_two_resizes():
    """onnxruntime floors on upsampled axes and ceils on downsampled ones."""
    module = check_node("Resize", {"x": f32(1, 2, 5, 10)}, {"mode": "nearest"},
                        {"s": scales(1, 1, 1.7, 0.6)}, opset=10)
    up, down = resize_ops(module)
    assert (up.nearest_mode, up.sizes, up.loc) == ("floor", (1, 2, 8, 10), "y0_up")
    assert (down.nearest_mode, down.sizes, down.scales) == ("ceil", (1, 2, 8, 6),
                                                            (1.0, 1.0, 1.0, 0.6))


@pytest.mark.parametrize("opset", [7, 8])
@pytest.mark.parametrize("mode", ["nearest", "linear"])
def test_upsample_scales_attribute(opset, mode):
    module = check_node("Upsample", {"x": f32(1, 2, 3, 4)},
                        {"mode": mode, "scales": [1.0, 1.0, 2.0, 1.5]}, opset=opset)
    assert resize_ops(module)[0].sizes == (1, 2, 6, 6)


@pytest.mark.parametrize("mode", ["nearest", "linear"])
def test_upsample_scales_input_opset9(mode):
    module = check_node("Upsample", {"x": f32(1, 2, 3, 4)}, {"mode": mode},
                        {"s": scales(1, 1, 2, 3)}, opset=9)
    assert resize_ops(module)[0].sizes == (1, 2, 6, 12)


# -- folding and errors -------------------------------------------------------------------------
def test_static_input_folds():
    x = f32(1, 1, 4, 4)
    nodes = [helper.make_node("Resize", ["c", "", "s"], ["r"], mode="nearest"),
             helper.make_node("Add", ["x", "r"], ["y"])]
    model = make_model(nodes, {"x": x}, ["y"], {"c": f32(1, 1, 2, 2), "s": scales(1, 1, 2, 2)})
    assert not resize_ops(check_model(model, {"x": x}))


def import_error(model, feeds):
    with pytest.raises(ImportFailure) as e:
        import_model(model, ImportOptions(example_inputs=feeds))
    return str(e.value)


def resize_model(names, attrs, inputs, inits, opset=13, op_type="Resize"):
    return make_model([helper.make_node(op_type, names, ["y"], **attrs)], inputs, ["y"], inits,
                      opset)


@pytest.mark.parametrize("names, inputs, inits, attrs, opset, message", [
    (["x", "", "s"], {"s": scales(1, 1, 2, 2)}, {}, {}, 13,
     "Resize's scales ('s') must be computable at compile time"),
    (["x", "", "s", "z"], {}, {"s": scales(1, 1, 2, 2), "z": sizes(1, 1, 8, 8)}, {}, 13,
     "exactly one of the scales and sizes inputs"),
    (["x", "", "s"], {}, {"s": scales(2, 2)}, {}, 13, "has 2 values but there are 4 axes"),
    (["x", "", "s"], {}, {"s": scales(1, 1, 2, 2)}, {"antialias": 1}, 18,
     "antialias=1 is not supported"),
    (["x", "", "", "z"], {}, {"z": sizes(8, 8)}, {"axes": [2, 2]}, 18,
     "axes [2, 2] must be distinct axes of a rank-4 input"),
    (["x", "", "", "z"], {}, {"z": sizes(8, 8)},
     {"axes": [2, 3], "keep_aspect_ratio_policy": "fit"}, 18, "keep_aspect_ratio_policy"),
    (["x", "", "s"], {}, {"s": scales(1, 1, 2, 2)}, {"mode": "area"}, 13,
     "mode must be one of nearest, linear, cubic"),
    (["x", "s"], {}, {"s": scales(1, 1, 0.5, 1)}, {}, 9, "Upsample scales must be >= 1"),
])
def test_errors(names, inputs, inits, attrs, opset, message):
    x = f32(1, 1, 4, 4)
    op_type = "Upsample" if opset < 10 else "Resize"
    model = resize_model(names, attrs, {"x": x, **inputs}, inits, opset, op_type)
    assert message in import_error(model, {"x": x, **inputs})
