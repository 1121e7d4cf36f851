"""What every kiln tool shares: user errors become one clear message and exit code 2,
never a traceback; an internal error says it is one (exit 1) and shows the traceback only
with KILN_DEBUG=1."""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

from ..compiler.errors import UserError
from ..compiler.text.parser import ParseError


class UsageError(UserError):
    """Bad command-line input (a missing file, contradictory flags)."""


class ArgParser(argparse.ArgumentParser):
    """Bad flags are a UsageError (one line, exit 2), not argparse's usage dump and exit."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see {self.prog} --help)")


def run_tool(name: str, main: Callable[[list[str]], int], argv: list[str] | None) -> int:
    try:
        return main(sys.argv[1:] if argv is None else argv)
    except SystemExit as e:  # argparse's --help
        return e.code if isinstance(e.code, int) else 0
    except UserError as e:
        print(f"{name}: error: {e}" if not isinstance(e, ParseError) else str(e),
              file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{name}: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # a bug in kiln, not in the user's input
        if os.environ.get("KILN_DEBUG"):
            traceback.print_exc()
        print(f"{name}: internal error: {type(e).__name__}: {e}\n"
              f"(this is a bug in kiln; rerun with KILN_DEBUG=1 for the traceback)",
              file=sys.stderr)
        return 1


def table_source(table_path: Path, mlir: Path) -> Path:
    """The float IR a calibration table belongs to: `mlir`, or the IR run_calibration wrote
    beside the table when it changed or rounded the weights (--we, --bc, --weight_rounding
    output), which the table's header names; missing, a usage error."""
    from ..calibration.table import read_table

    changed, _ = read_table(table_path).replacement_files(table_path)
    if changed is None:
        return mlir
    if not changed.is_file():
        raise UsageError(f"{table_path}: names the IR {changed.name} (written by "
                         f"run_calibration beside it), which is not beside it")
    return changed
