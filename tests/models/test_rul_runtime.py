"""The numpy RUL runtime: equals scikit-learn, scores one window like the batch, is seeded."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from egiz.models.eval.cmapss_data import Trajectories, read_subset
from egiz.models.rul.artifact import CMAPSS_INPUTS, load_rul, rul_manifest, save_rul
from egiz.models.rul.train import RulParams, fit_rul

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "cmapss"
SMALL = RulParams(seeds=(0, 1), max_iter=40, quantile_max_iter=20, min_samples_leaf=50)


def _engines(t: Trajectories, units: np.ndarray) -> Trajectories:
    m = np.isin(t.unit, units)
    return Trajectories(t.unit[m], t.cycle[m], t.settings[m], t.sensors[m])


@pytest.fixture(scope="module")
def small():
    """A model trained on 25 FD001 engines with few trees (fast), and 10 test engines."""
    d = read_subset(DATA, "FD001")
    train = _engines(d.train, np.arange(1, 26))
    test = _engines(d.test, np.arange(1, 11))
    trained = fit_rul(train.settings, train.sensors, train.unit, train.cycle, train.rul(), SMALL)
    return trained, train, test


def test_rul_runtime_equals_sklearn_models(small) -> None:
    """Every exported member scores exactly what its scikit-learn estimator scores."""
    trained, _, test = small
    rt = trained.runtime
    X = rt.features(test.settings, test.sensors, test.unit, test.cycle)
    raw = rt.ensemble.predict(X)
    # 2 full-view seeds + 1 seed without the health-index channel + 2 quantiles.
    assert raw.shape[1] == len(trained.estimators) == 5
    for k, (est, cols) in enumerate(zip(trained.estimators, trained.columns, strict=True)):
        assert np.array_equal(raw[:, k], est.predict(X[:, cols]))
    assert trained.columns[2].size < X.shape[1]
    pred = rt.predict_features(X)
    members = [
        e.predict(X[:, c]) for e, c in zip(trained.estimators[:3], trained.columns[:3], strict=True)
    ]
    # The frozen point rule: the members' mean, clipped, moved early_shift cycles earlier
    # (kept inside the band).
    point = np.clip(np.mean(members, axis=0), 0, 125) - rt.early_shift
    assert rt.early_shift > 0 and rt.phm08_shrink == 0
    assert np.allclose(pred.rul, np.clip(point, pred.low, pred.high))
    assert np.all(pred.low <= pred.rul) and np.all(pred.rul <= pred.high)


def test_rul_window_call_matches_batch_at_last_cycle(small) -> None:
    """predict_window on an engine's history equals the batch prediction at its last row."""
    rt = small[0].runtime
    test = small[2]
    batch = rt.predict(test.settings, test.sensors, test.unit, test.cycle)
    for i, row in enumerate(test.last_rows()[:4]):
        m = test.unit == test.units[i]
        one = rt.predict_window(test.settings[m], test.sensors[m], float(test.cycle[row]))
        assert one.rul[0] == pytest.approx(batch.rul[row], abs=1e-9)
        assert one.high[0] == pytest.approx(batch.high[row], abs=1e-9)


def test_rul_training_is_deterministic_with_seeds(small) -> None:
    """Retraining with the same seeds yields identical trees."""
    trained, train, _ = small
    again = fit_rul(train.settings, train.sensors, train.unit, train.cycle, train.rul(), SMALL)
    a, b = trained.runtime.ensemble.to_arrays(), again.runtime.ensemble.to_arrays()
    assert all(np.array_equal(a[k], b[k]) for k in a)


def test_rul_artifact_round_trip_and_pinned_refusal(small, tmp_path: Path) -> None:
    """Saved and reloaded with its pin, the runtime predicts identically; a wrong pin fails."""
    from egiz.models.errors import ArtifactError

    trained, _, test = small
    manifest = rul_manifest(
        trained.runtime,
        name="t",
        version="0.0.1",
        asset_type="turbofan",
        inputs=CMAPSS_INPUTS,
        training_sha256="0" * 64,
        metrics={},
        signals=[f"s{i}" for i in range(1, 22)],
    )
    sha = save_rul(tmp_path / "art", trained.runtime, manifest)
    loaded_manifest, rt = load_rul(tmp_path / "art", sha)
    assert loaded_manifest["outputs"][0]["unit"] == "cycle"
    assert rt.ensemble.feature.max() < len(loaded_manifest["features"])
    args = (test.settings, test.sensors, test.unit, test.cycle)
    assert np.array_equal(rt.predict(*args).rul, trained.runtime.predict(*args).rul)
    with pytest.raises(ArtifactError, match="not the pinned"):
        load_rul(tmp_path / "art", "f" * 64)
