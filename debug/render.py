"""The per-layer comparison as a fixed-width text table, a CSV and an HTML page.

Every output is a pure function of the run (no time, no absolute path the user did not give),
so the same inputs give the same bytes.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import math
from dataclasses import dataclass

from .collect import DebugRun, LayerStats
from .diagnose import Diagnosis

COLUMNS = ("#", "layer", "op", "type", "cos_mean", "cos_min", "cos_max", "euclid_mean",
           "max_abs", "sqnr_db_mean", "")
BELOW = "BELOW"
FITTED = "BELOW*"
FOOTNOTE = ("* below the threshold, but only table lookups read it: its range is fitted to "
            "where the tables change, so the diagnosis does not count it")


@dataclass(frozen=True)
class Header:
    """What was compared: shown above the table in every format."""

    mlir: str
    model: str
    threshold: float

    def line(self, run: DebugRun) -> str:
        n = len(run.samples)
        return (f"{len(run.layers)} layer(s) of {self.mlir} against {self.model} on {n} "
                f"sample(s) of {run.source}; cosine threshold {self.threshold:g}")


def _num(x: float, fmt: str) -> str:
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return format(x, fmt)


def _cells(layer: LayerStats, threshold: float) -> list[str]:
    return [str(layer.index), layer.name, layer.info.op, layer.info.storage,
            _num(layer.cos_mean, ".6f"), _num(layer.cos_min, ".6f"), _num(layer.cos_max, ".6f"),
            _num(layer.euclid_mean, ".6f"), _num(layer.max_abs, ".4e"),
            _num(layer.sqnr_mean, ".2f"), _flag(layer, threshold)]


def _flag(layer: LayerStats, threshold: float) -> str:
    if not layer.below(threshold):
        return ""
    return FITTED if layer.info.lut_input else BELOW


def text_table(run: DebugRun, threshold: float) -> str:
    """One line per layer; names and kinds left-aligned, numbers right-aligned."""
    rows = [_cells(x, threshold) for x in run.layers]
    widths = [max(len(c) for c in col) for col in zip(COLUMNS, *rows)]
    left = {1, 2, 3, len(COLUMNS) - 1}

    def fmt(cells: list[str] | tuple[str, ...]) -> str:
        return "  ".join(c.ljust(w) if i in left else c.rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    lines = [fmt(COLUMNS)] + [fmt(r) for r in rows]
    if any(r[-1] == FITTED for r in rows):
        lines.append(FOOTNOTE)
    return "\n".join(lines) + "\n"


def text_report(run: DebugRun, diagnosis: Diagnosis, header: Header) -> str:
    """layers.txt: the header line, the table, the diagnosis."""
    return f"{header.line(run)}\n{text_table(run, header.threshold)}\n{diagnosis.text()}"


def csv_text(run: DebugRun, threshold: float) -> str:
    """layers.csv: one row per layer; floats in Python's shortest round-trip form."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["index", "layer", "op", "type", "cos_mean", "cos_min", "cos_max",
                     "euclid_mean", "max_abs", "sqnr_db_mean", "below", "lut_input"])
    for x in run.layers:
        writer.writerow([x.index, x.name, x.info.op, x.info.storage, repr(x.cos_mean),
                         repr(x.cos_min), repr(x.cos_max), repr(x.euclid_mean),
                         repr(x.max_abs), repr(x.sqnr_mean), int(x.below(threshold)),
                         int(x.info.lut_input)])
    return buf.getvalue()


_STYLE = """
body { font-family: sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.3em; }
h2 { font-size: 1.1em; margin-top: 1.5em; }
table { border-collapse: collapse; font-size: 0.85em; }
th, td { border: 1px solid #ccc; padding: 2px 6px; }
td.num { text-align: right; font-family: monospace; }
tr.below td { background: #fdd; }
tr.fitted td { background: #fff0d8; }
.verdict { font-weight: bold; }
.diagnosis li { margin-bottom: 0.5em; }
img { max-width: 100%; }
"""


def _html_diagnosis(diagnosis: Diagnosis) -> str:
    esc = html.escape
    parts = [f'<p class="verdict">{esc(diagnosis.verdict)}</p>', '<ul class="diagnosis">']
    for f in diagnosis.findings:
        parts.append(f"<li><b>pattern {f.pattern}: {esc(f.title)}</b><br>{esc(f.detail)}"
                     f"<br><i>what to try:</i> {esc(f.advice)}</li>")
    parts += [f"<li>note: {esc(n)}</li>" for n in diagnosis.notes]
    parts.append("</ul>")
    return "\n".join(parts)


def html_report(run: DebugRun, diagnosis: Diagnosis, header: Header, png: bytes) -> str:
    """report.html: the plot inline (base64 PNG), the diagnosis, the table with the layers
    below the threshold highlighted. Self-contained: one file to mail or attach."""
    esc = html.escape
    head = "".join(f"<th>{esc(c or 'below')}</th>" for c in COLUMNS)
    rows = []
    for x in run.layers:
        cells = _cells(x, header.threshold)
        tds = "".join(f'<td class="num">{esc(c)}</td>' if i >= 4 or i == 0
                      else f"<td>{esc(c)}</td>" for i, c in enumerate(cells))
        kind = {BELOW: ' class="below"', FITTED: ' class="fitted"'}.get(cells[-1], "")
        rows.append(f"<tr{kind}>{tds}</tr>")
    image = base64.b64encode(png).decode("ascii")
    return "\n".join([
        "<!DOCTYPE html>",
        '<html lang="en">',
        '<head><meta charset="utf-8"><title>quant_debug report</title>',
        f"<style>{_STYLE}</style></head>",
        "<body>",
        "<h1>quant_debug: per-layer accuracy of the deployed model</h1>",
        f"<p>{esc(header.line(run))}</p>",
        "<h2>Diagnosis</h2>",
        _html_diagnosis(diagnosis),
        "<h2>Cosine similarity through the network</h2>",
        f'<img alt="cosine similarity per layer" src="data:image/png;base64,{image}">',
        "<h2>Layers</h2>",
        '<table id="layers">',
        f"<thead><tr>{head}</tr></thead>",
        "<tbody>",
        *rows,
        "</tbody></table>",
        *([f"<p>{esc(FOOTNOTE)}</p>"] if any(x.info.lut_input and x.below(header.threshold)
                                             for x in run.layers) else []),
        "</body></html>",
        "",
    ])
