"""The numpy tree runtime scores exactly what scikit-learn's boosted trees score."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingRegressor

from egiz.models.artifacts.trees import TreeEnsemble, export_hist_gbr


def _data(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(600, 6))
    y = 3 * X[:, 0] - X[:, 1] ** 2 + np.sin(3 * X[:, 2]) + rng.normal(0, 0.1, 600)
    X[rng.random(X.shape) < 0.05] = np.nan  # missing values take the learned branch
    return X, y


def test_trees_runtime_equals_sklearn_bit_for_bit() -> None:
    """Point and quantile models packed together: every column equals model.predict exactly."""
    X, y = _data()
    models = [
        HistGradientBoostingRegressor(max_iter=40, max_leaf_nodes=15, random_state=0).fit(X, y),
        HistGradientBoostingRegressor(max_iter=25, max_depth=3, random_state=1).fit(X, y),
        HistGradientBoostingRegressor(loss="quantile", quantile=0.9, max_iter=30).fit(X, y),
    ]
    ens = TreeEnsemble.pack([export_hist_gbr(m) for m in models])
    Xt, _ = _data(seed=1)
    out = ens.predict(Xt)
    for k, m in enumerate(models):
        assert np.array_equal(out[:, k], m.predict(Xt)), k
    # Small batches (the edge's one-asset call) take the all-nodes-decided walk: same bits,
    # with and without missing values in the row.
    assert ens.SMALL_BATCH >= 1 and np.isnan(Xt[:40]).any(axis=1).any()
    singles = np.concatenate([ens.predict(Xt[i : i + 1]) for i in range(40)])
    assert np.array_equal(singles, out[:40])
    assert np.array_equal(ens.predict(Xt[:3]), out[:3])


def test_trees_round_trip_through_arrays() -> None:
    """to_arrays/from_arrays keeps predictions identical."""
    X, y = _data()
    m = HistGradientBoostingRegressor(max_iter=20, random_state=0).fit(X, y)
    ens = TreeEnsemble.pack([export_hist_gbr(m)])
    again = TreeEnsemble.from_arrays(ens.to_arrays())
    assert np.array_equal(again.predict(X), ens.predict(X))


def test_trees_from_arrays_rejects_out_of_range_children() -> None:
    """A child index outside its tree is refused rather than read out of bounds."""
    X, y = _data()
    m = HistGradientBoostingRegressor(max_iter=5, random_state=0).fit(X, y)
    a = TreeEnsemble.pack([export_hist_gbr(m)]).to_arrays()
    a["left"] = a["left"].copy()
    a["left"][0, 0] = a["left"].shape[1] + 5
    with pytest.raises(ValueError, match="outside"):
        TreeEnsemble.from_arrays(a)
