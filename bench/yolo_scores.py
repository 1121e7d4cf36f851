"""search_qtable post-process for YOLOv8: the class scores that can become detections
(above 0.05; the rest set to 0), so the search compares what the detections are made of."""

import numpy as np


def PostProcess(outputs):
    scores = np.asarray(outputs["output0"])[:, 4:]
    return {"scores": np.where(scores > 0.05, scores, 0.0).astype(np.float32)}
