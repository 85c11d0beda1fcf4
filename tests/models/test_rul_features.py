"""Window features and regime normalization of the RUL pipeline."""

from __future__ import annotations

import numpy as np

from egiz.models.features import window as wf
from egiz.models.rul.regimes import RegimeNormalizer


def test_rul_stack_windows_never_cross_engines() -> None:
    """A window at an engine's first cycle holds only that cycle; the rest is NaN."""
    x = np.arange(10.0)[:, None]
    groups = np.array([1] * 4 + [2] * 6)
    w = wf.stack_windows(x, groups, 3)
    assert np.isnan(w[4, :2, 0]).all() and w[4, 2, 0] == 4.0
    assert w[9, :, 0].tolist() == [7.0, 8.0, 9.0]


def test_rul_slope_is_exact_on_lines_with_short_history() -> None:
    """Least-squares slope recovers a line, also over a NaN-padded (short) window."""
    t = np.arange(8.0)
    w = np.stack([2.5 * t + 1, -t], axis=1)[None]
    assert np.allclose(wf.slope(w), [[2.5, -1.0]])
    w[:, :5] = np.nan
    assert np.allclose(wf.slope(w), [[2.5, -1.0]])
    assert wf.slope(np.array([[[np.nan], [3.0]]]))[0, 0] == 0.0


def test_rul_time_domain_statistics_match_definitions() -> None:
    """RMS, peak-to-peak, crest, skew, kurtosis and EWM agree with their textbook forms."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=(1, 500, 2))
    d = x - x.mean(axis=1, keepdims=True)
    assert np.allclose(wf.rms(x), np.sqrt((x**2).mean(axis=1)))
    assert np.allclose(wf.peak_to_peak(x), x.max(axis=1) - x.min(axis=1))
    assert np.allclose(wf.crest_factor(x), np.abs(x).max(axis=1) / wf.rms(x))
    assert np.allclose(wf.skewness(x), (d**3).mean(1) / (d**2).mean(1) ** 1.5)
    assert np.allclose(wf.kurtosis(x), (d**4).mean(1) / (d**2).mean(1) ** 2 - 3)
    ewm = wf.ewm_last(np.array([[[0.0], [0.0], [1.0]]]), 0.5)
    assert np.isclose(ewm[0, 0], 1.0 / 1.75)


def _six_regimes(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """FD002-like rows: six operating conditions, sensors offset by regime plus a drift."""
    conditions = np.array(
        [
            [0, 0, 100],
            [10, 0.25, 100],
            [20, 0.7, 100],
            [25, 0.62, 60],
            [35, 0.84, 100],
            [42, 0.84, 100],
        ]
    )
    r = rng.integers(0, 6, n)
    settings = conditions[r] + rng.normal(0, [0.003, 0.0003, 0.0], (n, 3))
    level = np.array(
        [[500.0, 10, 3], [510, 12, 3], [530, 15, 3], [520, 9, 3], [560, 20, 3], [600, 25, 3]]
    )
    drift = np.linspace(0, 1, n)[:, None] * [2.0, 0.5, 0.0]
    sensors = level[r] + drift + rng.normal(0, [1.0, 0.2, 0.0], (n, 3))
    return settings, sensors


def test_rul_regimes_found_and_normalised_without_tuning() -> None:
    """Six snapped regimes are found, constant sensors dropped, levels removed per regime."""
    rng = np.random.default_rng(0)
    settings, sensors = _six_regimes(rng, 3000)
    n = RegimeNormalizer().fit(settings, sensors)
    assert n.n_regimes_ == 6
    assert n.keep_.tolist() == [True, True, False]
    z = n.transform(settings, sensors)
    r = n.assign(settings)
    for k in range(6):
        assert np.allclose(z[r == k].mean(axis=0), 0, atol=1e-9)
    # FD001-like: one condition with noisy settings is one regime.
    one = RegimeNormalizer().fit(settings[:, :] * 0 + rng.normal(0, 0.002, (3000, 3)), sensors)
    assert one.n_regimes_ == 1


def test_rul_fused_features_equal_the_definitions() -> None:
    """FeatureSpec.compute (fused sums) equals the textbook window statistics it stands for."""
    from egiz.models.rul.train import RulParams

    spec = RulParams().spec
    rng = np.random.default_rng(1)
    w = rng.normal(size=(40, spec.length, 3))
    w[:10, :100] = np.nan  # short histories
    w[10:20, :60] = np.nan
    cols = [wf.mean(wf.tail(w, k)) for k in spec.means]
    cols += [wf.slope(wf.tail(w, k)) for k in spec.slopes]
    for k in spec.extremes:
        cols += [wf.minimum(wf.tail(w, k)), wf.maximum(wf.tail(w, k))]
    cols += [wf.ewm_last(w, a) for a in spec.ewm_alphas]
    cols.append(np.arange(40.0)[:, None])
    expected = np.concatenate(cols, axis=1)
    got = spec.compute(w, np.arange(40.0))
    assert got.shape == (40, len(spec.names(["a", "b", "c"])))
    assert np.allclose(got, expected, rtol=1e-10, atol=1e-10)


def test_rul_windows_at_selected_rows_equal_full_stack() -> None:
    """Windows built only at chosen rows equal those rows of the full stack."""
    rng = np.random.default_rng(2)
    x = rng.normal(size=(50, 2))
    groups = np.repeat([3, 5, 9], [10, 25, 15])
    rows = np.array([0, 9, 10, 34, 49])
    assert np.array_equal(
        wf.windows_at(x, groups, rows, 12), wf.stack_windows(x, groups, 12)[rows], equal_nan=True
    )
