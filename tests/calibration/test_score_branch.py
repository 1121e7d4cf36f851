"""kiln.calibration.score_branch: which layers only compute a detector's class scores."""

from __future__ import annotations

from pathlib import Path

from kiln.calibration.score_branch import score_branch_layers
from kiln.compiler.text.parser import parse_module

CASES = Path(__file__).with_name("score_cases.mlir")


def _layers(case: str, text: str | None = None) -> list[str]:
    from kiln import dialects  # noqa: F401  (registers the ops)

    module = parse_module(CASES.read_text() if text is None else text)
    return score_branch_layers(module.lookup(case))


def test_yolo_head_class_branch_only():
    assert _layers("yolo_head") == ["cls_conv", "cls_act", "cls_logits"]


def test_sigmoid_that_feeds_another_layer_is_not_a_score():
    assert _layers("silu_gate") == []


def test_chain_stops_at_an_op_with_two_activation_inputs():
    assert _layers("text_map_head") == ["fuse", "head", "logit"]


def test_box_branch_reaching_the_sigmoid_through_a_shared_slice_is_excluded():
    # the sigmoid's slice now takes box row 3 too: the box conv is read by the box multiply
    # and by the sigmoid, so it stays out; the class logits are still read only by scores
    text = CASES.read_text().replace("starts = [0, 4, 0], ends = [1, 6, 16]",
                                     "starts = [0, 3, 0], ends = [1, 5, 16]")
    assert _layers("yolo_head", text) == ["cls_conv", "cls_act", "cls_logits"]


def test_no_score_sigmoid_no_branch():
    text = CASES.read_text().replace("top.sigmoid %s", "top.tanh %s")
    assert _layers("yolo_head", text) == []


def test_classifier_logits_before_an_output_softmax():
    # a softmax output is a score like a sigmoid: its logits keep their peaks; the walk
    # stops at the reshape (the pooled feature map is not part of the branch)
    assert _layers("classifier_head") == ["fc", "logits"]
