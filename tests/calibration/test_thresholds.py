"""Threshold methods on data whose right answer is known."""

import math
import time

import numpy as np
import pytest
from cali_case import fake_quant_mse
from kiln.calibration import thresholds as T
from kiln.calibration.statistics import TensorStats

N = 1_000_000


def all_methods(stats: TensorStats, **kw) -> dict[str, float]:
    return {name: f(stats, **kw) for name, f in T.METHODS.items()}


def test_method_names():
    assert set(T.METHODS) == {"kl", "mse", "max", "percentile9999", "aciq_gauss",
                              "aciq_laplace"}


def test_aciq_alphas_match_the_published_values():
    # Banner et al., "Post training 4-bit quantization of convolutional networks for
    # rapid-deployment" (ACIQ), optimal clipping for M = 2, 3, 4 bits (two decimals).
    for bits, gauss, laplace in ((2, 1.71, 2.83), (3, 2.15, 3.89), (4, 2.55, 5.03)):
        assert T.gauss_alpha(bits) == pytest.approx(gauss, abs=0.01)
        assert T.laplace_alpha(bits) == pytest.approx(laplace, abs=0.01)
    # 8 bits: the constants TPU-MLIR's run_calibration uses.
    assert T.gauss_alpha(8) == pytest.approx(3.92403337, rel=1e-5)
    assert T.laplace_alpha(8) == pytest.approx(9.89675982, rel=1e-7)
    assert T.gauss_alpha(4) == pytest.approx(2.55913642, rel=1e-5)
    assert T.laplace_alpha(4) == pytest.approx(5.02864014, rel=1e-7)
    # Each alpha is where the derivative of the expected error changes sign.
    for bits in (4, 8, 12):
        noise = 1 / (3 * 4.0**bits)
        a = T.laplace_alpha(bits)
        assert a * math.exp(a) == pytest.approx(1 / noise, rel=1e-9)


def check_near_optimal_mse(x: np.ndarray, threshold: float, qmax: int = 127) -> None:
    """The true quantization MSE at `threshold` is within 2% of the best of a fine grid."""
    grid = np.linspace(0.2, 1.0, 81) * float(np.abs(x).max())
    best = min(fake_quant_mse(x, t, qmax) for t in grid)
    assert fake_quant_mse(x, threshold, qmax) <= 1.02 * best


def test_gaussian(rng):
    sigma = 2.0
    x = (rng.standard_normal(N) * sigma).astype(np.float32)
    stats = TensorStats.from_array(x)
    th = all_methods(stats)
    assert th["max"] == float(np.abs(x).max())
    assert th["aciq_gauss"] == pytest.approx(T.gauss_alpha(8) * sigma, rel=0.01)
    assert th["aciq_gauss"] == pytest.approx(3.92 * sigma, rel=0.01)
    # |x| has 99.99% of its mass below sigma * 3.8906 (two-sided normal quantile).
    assert th["percentile9999"] == pytest.approx(3.8906 * sigma, rel=0.02)
    assert abs(th["percentile9999"] - np.percentile(np.abs(x), 99.99)) <= stats.bin_width
    assert 3.0 * sigma < th["kl"] < th["max"]
    assert 3.0 * sigma < th["mse"] < 4.5 * sigma
    check_near_optimal_mse(x[:200_000], th["mse"])
    for name, t in th.items():
        assert 0 < t <= th["max"], name


def test_laplace(rng):
    b = 0.5
    x = rng.laplace(0.0, b, N).astype(np.float32)
    stats = TensorStats.from_array(x)
    th = all_methods(stats)
    assert th["aciq_laplace"] == pytest.approx(T.laplace_alpha(8) * b, rel=0.01)
    assert th["aciq_laplace"] == pytest.approx(9.89 * b, rel=0.01)
    # P(|x| > t) = exp(-t / b)
    assert th["percentile9999"] == pytest.approx(b * math.log(1e4), rel=0.02)
    check_near_optimal_mse(x[:200_000], th["mse"])
    assert th["mse"] < th["max"] and th["kl"] < th["max"]


def test_relu_output_fits_the_folded_distribution(rng):
    # Zeros are left out: a ReLU'd N(0, 1) gets the clipping of N(0, 1) itself.
    x = np.maximum(rng.standard_normal(N), 0).astype(np.float32)
    stats = TensorStats.from_array(x)
    assert T.aciq_gauss_threshold(stats) == pytest.approx(T.gauss_alpha(8), rel=0.01)
    # Unsigned: 255 steps over [0, t], the step of 9 signed bits.
    assert T.aciq_gauss_threshold(stats, unsigned=True) == \
        pytest.approx(T.gauss_alpha(9), rel=0.01)
    check_near_optimal_mse(x[:200_000], T.mse_threshold(stats, unsigned=True), qmax=255)
    check_near_optimal_mse(x[:200_000], T.mse_threshold(stats))


@pytest.mark.parametrize("outlier", [10.0, 100.0])
def test_uniform_with_one_big_outlier(rng, outlier):
    x = rng.uniform(-1.0, 1.0, N).astype(np.float32)
    x[12345] = outlier
    stats = TensorStats.from_array(x)
    th = all_methods(stats)
    assert th["max"] == outlier
    assert th["percentile9999"] == pytest.approx(0.9999, abs=stats.bin_width)
    assert th["mse"] < 0.2 * outlier
    grid = np.linspace(0.5, outlier, 200)
    assert fake_quant_mse(x, th["mse"]) <= 1.02 * min(fake_quant_mse(x, t) for t in grid)
    if outlier == 10.0:
        # The bulk spans 128 bins: keeping exactly it loses nothing, merging it costs.
        assert th["kl"] == 1.0
        assert th["mse"] == pytest.approx(1.6, rel=0.05)  # minimum of t^2 N/(12*127^2) + (10-t)^2


def test_all_zero_tensor():
    stats = TensorStats.from_array(np.zeros((2, 3, 4), dtype=np.float32))
    for name, t in all_methods(stats).items():
        assert t == T.FALLBACK_THRESHOLD, name


@pytest.mark.parametrize("value", [3.0, -3.0, 0.7, 1e-30, 12345.678])
def test_constant_tensor(value):
    stats = TensorStats.from_array(np.full(1000, value, dtype=np.float32))
    absmax = abs(float(np.float32(value)))
    for name, t in all_methods(stats).items():
        assert math.isfinite(t) and 0 < t <= absmax, name
        assert t == pytest.approx(absmax, rel=2 / stats.bins), name


def test_non_finite_values_change_nothing(rng):
    x = rng.standard_normal(200_000).astype(np.float32)
    dirty = x.copy()
    dirty[::1000] = -np.inf
    dirty[1::5000] = np.inf
    dirty[2::7000] = np.nan
    finite = dirty[np.isfinite(dirty)]
    clean = all_methods(TensorStats.from_array(finite))
    assert all_methods(TensorStats.from_array(dirty)) == clean
    for t in clean.values():
        assert math.isfinite(t) and t > 0


def test_only_non_finite_values():
    stats = TensorStats.from_array(np.array([np.nan, -np.inf], dtype=np.float32))
    assert all(t == T.FALLBACK_THRESHOLD for t in all_methods(stats).values())


def test_fewer_bits_clip_more(rng):
    stats = TensorStats.from_array(rng.standard_normal(N).astype(np.float32))
    for name in ("kl", "mse", "aciq_gauss", "aciq_laplace"):
        assert T.METHODS[name](stats, bits=4) < T.METHODS[name](stats, bits=8), name
    assert T.aciq_laplace_threshold(stats, bits=4) == pytest.approx(
        T.laplace_alpha(4) * stats.sum_abs / stats.count, rel=1e-12)
    for name in ("max", "percentile9999"):
        assert T.METHODS[name](stats, bits=4) == T.METHODS[name](stats), name


@pytest.mark.parametrize("bits", [1, 33, 8.0, True])
def test_bad_bits(bits):
    stats = TensorStats.from_array(np.ones(4, dtype=np.float32))
    for f in T.METHODS.values():
        with pytest.raises(ValueError, match="bits"):
            f(stats, bits=bits)


def test_percentile_parameter(rng):
    x = rng.uniform(0, 1, 100_000).astype(np.float32)
    stats = TensorStats.from_array(x)
    assert T.percentile_threshold(stats, 100) == float(x.max())
    assert T.percentile_threshold(stats, 50) == pytest.approx(0.5, abs=0.01)
    for p in (0, -1, 100.5):
        with pytest.raises(ValueError, match="percentile"):
            T.percentile_threshold(stats, p)
    # Mostly zeros: the percentile falls on them and max |x| is kept instead.
    sparse = np.zeros(100_000, dtype=np.float32)
    sparse[:3] = [1.0, -2.0, 0.5]
    assert T.percentile_threshold(TensorStats.from_array(sparse)) == 2.0


def reference_kl(h: np.ndarray, levels: int) -> dict[int, float]:
    """KL(P || Q) for every candidate, written straightforwardly (one candidate at a time)."""
    h = h.astype(np.float64)
    used = int(np.flatnonzero(h)[-1]) + 1
    out = {}
    for i in range(levels, used + 1):
        kept = h[:i]
        if kept.sum() == 0:
            out[i] = math.inf
            continue
        p = kept.copy()
        p[-1] += h[i:].sum()
        group = (np.arange(i) * levels) // i
        mass = np.bincount(group, weights=kept, minlength=levels)
        support = np.bincount(group, weights=(p > 0).astype(float), minlength=levels)
        q = np.where(p > 0, mass[group] / np.maximum(support[group], 1), 0.0)
        if q[-1] == 0 and p[-1] > 0:
            q[-1] = 1e-4  # the pseudo-count
        pn, qn = p / p.sum(), q / kept.sum()
        m = pn > 0
        out[i] = float(np.sum(pn[m] * np.log(pn[m] / qn[m])))
    return out


@pytest.mark.parametrize("seed", range(4))
def test_kl_matches_a_direct_computation(seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(50_000) * (1 + seed)
    x[:seed * 3] *= 30  # some outliers
    stats = TensorStats.from_array(x.astype(np.float32), bins=512)
    candidates, kl = T.kl_curve(stats)
    expected = reference_kl(stats.counts, 128)
    assert list(np.round(candidates / stats.bin_width).astype(int)) == list(expected)
    np.testing.assert_allclose(kl, list(expected.values()), rtol=1e-7, atol=1e-10)
    best = min(expected, key=expected.get) * stats.bin_width
    assert T.kl_threshold(stats) == min(best, stats.absmax)


def test_mse_curve_is_the_expected_error(rng):
    x = rng.standard_normal(100_000).astype(np.float32)
    stats = TensorStats.from_array(x)
    candidates, error = T.mse_curve(stats)
    for k in (300, 700, 1100):
        # Close to the true error of quantizing the data (bins are small against the step).
        assert error[k] == pytest.approx(fake_quant_mse(x, candidates[k]), rel=0.1)


def test_kl_speed(rng):
    x = rng.standard_normal(N)
    x *= 7.99 / np.abs(x).max()  # the values fill all 2048 bins of [0, 8]
    stats = TensorStats.from_array(x.astype(np.float32))
    assert stats.bins == 2048 and len(T.kl_curve(stats)[0]) > 1900
    best = math.inf
    for _ in range(5):
        start = time.perf_counter()
        T.kl_threshold(stats)
        best = min(best, time.perf_counter() - start)
    assert best < 0.02, f"KL on 2048 bins took {best * 1e3:.1f} ms"
