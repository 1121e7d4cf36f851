"""Streaming statistics: streaming equals one pass over all the data, exact histograms after
range growth, non-finite values skipped and counted, constant memory, speed."""

import math
import tracemalloc

import numpy as np
import pytest
from kiln.calibration.statistics import DEFAULT_BINS, StatsCollector, TensorStats


def direct_counts(values: np.ndarray, range_max: float, bins: int) -> tuple[np.ndarray, int]:
    """Histogram of the nonzero |x| by the documented rule (bin j: j*w < |x| <= (j+1)*w),
    computed independently in float64, and the number of zeros."""
    a = np.abs(values.astype(np.float64))
    numbers = np.ceil(a * (bins / range_max)).astype(np.int64)
    counts = np.bincount(numbers, minlength=bins + 1)
    assert counts.size == bins + 1
    return counts[1:], int(counts[0])


def growing_batches(rng: np.random.Generator) -> list[np.ndarray]:
    """Samples whose range grows several times, with zeros and exact bin edges."""
    batches = [
        (rng.standard_normal((2, 3, 5, 7)) * 0.01).astype(np.float32),
        np.maximum(rng.standard_normal((4, 100)), 0).astype(np.float32),  # zeros
        (rng.laplace(0, 3, 1000)).astype(np.float32),
        np.array([0.0, -0.0, 0.5, 1.0, 2.0, 4.0, -4.0, 2.0**-20], dtype=np.float32),
        (rng.uniform(-1000, 1000, 5000)).astype(np.float32),
        np.array([3.0e5, -2.5e-7], dtype=np.float32),
    ]
    return batches


def test_streaming_equals_one_shot(rng):
    batches = growing_batches(rng)
    streamed = TensorStats()
    for b in batches:
        streamed.update(b)
    data = np.concatenate([b.reshape(-1) for b in batches])
    whole = TensorStats.from_array(data)
    d = data.astype(np.float64)
    for s in (streamed, whole):
        assert s.count == d.size
        assert s.min == d.min() and s.max == d.max()
        assert s.absmax == np.abs(d).max()
        assert s.zero_count == int(np.count_nonzero(d == 0))
        assert s.sum == pytest.approx(d.sum(), rel=1e-12, abs=1e-9)
        assert s.sum_sq == pytest.approx((d * d).sum(), rel=1e-12)
        assert s.sum_abs == pytest.approx(np.abs(d).sum(), rel=1e-12)
        assert s.mean == pytest.approx(d.mean(), rel=1e-9, abs=1e-9)
        assert s.std == pytest.approx(d.std(), rel=1e-9)
    assert streamed.updates == len(batches) and whole.updates == 1
    assert streamed.range_max == whole.range_max
    np.testing.assert_array_equal(streamed.counts, whole.counts)


def test_histogram_exact_after_range_growth(rng):
    batches = growing_batches(rng)
    stats = TensorStats()
    ranges = []
    for b in batches:
        stats.update(b)
        ranges.append(stats.range_max)
    assert len(set(ranges)) >= 4, "the test data must make the range grow several times"
    data = np.concatenate([b.reshape(-1) for b in batches])
    expected, zeros = direct_counts(data, stats.range_max, stats.bins)
    np.testing.assert_array_equal(stats.counts, expected)
    assert stats.zero_count == zeros
    assert stats.counts.sum() + stats.zero_count == stats.count


@pytest.mark.parametrize("bins", [2048, 512, 1000, 7])
def test_histogram_bins_and_edges(rng, bins):
    x = rng.standard_normal(3000).astype(np.float32)
    stats = TensorStats(bins)
    for part in np.array_split(x * np.linspace(0.01, 50, 3000, dtype=np.float32), 5):
        stats.update(part)
    full = x * np.linspace(0.01, 50, 3000, dtype=np.float32)
    expected, zeros = direct_counts(full, stats.range_max, bins)
    np.testing.assert_array_equal(stats.counts, expected)
    counts, edges = stats.histogram(include_zeros=True)
    assert counts.size == bins and edges.size == bins + 1
    assert edges[0] == 0 and edges[-1] == stats.range_max
    assert counts[0] == expected[0] + zeros


def test_wide_ranges_bin_exactly(rng):
    # Ranges past 2**35 are binned in float64 (a float32 product could round to 0).
    batches = [rng.standard_normal(5000).astype(np.float32),
               np.array([3e12, 1e-20, -7e-30], dtype=np.float32),
               np.array([-3.0e38, 2.0**-120], dtype=np.float32)]
    stats = TensorStats()
    for b in batches:
        stats.update(b)
    data = np.concatenate(batches)
    expected, zeros = direct_counts(data, stats.range_max, stats.bins)
    np.testing.assert_array_equal(stats.counts, expected)
    assert zeros == 0 and stats.zero_count == 0
    assert stats.counts[0] == 5004 and stats.counts.sum() == 5005


def test_range_is_a_power_of_two_covering_absmax():
    for absmax in (1.0, 0.75, 3.0, 1e-30, 6e4, 2.0**-10):
        s = TensorStats.from_array(np.array([absmax / 3, -absmax], dtype=np.float32))
        r = s.range_max
        assert math.frexp(r)[0] == 0.5, r  # a power of two
        assert absmax <= r < 2 * absmax
    # A power of two is its own range: its value sits in the last bin, at full resolution.
    s = TensorStats.from_array(np.array([1.0, 0.25], dtype=np.float32))
    assert s.range_max == 1.0 and s.counts[-1] == 1 and s.counts[511] == 1


def test_all_zero_then_nonzero():
    s = TensorStats()
    s.update(np.zeros((3, 4), dtype=np.float32))
    assert s.has_range and s.absmax == 0.0 and s.range_max is None and s.bin_width is None
    assert s.zero_count == 12 and s.nonzero_count == 0 and s.counts.sum() == 0
    s.update(np.array([0.0, 0.5, -0.25], dtype=np.float32))
    assert s.range_max == 0.5 and s.zero_count == 13 and s.counts.sum() == 2


def test_non_finite_values_are_skipped_and_counted(rng):
    x = rng.standard_normal(1000).astype(np.float32)
    dirty = x.copy()
    dirty[[3, 50, 51]] = -np.inf
    dirty[7] = np.inf
    dirty[[100, 200]] = np.nan
    s = TensorStats()
    s.update(dirty)
    clean = TensorStats.from_array(np.delete(x, [3, 50, 51, 7, 100, 200]))
    assert (s.neginf_count, s.posinf_count, s.nan_count) == (3, 1, 2)
    assert s.nonfinite_count == 6 and s.count == 994
    assert (s.min, s.max, s.sum, s.sum_sq, s.sum_abs) == \
        (clean.min, clean.max, clean.sum, clean.sum_sq, clean.sum_abs)
    np.testing.assert_array_equal(s.counts, clean.counts)


def test_all_non_finite_has_no_range():
    s = TensorStats()
    s.update(np.array([-np.inf, np.nan, np.inf, -np.inf], dtype=np.float32))
    assert not s.has_range
    assert s.min is None and s.max is None and s.absmax is None and s.mean is None
    assert s.std is None and s.range_max is None
    assert s.count == 0 and s.nonfinite_count == 4 and s.updates == 1
    s.update(np.array([], dtype=np.float32))
    assert s.updates == 2 and not s.has_range
    s.update(np.array([-2.0, np.nan], dtype=np.float32))  # a finite value later
    assert s.has_range and s.min == s.max == -2.0 and s.nan_count == 2


def test_huge_finite_values_do_not_overflow_the_sums():
    mask = np.float32(np.finfo(np.float32).min)  # what some exporters write for masked scores
    x = np.array([mask, 1.0, 2.0, mask], dtype=np.float32)
    s = TensorStats.from_array(x)
    d = x.astype(np.float64)
    assert s.min == float(mask) and s.max == 2.0
    assert math.isfinite(s.sum_sq) and s.sum_sq == pytest.approx((d * d).sum(), rel=1e-12)
    assert s.range_max == 2.0**128 and s.counts.sum() == 4


@pytest.mark.parametrize("dtype", [np.float16, np.float64, np.int32, np.uint8, np.bool_])
def test_other_dtypes(dtype):
    x = np.array([[0, 1, 2], [3, 1, 0]]).astype(dtype)
    s = TensorStats.from_array(x)
    d = x.astype(np.float64)
    assert s.count == 6 and s.max == d.max() and s.sum == d.sum()
    assert s.zero_count == int(np.count_nonzero(d == 0))


def test_complex_is_refused():
    with pytest.raises(TypeError, match="complex"):
        TensorStats().update(np.ones(3, dtype=np.complex64))


@pytest.mark.parametrize("bins", [0, 1, 2.5, "8"])
def test_bad_bins(bins):
    with pytest.raises(ValueError, match="bins"):
        TensorStats(bins)
    with pytest.raises(ValueError, match="bins"):
        StatsCollector(bins)


def test_memory_does_not_grow_with_samples(rng):
    x = rng.standard_normal((8, 64, 64)).astype(np.float32)
    collector = StatsCollector()
    tracemalloc.start()
    try:
        for _ in range(3):
            collector.update("a", x)
            collector.update("b", x * 3)
        after_few, _ = tracemalloc.get_traced_memory()
        for i in range(60):
            collector.update("a", x * (1 + i))  # the range keeps growing too
            collector.update("b", x)
        after_many, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert after_many - after_few < 4096
    assert collector["a"].updates == 63 and collector["a"].counts.nbytes == DEFAULT_BINS * 8

def test_collector():
    c = StatsCollector(bins=256)
    c.update("/model.0/conv/Conv_output_0", np.ones(4, dtype=np.float32))
    c.update_all({"b:0": np.zeros(2, dtype=np.float32),
                  "/model.0/conv/Conv_output_0": np.full(3, -2.0, dtype=np.float32)})
    assert c.names() == ["/model.0/conv/Conv_output_0", "b:0"]
    assert list(c) == c.names() and len(c) == 2 and "b:0" in c and "x" not in c
    s = c["/model.0/conv/Conv_output_0"]
    assert s.bins == 256 and c.bins == 256
    assert s.count == 7 and s.min == -2.0 and s.updates == 2
    assert [name for name, _ in c.items()] == c.names()
    with pytest.raises(KeyError):
        c["missing"]
