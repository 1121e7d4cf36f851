"""The accuracy benchmark's task figures (bench/tasks.py) and rendered text
(bench/textlines.py) on small synthetic cases: no model, no download."""

from __future__ import annotations

import numpy as np
import pytest
import textlines
from tasks import (
    Detections,
    DetectionScore,
    agreement,
    box_iou,
    cosine,
    decode_yolo,
    detect,
    discordant,
    mask_iou,
    match_count,
    nms,
    orientation_accuracy,
    paired_difference,
    paired_f1_difference,
)

N_CLASSES = 3


def yolo_output(boxes: list[tuple[float, float, float, float, int, float]],
                anchors: int = 8) -> np.ndarray:
    """A (1, 4 + C, anchors) head output holding the given (cx, cy, w, h, class, score)
    boxes; the other anchors score 0.01 in every class."""
    out = np.full((1, 4 + N_CLASSES, anchors), 0.01, np.float32)
    out[0, :4] = 10.0
    for i, (cx, cy, w, h, c, s) in enumerate(boxes):
        out[0, :4, i] = (cx, cy, w, h)
        out[0, 4 + c, i] = s
    return out


def dets(rows: list[tuple[float, float, float, float, int, float]]) -> Detections:
    """Detections from (x1, y1, x2, y2, class, score) rows."""
    a = np.asarray(rows, np.float64).reshape(-1, 6)
    return Detections(a[:, :4], a[:, 5], a[:, 4].astype(np.int64))


def test_cosine():
    a = np.array([1.0, 2.0, 3.0])
    assert cosine(a, 2 * a) == pytest.approx(1.0)
    assert cosine(a, -a) == pytest.approx(-1.0)
    assert cosine(np.zeros(3), np.zeros(3)) == 1.0
    assert cosine(np.zeros(3), a) == 0.0


def test_box_iou():
    a = np.array([[0, 0, 10, 10]])
    b = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30], [0, 0, 0, 0]])
    np.testing.assert_allclose(box_iou(a, b), [[1.0, 50 / 150, 0.0, 0.0]])
    assert box_iou(np.zeros((0, 4)), b).shape == (0, 4)


def test_decode_converts_centre_boxes_and_thresholds():
    out = yolo_output([(50, 40, 20, 10, 2, 0.9), (10, 10, 4, 4, 0, 0.2)])
    d = decode_yolo(out, conf=0.25)
    assert len(d) == 1 and d.classes.tolist() == [2]
    np.testing.assert_allclose(d.boxes, [[40, 35, 60, 45]])
    assert d.scores[0] == pytest.approx(0.9)
    assert len(decode_yolo(out, conf=0.1)) == 2


def test_decode_rejects_a_batch():
    with pytest.raises(ValueError):
        decode_yolo(np.zeros((2, 7, 4)), 0.25)


def test_nms_keeps_the_best_box():
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [50, 50, 60, 60]], np.float64)
    scores = np.array([0.6, 0.9, 0.5])
    assert nms(boxes, scores, 0.45).tolist() == [1, 2]
    assert nms(boxes, scores, 0.95).tolist() == [1, 0, 2]


def test_detect_suppresses_within_a_class_only():
    out = yolo_output([(50, 50, 20, 20, 0, 0.8), (51, 50, 20, 20, 0, 0.9),
                       (50, 50, 20, 20, 1, 0.7)])
    d = detect(out, conf=0.25, iou=0.45)
    assert d.classes.tolist() == [0, 1]
    assert d.scores.tolist() == pytest.approx([0.9, 0.7])
    assert len(detect(yolo_output([]), conf=0.25)) == 0


def test_identical_detections_give_f1_one():
    ref = dets([(0, 0, 10, 10, 0, 0.9), (20, 20, 40, 40, 1, 0.8)])
    score = DetectionScore()
    score.add(ref, ref)
    assert (score.precision, score.recall, score.f1) == (1.0, 1.0, 1.0)


def test_shifted_box_below_iou_half_is_a_miss():
    ref = dets([(0, 0, 10, 10, 0, 0.9)])
    near = dets([(2, 0, 12, 10, 0, 0.9)])    # IoU 80/120 = 0.67
    far = dets([(4, 0, 14, 10, 0, 0.9)])     # IoU 60/140 = 0.43
    assert match_count(ref, near) == 1 and match_count(ref, far) == 0
    score = DetectionScore()
    score.add(ref, far)
    assert (score.tp, score.precision, score.recall, score.f1) == (0, 0.0, 0.0, 0.0)


def test_matching_needs_the_same_class_and_matches_each_box_once():
    ref = dets([(0, 0, 10, 10, 0, 0.9)])
    assert match_count(ref, dets([(0, 0, 10, 10, 1, 0.9)])) == 0
    twice = dets([(0, 0, 10, 10, 0, 0.9), (0, 0, 10, 10, 0, 0.8)])
    assert match_count(ref, twice) == 1


def test_greedy_matching_takes_the_best_overlap_first():
    ref = dets([(0, 0, 10, 10, 0, 0.9), (3, 0, 13, 10, 0, 0.8)])
    got = dets([(3, 0, 13, 10, 0, 0.95), (0, 0, 10, 10, 0, 0.5)])
    assert match_count(ref, got) == 2


def test_f1_pools_over_images_and_handles_empty_sides():
    score = DetectionScore()
    assert score.f1 == 1.0                   # nothing found, nothing to find
    score.add(dets([(0, 0, 10, 10, 0, 0.9)]), Detections.empty())
    score.add(Detections.empty(), dets([(0, 0, 10, 10, 0, 0.9), (20, 0, 30, 10, 0, 0.9)]))
    score.add(dets([(0, 0, 10, 10, 0, 0.9)]), dets([(0, 0, 10, 10, 0, 0.9)]))
    assert (score.tp, score.n_got, score.n_ref) == (1, 3, 2)
    assert score.precision == pytest.approx(1 / 3)
    assert score.recall == pytest.approx(1 / 2)
    assert score.f1 == pytest.approx(2 / 5)
    assert score.per_image == [(0, 0, 1), (0, 2, 0), (1, 1, 1)]  # (tp, got, ref)


def test_mask_iou():
    a = np.zeros((1, 1, 4, 4), np.float32)
    b = np.zeros_like(a)
    assert mask_iou(a, b) == 1.0            # both empty
    a[..., :2, :] = 0.9                      # 8 pixels
    b[..., 1:3, :] = 0.5                     # 8 pixels, 4 shared
    assert mask_iou(a, b, 0.3) == pytest.approx(4 / 12)
    assert mask_iou(a, b, 0.6) == 0.0
    assert mask_iou(a, a) == 1.0
    with pytest.raises(ValueError):
        mask_iou(a, np.zeros((4, 4)))


def test_orientation_accuracy_and_agreement():
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]])
    labels = np.array([0, 1, 1, 1])
    assert orientation_accuracy(probs, labels) == 0.75
    assert orientation_accuracy(probs[:, None, :], labels) == 0.75
    other = np.array([[0.8, 0.2], [0.1, 0.9], [0.4, 0.6], [0.9, 0.1]])
    assert agreement(probs, other) == 0.5
    with pytest.raises(ValueError):
        orientation_accuracy(probs, labels[:3])


# -- rendered text ----------------------------------------------------------------------------

def _have_fonts() -> bool:
    try:
        return bool(textlines.font_paths())
    except FileNotFoundError:
        return False


needs_fonts = pytest.mark.skipif(not _have_fonts(), reason=f"no DejaVu fonts in "
                                                           f"{textlines.FONT_DIR}")


@needs_fonts
def test_text_lines_are_classifier_inputs_with_balanced_labels():
    images, labels = textlines.text_lines(7, seed=3)
    assert len(images) == 7 and labels.tolist().count(1) == 3
    assert all(im.shape == (48, 192, 3) and im.dtype == np.uint8 for im in images)
    again, labels2 = textlines.text_lines(7, seed=3)
    assert labels.tolist() == labels2.tolist()
    assert all(np.array_equal(a, b) for a, b in zip(images, again))


@needs_fonts
def test_rotated_line_is_the_upright_one_turned():
    rng = np.random.default_rng(0)
    line = textlines.render_line(rng, "Hello 42")
    assert line.ndim == 3 and line.shape[0] < line.shape[1]
    assert line.std() > 10                   # glyphs, not a flat background
    up, down = textlines.cls_input(line), textlines.cls_input(line[::-1, ::-1].copy())
    w = min(192, int(np.ceil(48 * line.shape[1] / line.shape[0])))
    assert np.all(up[:, w:] == textlines.PAD_GREY)
    np.testing.assert_allclose(up[:, :w].astype(int), down[::-1, w - 1::-1].astype(int), atol=2)


@needs_fonts
def test_text_scenes_hold_text_on_given_backgrounds():
    bg = np.full((64, 64, 3), 200, np.uint8)
    scenes = textlines.text_scenes(2, 96, seed=1, backgrounds=[bg])
    assert all(s.shape == (96, 96, 3) for s in scenes)
    # the second scene is drawn over the (light) background: dark ink on it
    assert np.median(scenes[1]) == 200 and scenes[1].min() < 70


def test_paired_difference_removes_what_the_samples_share():
    rng = np.random.default_rng(0)
    hard = rng.uniform(0.5, 1.0, 400)  # per-sample difficulty, shared by both models
    a, b = hard + 0.002, hard.copy()
    b[::2] += 0.001
    mean, se = paired_difference(a, b)
    assert mean == pytest.approx(0.0015, abs=1e-9)
    assert se == pytest.approx(np.std(a - b, ddof=1) / 20)
    assert se < 0.0001 < np.std(hard) / 20  # unpaired, the shared spread would swamp it
    assert paired_difference([1.0], [0.5]) == (0.5, float("inf"))


def test_discordant_counts_only_the_samples_the_two_disagree_on():
    ref = np.array([[1, 0], [0, 1], [1, 0], [0, 1]], np.float32)
    a = np.array([[1, 0], [1, 0], [1, 0], [1, 0]], np.float32)  # right on 0 and 2
    b = np.array([[0, 1], [0, 1], [1, 0], [1, 0]], np.float32)  # right on 1 and 2
    assert discordant(ref, a, b) == (1, 1)
    assert discordant(ref, a, ref) == (0, 2)


def _score(counts: list[tuple[int, int, int]]) -> DetectionScore:
    s = DetectionScore()
    for tp, got, ref in counts:
        s.tp, s.n_got, s.n_ref = s.tp + tp, s.n_got + got, s.n_ref + ref
        s.per_image.append((tp, got, ref))
    return s


def test_paired_f1_difference_is_the_f1_gap_with_a_bootstrap_error():
    rng = np.random.default_rng(1)
    ref = rng.integers(0, 6, 200)
    a = _score([(r, r, r) for r in ref])  # agrees everywhere
    b = _score([(max(r - 1, 0), r, r) if i % 4 == 0 else (r, r, r) for i, r in enumerate(ref)])
    diff, se = paired_f1_difference(a, b)
    assert diff == pytest.approx(a.f1 - b.f1) and diff > 0
    assert 0 < se < diff / 3  # a quarter of the images miss one box: clearly worse
    same, se0 = paired_f1_difference(a, a)
    assert same == 0 and se0 == 0
    with pytest.raises(ValueError, match="not on the same images"):
        paired_f1_difference(a, _score([(1, 1, 1)]))
