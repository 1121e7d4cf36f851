"""layers.png: the cosine mean per layer through the network, the min..max band over the
samples, a line at the threshold and the layers below it marked.

matplotlib draws it (Agg, no display needed), on an explicit Figure (no pyplot global state)
under matplotlib's default style (a user's matplotlibrc does not change the picture). The
PNG is reproducible: fixed size and dpi, no "Software" text chunk (the matplotlib version),
and Agg writes no time; the same run gives the same bytes.
"""

from __future__ import annotations

import io
import math

import numpy as np

from .collect import DebugRun

WIDTH_IN, HEIGHT_IN, DPI = 11.0, 5.0, 100
MAX_LABELS = 60  # x tick labels shown at most (every k-th layer beyond that)
LABEL_CHARS = 28


def _label(name: str) -> str:
    """The name's end when it is long: exporters' paths differ at the end (`.../conv/Conv`)."""
    return name if len(name) <= LABEL_CHARS else "\u2026" + name[-(LABEL_CHARS - 1):]


def _limits(lows: np.ndarray, threshold: float) -> tuple[float, float]:
    finite = lows[np.isfinite(lows)]
    lo = min(float(finite.min()) if finite.size else threshold, threshold)
    span = max(1.0 - lo, 1e-4)
    return lo - 0.08 * span, 1.0 + 0.08 * span


def cosine_png(run: DebugRun, threshold: float) -> bytes:
    from matplotlib import style
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    n = len(run.layers)
    x = np.arange(n)
    mean = np.array([layer.cos_mean for layer in run.layers], dtype=np.float64)
    low = np.array([layer.cos_min for layer in run.layers], dtype=np.float64)
    high = np.array([layer.cos_max for layer in run.layers], dtype=np.float64)
    below = np.array([layer.below(threshold) for layer in run.layers], dtype=bool)
    fitted = np.array([layer.info.lut_input for layer in run.layers], dtype=bool)
    with style.context("default"):
        fig = Figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI, layout="constrained")
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        ax.fill_between(x, low, high, color="tab:blue", alpha=0.2, linewidth=0,
                        label="min..max over samples")
        ax.plot(x, mean, color="tab:blue", marker="o", markersize=3, linewidth=1.2,
                label="cosine mean")
        ax.axhline(threshold, color="tab:red", linestyle="--", linewidth=1,
                   label=f"threshold {threshold:g}")
        # NaN means (inf/NaN values) are drawn at the bottom so they stay visible
        shown = np.where(np.isnan(mean), _limits(low, threshold)[0], mean)
        loss = below & ~fitted
        if loss.any():
            ax.scatter(x[loss], shown[loss], color="tab:red", marker="x", s=40, zorder=3,
                       label=f"below threshold ({int(loss.sum())})")
        if (below & fitted).any():
            ax.scatter(x[below & fitted], shown[below & fitted], facecolors="none",
                       edgecolors="tab:orange", marker="o", s=40, zorder=3,
                       label=f"below, table input ({int((below & fitted).sum())})")
        ax.set_ylim(*_limits(low, threshold))
        ax.set_xlim(-0.5, max(n - 0.5, 0.5))
        step = max(1, math.ceil(n / MAX_LABELS))
        ticks = list(range(0, n, step))
        ax.set_xticks(ticks)
        ax.set_xticklabels([_label(run.layers[i].name) for i in ticks], rotation=90,
                           fontsize=7)
        for i, tick in zip(ticks, ax.get_xticklabels()):
            if below[i]:
                tick.set_color("tab:orange" if fitted[i] else "tab:red")
        ax.set_ylabel("cosine similarity to the float IR")
        ax.set_xlabel(f"layer (float IR program order, {n} layers)")
        ax.set_title(f"per-layer cosine over {len(run.samples)} sample(s)", fontsize=10)
        ax.grid(True, axis="y", alpha=0.3)
        ax.legend(loc="best", fontsize=8)
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    return buf.getvalue()
