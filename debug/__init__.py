"""Accuracy debugging of a deployed model against its float IR over a debug set (the
`quant_debug` tool).

- `collect`: run both models on every sample, compare them layer by layer (the layers are
  the locs both have, in the float IR's program order), keep per-layer statistics over the
  samples, and the post-processed outputs of each sample when a post-process is given.
- `postprocess`: load the user's `PostProcess(outputs)` and compare its results.
- `diagnose`: which failure pattern of the Magik guide the statistics show, naming layers.
- `render`: the text table, CSV and HTML report; `plot`: the PNG (matplotlib, Agg).
"""
