"""The onnxruntime reference (kiln.frontend.onnx.reference)."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from kiln.frontend.onnx.reference import (
    ReferenceFailure,
    graph_inputs,
    run_onnx,
    with_all_outputs,
)
from onnx import helper
from tool_case import core_model, save

FEEDS = {"input": np.random.default_rng(0).standard_normal((1, 3, 16, 16)).astype(np.float32)}


def test_outputs_only_by_default():
    got = run_onnx(core_model(), FEEDS)
    assert list(got) == ["out", "feat"]
    np.testing.assert_array_equal(got["out"], got["feat"].reshape(1, -1))


def test_every_tensor_in_graph_order():
    model = core_model()
    got = run_onnx(model, FEEDS, all_tensors=True)
    assert list(got) == ["input", "conv1", "relu1", "conv2", "add1", "relu2", "feat", "out"]
    np.testing.assert_array_equal(got["relu1"], np.maximum(got["conv1"], 0))
    np.testing.assert_array_equal(got["input"], FEEDS["input"])
    assert len(model.graph.output) == 2  # the caller's model is not changed
    assert len(with_all_outputs(model).graph.output) == 7


def test_newer_ir_version_is_lowered(tmp_path):
    model = core_model(ir_version=onnx.IR_VERSION)
    path = save(model, tmp_path / "new.onnx")
    got = run_onnx(path, FEEDS, all_tensors=True)
    want = run_onnx(core_model(), FEEDS, all_tensors=True)
    for name in want:
        np.testing.assert_array_equal(got[name], want[name])


def test_opset_too_new_for_onnxruntime_is_reported():
    newest = max(row[2] for row in helper.VERSION_TABLE)
    model = core_model(opset=newest, ir_version=onnx.IR_VERSION)
    try:
        run_onnx(model, FEEDS)
    except ReferenceFailure as e:
        assert "<model>" in str(e)
    else:
        pytest.skip("the installed onnxruntime runs the newest opset")


def test_graph_inputs_skip_initializers_and_keep_dynamic_dims():
    model = core_model()
    model.graph.input.append(helper.make_tensor_value_info("w1", onnx.TensorProto.FLOAT,
                                                           [4, 3, 3, 3]))
    model.graph.input[0].type.tensor_type.shape.dim[0].dim_param = "N"
    assert graph_inputs(model) == [("input", (-1, 3, 16, 16), np.dtype(np.float32))]


def test_errors_name_the_model(tmp_path):
    with pytest.raises(ReferenceFailure, match="no such file"):
        run_onnx(tmp_path / "none.onnx", FEEDS)
    (tmp_path / "junk.onnx").write_bytes(b"\xff\xff\xff garbage")
    with pytest.raises(ReferenceFailure, match=r"junk\.onnx"):
        run_onnx(tmp_path / "junk.onnx", FEEDS)
    with pytest.raises(ReferenceFailure, match="no data for input 'input'"):
        run_onnx(core_model(), {})
    with pytest.raises(ReferenceFailure, match="onnxruntime failed"):
        run_onnx(core_model(), {"input": np.zeros((1, 3, 8, 8), np.float32)})
