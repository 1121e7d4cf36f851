"""The YOLOv8 search post-process (bench/yolo_scores.py): what F1 counts, smoothly."""

from __future__ import annotations

import numpy as np
import yolo_scores


def _output(scores):
    """A (1, 4 + C, N) head output with the given class scores (C, N) and zero boxes."""
    scores = np.asarray(scores, np.float32)
    return {"output0": np.concatenate([np.zeros((4, scores.shape[1]), np.float32),
                                       scores])[None]}


def test_a_constant_then_one_element_per_anchor_and_class_between_0_and_2():
    got = yolo_scores.PostProcess(_output([[0.001, 0.2, 0.9], [0.5, 0.05, 0.3]]))["detections"]
    assert got.shape == (7,) and got[0] == 1.0
    assert np.all((got[1:] >= 0) & (got[1:] <= 2))


def test_the_elements_move_where_a_score_crosses_a_threshold():
    def value(score):
        return float(yolo_scores.PostProcess(_output([[score]]))["detections"][1])

    # a score far from both thresholds hardly matters; one at a threshold does
    assert abs(value(0.0010) - value(0.0012)) < 1e-3
    assert abs(value(0.98) - value(0.99)) < 1e-2
    assert value(0.27) - value(0.23) > 0.1
    assert value(0.11) - value(0.09) > 0.1
    assert value(0.01) < value(0.1) < value(0.25) < value(0.9)
