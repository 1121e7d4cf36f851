"""Which failure pattern of the Magik accuracy guide a per-layer comparison shows.

The guide sorts bad quantization results into four patterns, by where the cosine similarity
(its mean over the debug set) first falls below the threshold:

1. the first quantized layer is already below it: the input, its preprocessing or the first
   layer is wrong (a mean, scale or channel order that differs from training, a bad range);
2. the first layers are fine, then from one layer on the cosine falls and stays below: that
   layer's quantization loses too much (its bit width, its calibration method);
3. only the last layers fall (the drop starts in the last ~20% of layers): the head, where
   outputs of different ranges meet, or accumulated error;
4. every layer is above the threshold but the task result is bad: what the model's outputs
   feed (thresholds, argmax) turns small differences into different answers. Seen here only
   with the user's post-processing (`--post_process`).

A layer below the threshold that only table lookups read is not counted (see
`collect.OpInfo.lut_input`): its range is fitted to where the tables change, on purpose.

Where the drop starts: the first layer below the threshold after which the cosine "stays
below", read as: more than half of the layers from it to the last are below. A strict reading
(every later layer below) would miss the common case where the network is bad from a layer on
but its last layers recover, e.g. a detector whose last Concat puts box coordinates (large,
well kept) next to class scores (small, ruined): that output's cosine is high. The finding
then says that the last layer recovered. Layers below the threshold that do not start such
a drop (a dip that later layers recover from) belong to no pattern; they are listed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .collect import LUT, DebugRun, LayerStats

LATE_FRACTION = 0.2  # pattern 3: the drop starts in the last 20% of the layers
STAY_FRACTION = 0.5  # a drop stays: more than this share of the layers from it on are below


@dataclass(frozen=True)
class Finding:
    pattern: int
    title: str
    layers: tuple[str, ...]  # the layers that support it, the key one first
    summary: str  # a few words for the verdict line
    detail: str
    advice: str


@dataclass
class Diagnosis:
    threshold: float
    findings: list[Finding] = field(default_factory=list)
    verdict: str = ""  # one line: the patterns found, or "no failure pattern: ..."
    notes: list[str] = field(default_factory=list)

    @property
    def patterns(self) -> list[int]:
        return [f.pattern for f in self.findings]

    def text(self) -> str:
        lines = [f"diagnosis (threshold {self.threshold:g} on the cosine mean): {self.verdict}"]
        for f in self.findings:
            lines.append(f"  pattern {f.pattern}: {f.title}")
            lines.append(f"    {f.detail}")
            lines.append(f"    what to try: {f.advice}")
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines) + "\n"


TITLES = {
    1: "the first quantized layer is already below the threshold (input / preprocessing / "
       "first layer)",
    2: "a drop from one layer on",
    3: "only late layers drop (head / post-processing)",
    4: "every layer is above the threshold but the task result differs",
}
ADVICE = {
    1: "check that the preprocessing recorded by model_transform (--mean, --scale, "
       "--pixel_format, --channel_format, --resize_dims) is the one the model was trained "
       "with; check the input's and the first layer's rows in the calibration table "
       "(a debug set unlike the calibration set shows here too); compare the input and the "
       "first layer in the dumps (--dump)",
    2: "raise that layer's precision in a qtable (INT16, or F16/F32) and redeploy; try "
       "another calibration method (run_calibration --cali_method mse|max, or --search "
       "search_threshold) or a larger calibration set; compare the layer's input and output "
       "in the dumps (--dump)",
    3: "keep the layers from the drop on at a higher precision (qtable rows INT16, F16 or "
       "F32); try bias correction "
       "(run_calibration --bc) for accumulated error; check the calibration set covers the "
       "outputs' range",
    4: "the post-processing turns small differences into different answers (a threshold or "
       "an argmax close to a tie): look at the margins of the samples that disagree, and "
       "raise the precision of the output layers; if the device disagrees with kiln's "
       "interpreter, compare the board's dumps with deployed.npz (--dump)",
}


def _advice(pattern: int, layer: LayerStats) -> str:
    """The pattern's advice; a layer already wider than 8 bits is pointed to float."""
    storage = layer.info.storage
    wide = layer.info.quantized and storage[1:].isdigit() and int(storage[1:]) > 8
    return (f"'{layer.name}' is already {storage}: keep it in float (F16/F32) rather than "
            f"wider, or look at what feeds it; " if wide else "") + ADVICE[pattern]


def _describe(layer: LayerStats, where: str = "") -> str:
    return (f"'{layer.name}' ({layer.info.label}, cosine mean {layer.cos_mean:.6f}, "
            f"min {layer.cos_min:.6f}{'; ' + where if where else ''})")


def _names(layers: list[LayerStats], at_most: int = 8) -> str:
    shown = ", ".join(f"'{x.name}'" for x in layers[:at_most])
    return shown + (f" and {len(layers) - at_most} more" if len(layers) > at_most else "")


def late_start(n: int) -> int:
    """The index from which a drop counts as late (pattern 3): the last ~20% of n layers,
    at least the last layer."""
    return n - max(1, int(LATE_FRACTION * n + 0.5))


def drop_start(below: list[bool | None]) -> int | None:
    """The first below-threshold layer from which more than STAY_FRACTION of the layers to
    the last are below too (see the module docstring), or None. None entries (table inputs)
    are neither below nor above: they are not counted."""
    counted = below_count = 0  # from index i to the last
    start = None
    for i in range(len(below) - 1, -1, -1):
        if below[i] is None:
            continue
        counted += 1
        below_count += below[i]
        if below[i] and below_count > STAY_FRACTION * counted:
            start = i
    return start


def _drop_finding(layers: list[LayerStats], below: list[bool], start: int,
                  threshold: float) -> Finding:
    n = len(layers)
    layer, tail = layers[start], layers[start:]
    late = start >= late_start(n)
    pattern = 3 if late else 2
    where = (f"layer {start + 1} of {n}, in the last {n - late_start(n)}" if late
             else f"layer {start + 1} of {n}")
    counted = [(x, b) for x, b in zip(tail, below[start:]) if not x.info.lut_input]
    low = [x for x, b in counted if b]
    last = layers[-1]
    if len(low) == len(counted):
        stays = (f"stays below to the last layer: {_names(low)} ('{last.name}': cosine mean "
                 f"{last.cos_mean:.6f})")
    else:
        stays = (f"stays below for {len(low)} of the {len(counted)} layers from it on"
                 + (f"; the last layer '{last.name}' is back above it (cosine mean "
                    f"{last.cos_mean:.6f}): a cosine over a whole output can hide a ruined "
                    f"part of it (scores next to box coordinates), check the task result "
                    f"with --post_process" if not below[-1] else ""))
    return Finding(pattern, TITLES[pattern], tuple(x.name for x in low),
                   f"{'late drop' if late else 'drop'} from '{layer.name}' on",
                   f"the cosine falls below the threshold at {_describe(layer, where)} and "
                   f"{stays}", _advice(pattern, layer))


def diagnose(run: DebugRun, threshold: float) -> Diagnosis:
    layers = run.layers
    out = Diagnosis(threshold)
    below = [x.loss(threshold) for x in layers]
    first_q = next((i for i, x in enumerate(layers) if x.info.quantized), 0)
    start = drop_start([None if x.info.lut_input else b for x, b in zip(layers, below)])
    if below[first_q]:
        layer = layers[first_q]
        stays = start is not None and start <= first_q
        out.findings.append(Finding(
            1, TITLES[1], (layer.name,),
            f"the first quantized layer '{layer.name}' is below {threshold:g}",
            f"the first quantized layer is {_describe(layer)}"
            + ("; most later layers stay below" if stays else ""), ADVICE[1]))
    if start is not None and not (start <= first_q and below[first_q]):
        out.findings.append(_drop_finding(layers, below, start, threshold))
    end = len(layers) if start is None else start
    dips = [x for i, x in enumerate(layers[:end]) if below[i] and i != first_q]
    if dips:
        out.notes.append(f"below the threshold but recovered from by later layers: "
                         f"{_names(dips)}")
    fitted = [x for x in layers if x.below(threshold) and x.info.lut_input]
    if fitted:
        out.notes.append(f"below the threshold but only read by table lookups ({LUT}), so "
                         f"fitted to where the tables change (not counted: their lookups' "
                         f"cosine is the loss): {_names(fitted)}")
    post = run.post
    if post is not None and not post.agree and not out.findings:
        bad = post.bad_samples
        layers_ok = (f"every layer above {threshold:g}" if not dips else
                     "no failure pattern in the layers")
        out.findings.append(Finding(
            4, TITLES[4], tuple(x.name for x in layers[-1:]),
            f"{layers_ok}, post-process results differ on {len(bad)} of {post.samples} "
            f"sample(s)",
            f"{post.summary()}; the last layer '{layers[-1].name}' has cosine mean "
            f"{layers[-1].cos_mean:.6f} (samples: {', '.join(bad[:5])}"
            + (f" and {len(bad) - 5} more" if len(bad) > 5 else "") + ")", ADVICE[4]))
    elif post is not None:
        out.notes.append(post.summary())
    else:
        out.notes.append("no --post_process given: pattern 4 (layers fine, task result bad) "
                         "cannot be checked")
    if out.findings:
        out.verdict = "; ".join(f"pattern {f.pattern}: {f.summary}" for f in out.findings)
    elif dips:
        out.verdict = (f"no failure pattern: {len(dips)} layer(s) below {threshold:g} that "
                       f"later layers recover from (see the note)")
    else:
        out.verdict = f"no failure pattern: every layer above {threshold:g}" + (
            f" but {len(fitted)} table input(s) (see the note)" if fitted else "")
    if run.skipped:
        out.notes.append(f"not compared: {', '.join(run.skipped)}")
    return out
