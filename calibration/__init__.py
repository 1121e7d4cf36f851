"""Calibration: from activations seen on sample data to a table of quantization thresholds.

- `statistics`: streaming per-tensor statistics (exact min/max and moments, and a histogram
  of |x| whose range grows by powers of two), one pass over the data, constant memory per
  tensor whatever the number of samples.
- `thresholds`: pure functions from those statistics to a symmetric clipping threshold
  (max, percentile, KL, MSE, ACIQ), gathered by name in `thresholds.METHODS`.
- `table`: the calibration table file, in the format TPU-MLIR's run_calibration writes and
  model_deploy reads (`name threshold min max` rows under comment headers), written
  atomically and deterministically, read with a `file:line: problem` for every bad line.
"""
