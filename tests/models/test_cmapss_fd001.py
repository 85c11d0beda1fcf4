"""Issue 6 acceptance 1 on the real FD001 protocol with the frozen recipe: all four thresholds.

Trains on train_FD001.txt with the frozen hyperparameters, scores the last cycle of each test
engine once, and asserts the claim in docs/model-quality.md so it cannot silently rot.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from egiz.models.eval.cmapss import evaluate, read_subset

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "cmapss"


@pytest.fixture(scope="module")
def fd001():
    """One run of the published protocol on FD001 (train once, test file scored once)."""
    return evaluate(read_subset(DATA, "FD001"))


def test_cmapss_fd001_meets_rmse_thresholds_and_capped_score(fd001) -> None:
    """Issue 6 acceptance 1: RMSE <= 11.5 true and <= 10.5 capped; PHM08 capped <= 200."""
    result, _ = fd001
    assert result.n_engines == 100
    assert result.rmse_true <= 11.5, result.metrics()  # plain GBM baseline: 12.4
    assert result.rmse_capped <= 10.5, result.metrics()  # plain GBM baseline: 11.1
    assert result.score_capped <= 200, result.metrics()


def test_cmapss_fd001_meets_true_rul_score_threshold(fd001) -> None:
    """Issue 6 acceptance 1: PHM08 score <= 200 against the true RUL.

    Met narrowly (199.5) since the round-3 point rule (a 0.5-cycle early shift, chosen by
    grouped CV on train_FD001 only); docs/model-quality.md says how thin the margin is.
    """
    result, _ = fd001
    assert result.score_true <= 200, result.metrics()
    assert result.test_looks == 1


def test_cmapss_fd001_interval_is_informative(fd001) -> None:
    """The 10-90 % band (widened 1.6x, chosen by grouped CV) covers ~80 % and stays narrow."""
    result, _ = fd001
    assert result.coverage >= 0.7, result.metrics()
    assert result.interval_width <= 40, result.metrics()
    assert np.all(result.low <= result.pred) and np.all(result.pred <= result.high)


def test_cmapss_fd001_numpy_runtime_equals_sklearn(fd001) -> None:
    """On the real test file, every exported member equals its scikit-learn estimator."""
    result, trained = fd001
    d = read_subset(DATA, "FD001").test
    rt = trained.runtime
    X = rt.last_features(d.settings, d.sensors, d.unit, d.cycle)
    raw = rt.ensemble.predict(X)
    for k, (est, cols) in enumerate(zip(trained.estimators, trained.columns, strict=True)):
        assert np.array_equal(raw[:, k], est.predict(X[:, cols]))
    assert np.allclose(rt.predict_features(X).rul, result.pred)
