"""Helpers shared by the calibration tests (importable: conftest.py puts this folder on
sys.path)."""

import numpy as np


def fake_quant_mse(x: np.ndarray, threshold: float, qmax: int = 127) -> float:
    """The true mean squared error of symmetric quantization of `x` with clipping value
    `threshold` and step threshold / qmax."""
    x = np.asarray(x, dtype=np.float64)
    step = threshold / qmax
    q = np.clip(np.round(x / step), -qmax, qmax) * step
    return float(np.mean((x - q) ** 2))
