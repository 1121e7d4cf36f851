"""`run_sensitive_layer`: TPU-MLIR's sensitive-layer search on the real lowered model.

    run_sensitive_layer FLOAT.mlir --dataset DIR --calibration_table T -o QTABLE [options; --help]
"""

from __future__ import annotations

import sys

from ._cli import run_tool
from ._mixed_tools import build_parser
from ._mixed_tools import run as run_search

PROG = "run_sensitive_layer"
SENSITIVE = "run_sensitive_layer" == "run_sensitive_layer"


def _log(message: str) -> None:
    print(message, file=sys.stderr)


def main(argv: list[str]) -> int:
    args = build_parser(PROG, __doc__.split("\n")[0], SENSITIVE).parse_args(argv)
    return run_search(args, PROG, SENSITIVE, _log)


def run(argv: list[str] | None = None) -> int:
    return run_tool(PROG, main, argv)


def entry() -> None:
    sys.exit(run())


if __name__ == "__main__":
    entry()
