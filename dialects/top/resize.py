"""top ops: resize (ONNX Resize and the deprecated Upsample).

The importer resolves everything ONNX passes as inputs or leaves implicit: `sizes` is the full
output shape and `scales` the full-rank scales the coordinate transform uses (ONNX's `axes`,
`keep_aspect_ratio_policy`, a `sizes` input and opset-dependent defaults are all resolved), so
the op is self-contained. The string-valued ONNX attributes are enums:

    %y = top.resize %x {sizes = [1, 3, 16, 16], scales = [1.0, 1.0, 2.0, 2.0],
                        mode = #resize_mode<nearest>,
                        coordinate_transformation_mode = #resize_coord<asymmetric>,
                        nearest_mode = #resize_nearest<floor>} : ...
"""

from __future__ import annotations

import numpy as np

from ...compiler.attributes import EnumAttr
from ...compiler.opdef import OpDef, attr, op_error, tensor_type
from ...compiler.types import CalibratedType
from ...kernels import resize as resize_kernels

MODES = ("nearest", "linear", "cubic")
COORD_MODES = ("half_pixel", "half_pixel_symmetric", "pytorch_half_pixel", "align_corners",
               "asymmetric", "tf_half_pixel_for_nn", "tf_crop_and_resize")
NEAREST_MODES = ("round_prefer_floor", "round_prefer_ceil", "floor", "ceil")

# attribute name -> the kind of its enum (`#kind<value>`)
ENUM_KINDS = {"mode": "resize_mode", "coordinate_transformation_mode": "resize_coord",
              "nearest_mode": "resize_nearest"}


def resize_enum(name: str, value: str) -> EnumAttr:
    """The enum attribute of `top.resize`'s attribute `name` holding `value`."""
    return EnumAttr(ENUM_KINDS[name], value)


class ResizeOp(OpDef):
    """Resize to the full shape `sizes`, separable over axes; `scales[i]` (as float32) drives
    the coordinate transform of axis i, and an axis whose scale is 1 is copied unchanged.
    `roi` ([starts..., ends...], full rank) is used by tf_crop_and_resize only."""

    NAME = "top.resize"
    OPERANDS = ("input",)
    RESULTS = ("output",)
    ATTRS = {
        "sizes": attr("ints"),
        "scales": attr("floats"),
        "mode": attr("enum", choices=MODES),
        "coordinate_transformation_mode": attr("enum", default="half_pixel",
                                               choices=COORD_MODES),
        "nearest_mode": attr("enum", default="round_prefer_floor", choices=NEAREST_MODES),
        "cubic_coeff_a": attr("float", default=-0.75),
        "exclude_outside": attr("bool", default=False),
        "extrapolation_value": attr("float", default=0.0),
        "roi": attr("floats", default=()),
    }
    PURE = True

    def verify_(self) -> None:
        x = tensor_type(self, self.input, "input")
        r = tensor_type(self, self.output, "result")
        for name, kind in ENUM_KINDS.items():
            value = self.attributes.get(name)
            if isinstance(value, EnumAttr) and value.kind != kind:
                raise op_error(self, f"attribute '{name}' must be a #{kind}<...>, got "
                                     f"#{value.kind}<{value.value}>")
        calibrated = isinstance(x.element, CalibratedType) or \
            isinstance(r.element, CalibratedType)
        if (r.expressed != x.expressed) if calibrated else (r.element != x.element):
            raise op_error(self, "result element type differs from the input's")  # ranges
            # of !quant.calibrated types may differ: each tensor has its own
        if self.mode != "nearest" and not x.scalar.is_float:
            raise op_error(self, f"{self.mode} resize needs a float input")
        rank = x.rank
        sizes, scales = tuple(self.sizes), tuple(self.scales)
        if len(sizes) != rank or any(s < 1 for s in sizes):
            raise op_error(self, f"'sizes' must be {rank} positive values, got {list(sizes)}")
        if len(scales) != rank or any(not s > 0 for s in scales):
            raise op_error(self, f"'scales' must be {rank} positive values, got {list(scales)}")
        if self.roi and len(self.roi) != 2 * rank:
            raise op_error(self, f"'roi' needs {2 * rank} values, got {len(self.roi)}")
        if sizes != r.shape:
            raise op_error(self, f"result shape {r.shape} differs from sizes {sizes}")
        for i, (d, s, n) in enumerate(zip(x.shape, scales, sizes)):
            if np.float32(s) == 1 and d >= 0 and d != n:
                raise op_error(self, f"axis {i} has scale 1 but resizes {d} to {n}")

    def compute(self, x):
        return resize_kernels.resize(
            x, sizes=self.sizes, scales=self.scales, mode=self.mode,
            coordinate_transformation_mode=self.coordinate_transformation_mode,
            nearest_mode=self.nearest_mode, cubic_coeff_a=self.cubic_coeff_a,
            exclude_outside=self.exclude_outside,
            extrapolation_value=self.extrapolation_value, roi=self.roi or None)


__all__ = ["ResizeOp"]
