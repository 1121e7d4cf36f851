"""The similarity metrics and the comparison table (kiln.compiler.similarity)."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from kiln.compiler.similarity import (
    compare_arrays,
    compare_tensors,
    cosine_similarity,
    euclidean_similarity,
    max_abs_error,
    render_table,
    sqnr_db,
)


def test_cosine():
    a = np.array([1.0, 0.0, 2.0])
    assert cosine_similarity(a, a) == pytest.approx(1.0)
    assert cosine_similarity(a, 3 * a) == pytest.approx(1.0)  # blind to scale
    assert cosine_similarity(a, -a) == pytest.approx(-1.0)
    assert cosine_similarity([1.0, 0.0], [0.0, 1.0]) == pytest.approx(0.0)
    assert cosine_similarity(np.zeros(3), np.zeros(3)) == 1.0
    assert cosine_similarity(np.zeros(3), a) == 0.0


def test_euclidean_similarity_as_tpu_mlir_defines_it():
    a = np.array([3.0, 4.0])
    assert euclidean_similarity(a, a) == pytest.approx(1.0)
    # |a - 2a| = 5, |(a + 2a) / 2| = 7.5: 1 - 5 / 7.5
    assert euclidean_similarity(a, 2 * a) == pytest.approx(1 - 5 / 7.5)
    assert euclidean_similarity(a, -a) < -1e6  # (a + b) / 2 = 0: hugely dissimilar
    assert euclidean_similarity(np.zeros(2), np.zeros(2)) == 1.0
    assert euclidean_similarity(np.array([np.inf]), np.array([1.0])) == 0.0


def test_max_abs_and_sqnr():
    a = np.array([1.0, -2.0, 3.0, 0.0], np.float32)
    b = a + np.array([0.1, 0.0, -0.3, 0.0], np.float32)
    assert max_abs_error(a, b) == pytest.approx(0.3, rel=1e-6)
    signal, noise = 1 + 4 + 9, 0.01 + 0.09
    assert sqnr_db(a, b) == pytest.approx(10 * math.log10(signal / noise), rel=1e-5)
    assert sqnr_db(a, a) == math.inf
    assert sqnr_db(np.zeros(2), np.ones(2)) == -math.inf
    assert max_abs_error(np.zeros(0), np.zeros(0)) == 0.0


def test_compare_arrays_statuses():
    a = np.linspace(-1, 1, 50, dtype=np.float32)
    assert compare_arrays("t", a, a.copy()).status == "equal"
    assert compare_arrays("t", a, a + 1e-4).status == "ok"
    assert compare_arrays("t", a, a + 1e-4, (0.99, 1.0)).status == "FAIL"
    assert compare_arrays("t", a, a[::-1]).status == "FAIL"
    assert compare_arrays("t", a, a.reshape(5, 10)).status == "SHAPE"
    nan = a.copy()
    nan[3] = np.nan
    assert compare_arrays("t", nan, nan.copy()).status == "equal"
    assert compare_arrays("t", a, nan).status == "FAIL"
    # different dtypes compare by value
    assert compare_arrays("t", np.arange(4), np.arange(4, dtype=np.float32)).status == "equal"


def test_compare_tensors_order_excepts_and_sides():
    a = {"x": np.ones(3), "y": np.ones(2), "z": np.ones(1)}
    b = {"z": np.ones(1), "y": -np.ones(2), "w": np.zeros(1)}
    result = compare_tensors(a, b)
    assert [r.name for r in result.rows] == ["z", "y"]  # b's order
    assert [r.name for r in result.failures] == ["y"]
    assert result.only_a == ["x"] and result.only_b == ["w"]
    assert [r.name for r in compare_tensors(a, b, order=["y", "z"]).rows] == ["y", "z"]
    skipped = compare_tensors(a, b, excepts=["y"])
    assert skipped.passed and skipped.skipped == ["y"]


def test_render_table():
    a = {"long_tensor_name": np.ones(4, np.float32), "b": np.arange(3.0)}
    b = {"long_tensor_name": np.ones(4, np.float32), "b": np.arange(3.0) + 0.5}
    text = render_table(compare_tensors(a, b, order=list(a)))
    lines = text.splitlines()
    assert lines[0].split() == ["tensor", "cosine", "euclid", "max_abs", "sqnr_db", "result"]
    assert lines[1].split()[0] == "long_tensor_name" and lines[1].endswith("equal")
    assert lines[2].startswith("b ") and lines[2].endswith("FAIL")
    assert len({len(line) for line in lines[:3]}) == 1  # aligned columns
    assert lines[-1].startswith("2 tensor(s) compared") and "1 failed" in lines[-1]
    assert render_table(compare_tensors(a, b), only_failures=True).count("\n") == 2


def test_why_a_row_failed():
    a = np.linspace(-1, 1, 50)
    row = compare_arrays("t", a, a + 1e-8, (0.99, 0.999999999999))
    assert row.status == "FAIL"
    why = row.why((0.99, 0.999999999999))
    assert re.fullmatch(r"euclidean similarity 0\.9999999\d < 0\.999999999999", why), why
    inf = a.copy()
    inf[0] = np.inf
    assert "cosine nan" in compare_arrays("t", a, inf).why((0.99, 0.99))
    assert compare_arrays("t", a, a.reshape(5, 10)).why((0.99, 0.99)) == "shape (50,) vs (5, 10)"
