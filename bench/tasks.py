"""Task figures for the accuracy benchmark (bench/accuracy.py): what a quantized model's output
means for its task, judged against the float model's output on the same input.

    dets = detect(output0, conf=0.25, iou=0.45)     # YOLOv8 decode + class-wise NMS
    score = DetectionScore(); score.add(float_dets, quant_dets); score.f1
    mask_iou(float_prob, quant_prob, threshold=0.3)   # text-detection probability maps
    orientation_accuracy(probs, labels); agreement(probs_a, probs_b)

The float model is the reference everywhere except `orientation_accuracy`, whose labels are
known because the text lines were rendered upright or rotated on purpose.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity of two tensors flattened, in float64. Two zero tensors are identical
    (1.0); a zero tensor against a non-zero one shares no direction (0.0)."""
    x = np.asarray(a, np.float64).ravel()
    y = np.asarray(b, np.float64).ravel()
    nx, ny = np.linalg.norm(x), np.linalg.norm(y)
    if nx == 0 and ny == 0:
        return 1.0
    if nx == 0 or ny == 0:
        return 0.0
    return float(x @ y / (nx * ny))


# -- detection --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Detections:
    """Boxes as (x1, y1, x2, y2) in pixels, with their score and class, best score first."""

    boxes: np.ndarray     # (k, 4) float64
    scores: np.ndarray    # (k,) float64
    classes: np.ndarray   # (k,) int64

    def __len__(self) -> int:
        return len(self.scores)

    def take(self, index: np.ndarray) -> Detections:
        return Detections(self.boxes[index], self.scores[index], self.classes[index])

    @staticmethod
    def empty() -> Detections:
        return Detections(np.zeros((0, 4)), np.zeros(0), np.zeros(0, np.int64))


def decode_yolo(output: np.ndarray, conf: float) -> Detections:
    """YOLOv8 head output (1, 4 + C, N) or (4 + C, N): rows cx, cy, w, h (pixels) then C class
    scores (already sigmoids). Each anchor keeps its best class if that score exceeds `conf`."""
    out = np.asarray(output, np.float64)
    if out.ndim == 3:
        if out.shape[0] != 1:
            raise ValueError(f"decode_yolo takes one image, got batch {out.shape[0]}")
        out = out[0]
    if out.ndim != 2 or out.shape[0] < 5:
        raise ValueError(f"expected (4 + classes, anchors), got {out.shape}")
    cls_scores = out[4:]
    classes = cls_scores.argmax(axis=0)
    scores = cls_scores[classes, np.arange(out.shape[1])]
    keep = np.flatnonzero(scores > conf)
    cx, cy, w, h = out[:4, keep]
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
    order = np.argsort(-scores[keep], kind="stable")
    return Detections(boxes[order], scores[keep][order], classes[keep][order].astype(np.int64))


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box of `a` (n, 4) with every box of `b` (m, 4), xyxy: an (n, m) matrix."""
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=2)
    area_a = np.prod(np.clip(a[:, 2:] - a[:, :2], 0, None), axis=1)
    area_b = np.prod(np.clip(b[:, 2:] - b[:, :2], 0, None), axis=1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def nms(boxes: np.ndarray, scores: np.ndarray, iou: float) -> np.ndarray:
    """Indices of the boxes greedy non-maximum suppression keeps, best score first: a box is
    dropped when it overlaps a kept, better-scoring box with IoU above `iou`."""
    order = np.argsort(-np.asarray(scores), kind="stable")
    overlaps = box_iou(boxes, boxes)
    keep: list[int] = []
    suppressed = np.zeros(len(order), bool)
    for i in order:
        if suppressed[i]:
            continue
        keep.append(int(i))
        suppressed |= overlaps[i] > iou
    return np.asarray(keep, np.int64)


def detect(output: np.ndarray, conf: float = 0.25, iou: float = 0.45,
           max_det: int = 300) -> Detections:
    """Decode, then NMS within each class (as Ultralytics does by default), best `max_det`."""
    dets = decode_yolo(output, conf)
    keep = []
    for c in np.unique(dets.classes):
        members = np.flatnonzero(dets.classes == c)
        keep.append(members[nms(dets.boxes[members], dets.scores[members], iou)])
    if not keep:
        return Detections.empty()
    index = np.concatenate(keep)
    index = index[np.argsort(-dets.scores[index], kind="stable")][:max_det]
    return dets.take(index)


def match_count(ref: Detections, got: Detections, iou: float = 0.5) -> int:
    """How many of `got` agree with `ref`: greedily, best `got` score first, each takes the
    unmatched `ref` box of the same class it overlaps most, if that IoU is at least `iou`."""
    if len(ref) == 0 or len(got) == 0:
        return 0
    overlaps = box_iou(got.boxes, ref.boxes)
    overlaps[got.classes[:, None] != ref.classes[None, :]] = -1.0
    used = np.zeros(len(ref), bool)
    matched = 0
    for i in np.argsort(-got.scores, kind="stable"):
        row = np.where(used, -1.0, overlaps[i])
        j = int(row.argmax())
        if row[j] >= iou:
            used[j] = True
            matched += 1
    return matched


@dataclass
class DetectionScore:
    """Agreement of a quantized detector with the float one, pooled over images.
    F1 = 2 TP / (detections + float detections). With nothing to find and nothing found,
    precision, recall and F1 are 1 (the models agree); an empty side's ratio is 1 too."""

    iou: float = 0.5
    tp: int = 0
    n_got: int = 0
    n_ref: int = 0
    per_image: list[tuple[int, int, int]] = field(default_factory=list)  # (tp, got, ref)

    def add(self, ref: Detections, got: Detections) -> None:
        tp = match_count(ref, got, self.iou)
        self.tp += tp
        self.n_got += len(got)
        self.n_ref += len(ref)
        self.per_image.append((tp, len(got), len(ref)))

    @property
    def precision(self) -> float:
        return self.tp / self.n_got if self.n_got else 1.0

    @property
    def recall(self) -> float:
        return self.tp / self.n_ref if self.n_ref else 1.0

    @property
    def f1(self) -> float:
        total = self.n_got + self.n_ref
        return 2 * self.tp / total if total else 1.0


# -- text detection ---------------------------------------------------------------------------

def mask_iou(ref_prob: np.ndarray, got_prob: np.ndarray, threshold: float = 0.3) -> float:
    """IoU of the text masks (probability > threshold) of two probability maps; 1.0 when both
    masks are empty."""
    a = np.asarray(ref_prob) > threshold
    b = np.asarray(got_prob) > threshold
    if a.shape != b.shape:
        raise ValueError(f"mask shapes differ: {a.shape} and {b.shape}")
    union = np.count_nonzero(a | b)
    return np.count_nonzero(a & b) / union if union else 1.0


# -- text direction ---------------------------------------------------------------------------

def _classes(probs: np.ndarray) -> np.ndarray:
    p = np.asarray(probs)
    return p.reshape(p.shape[0], -1).argmax(axis=1) if p.ndim > 1 else p.astype(np.int64)


def orientation_accuracy(probs: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of samples whose most probable class (0 upright, 1 rotated 180) is the label;
    `probs` is (n, 2) (or (n, 1, 2))."""
    pred = _classes(probs)
    labels = np.asarray(labels).ravel()
    if len(pred) != len(labels) or not len(labels):
        raise ValueError(f"{len(pred)} predictions for {len(labels)} labels")
    return float(np.mean(pred == labels))


def agreement(probs_a: np.ndarray, probs_b: np.ndarray) -> float:
    """Fraction of samples on which two classifiers pick the same class."""
    return orientation_accuracy(probs_b, _classes(probs_a))


def paired_difference(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Mean of a - b over the same samples, and its standard error: two quantized models
    judged on one evaluation set differ by less than the spread of their per-sample figures,
    and the pairing removes what the samples share (a hard sample is hard for both)."""
    d = np.asarray(a, np.float64) - np.asarray(b, np.float64)
    se = float(d.std(ddof=1) / np.sqrt(d.size)) if d.size > 1 else float("inf")
    return float(d.mean()), se


def discordant(probs_ref: np.ndarray, probs_a: np.ndarray, probs_b: np.ndarray
               ) -> tuple[int, int]:
    """(samples where only `a` picks the reference's class, where only `b` does): McNemar's
    counts; the samples both get right or both get wrong say nothing about which is better."""
    ref = _classes(probs_ref)
    hit_a, hit_b = _classes(probs_a) == ref, _classes(probs_b) == ref
    return int(np.sum(hit_a & ~hit_b)), int(np.sum(hit_b & ~hit_a))


def paired_f1_difference(a: DetectionScore, b: DetectionScore, draws: int = 2000,
                         seed: int = 0) -> tuple[float, float]:
    """F1 of `a` minus F1 of `b` on the same images, and its standard error from a paired
    bootstrap (the images drawn with replacement, the same draw for both): F1 pools counts
    over images, so it has no per-image value to average, and a few crowded pictures carry
    much of it."""
    ca, cb = np.asarray(a.per_image, np.int64), np.asarray(b.per_image, np.int64)
    if ca.shape != cb.shape or not np.array_equal(ca[:, 2], cb[:, 2]):
        raise ValueError("paired_f1_difference: the two scores are not on the same images")
    idx = np.random.default_rng(seed).integers(0, len(ca), (draws, len(ca)))

    def f1(c: np.ndarray) -> np.ndarray:
        tp, total = c[idx, 0].sum(axis=1), (c[idx, 1] + c[idx, 2]).sum(axis=1)
        return np.where(total > 0, 2 * tp / np.maximum(total, 1), 1.0)

    return a.f1 - b.f1, float(np.std(f1(ca) - f1(cb), ddof=1))
