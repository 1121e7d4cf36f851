"""Conformance suites: the ONNX backend test data and real trained models.

Makes this folder's helpers (backend_cases, synthetic_image) and the repository's bench/
folder (realmodels: models fetched from PyPI wheels) importable by plain name, registers the
`realmodel` marker, and prints the backend suite's pass count at the end of a run.
"""

from __future__ import annotations

import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
_BENCH = os.path.join(os.path.dirname(os.path.dirname(_HERE)), "bench")
for _path in (_HERE, _BENCH):
    if _path not in sys.path:
        sys.path.insert(0, _path)

_OUTCOMES: dict[str, int] = {"passed": 0, "failed": 0, "skipped": 0}


def pytest_configure(config) -> None:
    config.addinivalue_line(
        "markers", "realmodel: a real trained model fetched from a PyPI wheel (skipped when "
                   "it cannot be downloaded)")


def pytest_runtest_logreport(report) -> None:
    if "test_backend_case[" not in report.nodeid:
        return
    if report.when == "call" or (report.when == "setup" and not report.passed):
        _OUTCOMES[report.outcome] = _OUTCOMES.get(report.outcome, 0) + 1


def pytest_terminal_summary(terminalreporter) -> None:
    ran = sum(_OUTCOMES.values())
    if ran:
        terminalreporter.write_line(
            f"onnx backend conformance: {_OUTCOMES['passed']} of {ran} cases pass "
            f"({_OUTCOMES['skipped']} skipped as unsupported, {_OUTCOMES['failed']} failing)")
