"""One check suite over every registered anomaly detector (both STYLE.md shapes)."""

from __future__ import annotations

import inspect
import io
import json

import numpy as np
import pytest
from sklearn.ensemble import IsolationForest

from egiz.models.anomaly import (
    BATCH_DETECTORS,
    STREAMING_DETECTORS,
    IsolationForestDetector,
    calibrate_stream,
    calibrate_threshold,
    export_state,
    import_state,
    score_stream,
    trailing_mean,
)


def _healthy(n: int = 600, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = rng.normal(size=(n, 1))
    return np.hstack([base, 0.8 * base + 0.3 * rng.normal(size=(n, 1)), rng.normal(size=(n, 1))])


@pytest.mark.parametrize("name", sorted(BATCH_DETECTORS))
def test_anomaly_batch_hyperparameters_stored_verbatim(name: str) -> None:
    """Every __init__ argument is an attribute of the same value; nothing learned before fit."""
    cls = BATCH_DETECTORS[name]
    det = cls()
    params = inspect.signature(cls.__init__).parameters
    for p in list(params)[1:]:
        assert getattr(det, p) == params[p].default
    assert not [k for k in vars(det) if k.endswith("_")]


@pytest.mark.parametrize("name", sorted(BATCH_DETECTORS))
def test_anomaly_batch_fit_score_contract(name: str) -> None:
    """fit returns self with learned state ending in '_'; scores rank a fault above health."""
    X = _healthy()
    det = BATCH_DETECTORS[name](smoothing=1)
    assert det.fit(X) is det
    assert {"center_", "scale_", "threshold_"} <= set(vars(det))
    normal = _healthy(200, seed=1)
    fault = normal.copy()
    fault[:, 1] -= 8.0  # breaks the correlation between signals 0 and 1
    s_normal, s_fault = det.score_samples(normal), det.score_samples(fault)
    assert s_normal.shape == (200,) and np.isfinite(s_normal).all()
    assert np.median(s_fault) > np.quantile(s_normal, 0.95)
    alarms = det.predict(normal + 10.0)  # a gross fault on every signal must alarm
    assert alarms.dtype == bool and alarms.all()
    # The threshold holds the declared false-alarm rate (0 with margin ≥ 1) on training rows.
    assert not det.predict(X).any()


@pytest.mark.parametrize("name", sorted(BATCH_DETECTORS))
def test_anomaly_batch_is_deterministic(name: str) -> None:
    """Two fits with the same hyperparameters (and seed) give identical scores."""
    X, Y = _healthy(), _healthy(100, seed=2)
    a = BATCH_DETECTORS[name]().fit(X).score_samples(Y)
    b = BATCH_DETECTORS[name]().fit(X).score_samples(Y)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", sorted(BATCH_DETECTORS))
def test_anomaly_batch_rejects_bad_input(name: str) -> None:
    """Non-finite rows are refused with a ValueError, not scored as garbage."""
    X = _healthy()
    X[3, 1] = np.nan
    with pytest.raises(ValueError, match="finite"):
        BATCH_DETECTORS[name]().fit(X)


def test_anomaly_isolation_forest_numpy_scores_equal_sklearn() -> None:
    """The numpy tree walk reproduces scikit-learn's score_samples exactly (negated)."""
    X = _healthy(400)
    det = IsolationForestDetector(n_estimators=25, smoothing=1, random_state=3).fit(X)
    Z = det._prepare(X)
    ref = IsolationForest(n_estimators=25, max_samples=256, random_state=3).fit(Z)
    np.testing.assert_allclose(det.score_samples(X), -ref.score_samples(Z), atol=1e-12)


def _stream(n: int = 400, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return 10.0 + np.sin(np.arange(n) / 10.0) + 0.2 * rng.normal(size=n)


@pytest.mark.parametrize("name", sorted(STREAMING_DETECTORS))
def test_anomaly_streaming_contract(name: str) -> None:
    """Fresh detectors score 0; after learning, a level far outside history scores higher."""
    cls = STREAMING_DETECTORS[name]
    det = cls()
    params = inspect.signature(cls.__init__).parameters
    for p in list(params)[1:]:
        assert getattr(det, p) == params[p].default
    assert det.score_one(10.0) == 0.0
    for x in _stream():
        det.learn_one(x)
    assert det.score_one(10.0) < det.score_one(30.0)
    # score_one does not learn: asking twice gives the same answer.
    assert det.score_one(30.0) == det.score_one(30.0)


@pytest.mark.parametrize("name", sorted(STREAMING_DETECTORS))
def test_anomaly_streaming_is_deterministic_and_causal(name: str) -> None:
    """Same stream, same scores; and a score never depends on samples after it."""
    xs = _stream(600)
    a = score_stream(STREAMING_DETECTORS[name](), xs)
    b = score_stream(STREAMING_DETECTORS[name](), xs)
    np.testing.assert_array_equal(a, b)
    changed = xs.copy()
    changed[500:] += 100.0
    c = score_stream(STREAMING_DETECTORS[name](), changed)
    np.testing.assert_array_equal(a[:500], c[:500])


@pytest.mark.parametrize("name", sorted(STREAMING_DETECTORS))
def test_anomaly_streaming_accepts_several_signals(name: str) -> None:
    """A 1-D array of signals is one sample; a fault on one signal raises the score."""
    det = STREAMING_DETECTORS[name]()
    for x in _stream():
        det.learn_one(np.array([x, -x]))
    assert det.score_one(np.array([10.0, -10.0])) < det.score_one(np.array([10.0, 50.0]))


def test_anomaly_calibration_uses_the_declared_rate() -> None:
    """The threshold is the (1 − rate) training quantile times the margin."""
    scores = np.arange(1000.0)
    assert calibrate_threshold(scores, 0.01, 1.0) == 990.0
    assert calibrate_threshold(scores, 0.0, 2.0) == 1998.0
    with pytest.raises(ValueError):
        calibrate_threshold(scores, 1.0, 1.0)


def test_anomaly_trailing_mean_sees_the_past_only() -> None:
    """Row t of the smoothed signal is unchanged by rows after t."""
    x = np.arange(10.0)
    y = x.copy()
    y[6:] = 99.0
    np.testing.assert_array_equal(trailing_mean(x, 3)[:6], trailing_mean(y, 3)[:6])


def _round_trip(det: object) -> object:
    """Through JSON and .npz bytes, as an artifact would store it; nothing pickled."""
    kind, params, arrays = export_state(det)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    buf.seek(0)
    with np.load(buf, allow_pickle=False) as npz:
        loaded = {k: npz[k] for k in npz.files}
    return import_state(kind, json.loads(json.dumps(params)), loaded)


@pytest.mark.parametrize("name", sorted(BATCH_DETECTORS))
def test_anomaly_batch_export_round_trip(name: str) -> None:
    """A rebuilt detector scores and alarms exactly as the one that was trained."""
    det = BATCH_DETECTORS[name]().fit(_healthy())
    again = _round_trip(det)
    Y = _healthy(120, seed=5) + np.linspace(0, 6, 120)[:, None]
    np.testing.assert_array_equal(det.score_samples(Y), again.score_samples(Y))
    np.testing.assert_array_equal(det.predict(Y), again.predict(Y))


@pytest.mark.parametrize("name", sorted(STREAMING_DETECTORS))
def test_anomaly_streaming_state_survives_a_restart(name: str) -> None:
    """Exporting mid-stream and rebuilding continues with the very same scores."""
    xs = _stream(700)
    straight = score_stream(STREAMING_DETECTORS[name](), xs)
    first = STREAMING_DETECTORS[name]()
    score_stream(first, xs[:400])
    resumed = score_stream(_round_trip(first), xs[400:])
    np.testing.assert_array_equal(straight[400:], resumed)


@pytest.mark.parametrize("name", sorted(STREAMING_DETECTORS))
def test_anomaly_streaming_threshold_holds_declared_rate(name: str) -> None:
    """Calibrated on a healthy stream, at most the declared share of it is above threshold."""
    xs = _stream(1500)
    det = STREAMING_DETECTORS[name]()
    thr = calibrate_stream(det, xs, false_alarm_rate=0.01)
    replay = score_stream(STREAMING_DETECTORS[name](), xs)
    assert (replay > thr).mean() <= 0.01
    # A sustained fault alarms (TailProbability averages its surprise, so one spike may not).
    assert score_stream(det, np.full(100, 40.0)).max() > thr
