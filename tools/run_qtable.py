"""`run_qtable`: TPU-MLIR's run_qtable on the real lowered model (calibration/sensitivity.py).

    run_qtable FLOAT.mlir --dataset DIR --calibration_table T -o QTABLE [options; --help]
"""

from __future__ import annotations

from ._mixed_tools import tool

PROG = "run_qtable"
main, run, entry = tool(PROG, __doc__, sensitive=False)

if __name__ == "__main__":
    entry()
