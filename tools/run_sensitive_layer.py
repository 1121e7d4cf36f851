"""`run_sensitive_layer`: TPU-MLIR's sensitive-layer search on the real lowered model.

    run_sensitive_layer FLOAT.mlir --dataset DIR --calibration_table T -o QTABLE [options; --help]
"""

from __future__ import annotations

from ._mixed_tools import tool

PROG = "run_sensitive_layer"
main, run, entry = tool(PROG, __doc__, sensitive=True)

if __name__ == "__main__":
    entry()
