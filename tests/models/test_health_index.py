"""Health index: 0–100 on a healthy baseline, explanations, alarm rule, streaming, artifacts."""

from __future__ import annotations

import doctest
import importlib
import json
from pathlib import Path

import numpy as np
import pytest

from egiz.models import registry
from egiz.models.anomaly import BATCH_DETECTORS
from egiz.models.artifacts.store import artifact_sha256
from egiz.models.errors import ArtifactError
from egiz.models.health.alarm import AlarmRule, run_alarm
from egiz.models.health.artifact import health_manifest, load_health, save_health
from egiz.models.health.asset import AssetHealth
from egiz.models.health.index import HealthIndex

MOTOR = ["current", "power", "winding_temp", "bearing_temp", "vibration", "running"]


def _motor(n: int = 800, seed: int = 0, fouling: float = 0.0) -> np.ndarray:
    """Hourly means of a motor under a shift load: I² heats the winding (first order)."""
    rng = np.random.default_rng(seed)
    load = np.repeat(rng.uniform(0.6, 1.0, n // 8 + 1), 8)[:n]
    current = 100.0 * load + rng.normal(0, 0.5, n)
    power = 1000.0 * load + rng.normal(0, 5.0, n)
    a = np.exp(-1.0)
    lag, heat = np.empty(n), (current[0] / 100) ** 2
    for k in range(n):  # test data only: the textbook recursion written out
        heat = a * heat + (1 - a) * (current[k] / 100.0) ** 2
        lag[k] = heat
    winding = 40.0 + 70.0 * lag * (1.0 + fouling) + rng.normal(0, 0.3, n)
    bearing = 35.0 + 0.02 * power + rng.normal(0, 0.2, n)
    vibration = 1.5 + rng.normal(0, 0.05, n)
    return np.c_[current, power, winding, bearing, vibration, np.ones(n)]


def test_health_index_is_registered_with_the_batch_detectors() -> None:
    """The one contract suite over BATCH_DETECTORS covers the health index too."""
    assert BATCH_DETECTORS["health_index"] is HealthIndex
    assert registry.LOADERS["health-index"] is load_health


def test_health_index_maps_threshold_to_fifty() -> None:
    """Health is 100·2^(−score/threshold): ~100 on the baseline, 50 at the threshold."""
    X = np.random.default_rng(0).normal(size=(1000, 4))
    hi = HealthIndex(smoothing=1).fit(X)
    assert np.median(hi.health(X)) > 80
    s = hi.score_samples(X)
    np.testing.assert_allclose(hi.health(X), 100 * 2 ** (-s / hi.threshold_))
    # The declared false-alarm rate holds on the training rows (the margin only widens it).
    assert (hi.health(X) < 50).mean() <= hi.false_alarm_rate


def test_health_index_explains_the_signal_that_moved() -> None:
    """A fault on one feature lowers health and is named first, with a large z."""
    X = np.random.default_rng(1).normal(size=(800, 3))
    hi = HealthIndex(smoothing=1).fit(X)
    bad = np.array([[0.0, 0.0, 7.0]])
    why = hi.explain(bad, ["flow", "power", "temp"])[0]
    assert why[0]["feature"] == "temp" and why[0]["z"] > 5 and why[0]["share"] > 0.5
    assert hi.health(bad)[0] < 50


def test_health_alarm_persistence_and_hysteresis() -> None:
    """Raises after `persist` low windows, holds through a blip, clears after `clear_after`."""
    h = np.array([90, 40, 40, 90, 40, 40, 40, 60, 90, 70, 90, np.nan, 90, 90])
    on = run_alarm(h, raise_below=50, persist=3, clear_above=75, clear_after=3)
    # NaN (not scored) holds the state and the counters; 70 sits in the dead band, resets.
    assert on.tolist() == [False] * 6 + [True] * 7 + [False]
    rule = AlarmRule(persist=1)
    rule.update(10.0)
    again = AlarmRule(persist=1).restore(json.loads(json.dumps(rule.state())))
    assert again.active and again.update(10.0)


def test_health_asset_degradation_lowers_health_and_alarms() -> None:
    """Trained on a healthy motor: healthy data stays up; a fouled winding alarms and is named."""
    m = AssetHealth("induction_motor", MOTOR).fit(_motor())
    assert m.residuals_.names_ == ["winding_thermal", "bearing_thermal"]
    h, alarm = m.alarms(_motor(seed=1))
    assert np.median(h) > 70 and not alarm.any()
    h, alarm = m.alarms(_motor(seed=1, fouling=0.15))
    assert alarm[-100:].all() and np.median(h[-100:]) < 20
    assert m.explain(_motor(seed=1, fouling=0.15))[-1][0]["feature"] in {
        "winding_thermal",
        "winding_temp.mean",
    }


def test_health_asset_stopped_windows_are_not_scored() -> None:
    """A stop, and the settle windows after it, get no health and hold the alarm state."""
    M = _motor(300, seed=2)
    M[100:110, -1] = 0.0
    m = AssetHealth("induction_motor", MOTOR, settle=2).fit(_motor())
    h = m.health(M)
    assert np.isnan(h[100:112]).all() and np.isfinite(h[112:]).all()


def test_health_runner_equals_batch() -> None:
    """Window-by-window scoring (the edge) gives the batch health and alarm states."""
    m = AssetHealth("induction_motor", MOTOR).fit(_motor())
    M = _motor(200, seed=3, fouling=0.1)
    M[50:53, -1] = 0.0
    h, alarm = m.alarms(M)
    run = m.runner()
    out = [run.update(row) for row in M]
    got = np.array([np.nan if o["health"] is None else o["health"] for o in out])
    np.testing.assert_allclose(got, h, rtol=1e-9, atol=1e-9)
    assert [o["alarm"] for o in out] == alarm.tolist()
    assert out[-1]["explain"] and out[-1]["explain"][0]["feature"]


def test_health_runner_state_survives_a_restart() -> None:
    """Exporting the runner mid-stream (through JSON) and resuming gives identical outputs."""
    m = AssetHealth("induction_motor", MOTOR).fit(_motor())
    M = _motor(120, seed=5, fouling=0.1)
    M[40:42, -1] = 0.0
    run = m.runner()
    straight = [run.update(row) for row in M]
    first = m.runner()
    for row in M[:60]:
        first.update(row)
    resumed = m.runner().restore(json.loads(json.dumps(first.state())))
    assert [resumed.update(row) for row in M[60:]] == straight[60:]


def _saved(tmp_path: Path, name: str = "h") -> tuple[AssetHealth, str]:
    m = AssetHealth("induction_motor", MOTOR).fit(_motor())
    manifest = health_manifest(
        m,
        name="motor-health",
        version="1.0.0",
        window_s=3600,
        units={"current": "A", "power": "kW", "winding_temp": "degC"},
        training_sha256="cd" * 32,
        metrics={"warned_fraction": 1.0},
    )
    return m, save_health(tmp_path / name, m, manifest)


def test_health_artifact_round_trip_and_determinism(tmp_path: Path) -> None:
    """The loaded numpy runtime scores exactly as the trained model; a refit gives the same hash."""
    m, sha = _saved(tmp_path)
    manifest, again = registry.load(tmp_path / "h", sha)
    assert manifest["kind"] == "health-index" and manifest["outputs"][0]["name"] == "health_index"
    M = _motor(300, seed=4, fouling=0.1)
    np.testing.assert_array_equal(m.health(M), again.health(M))
    np.testing.assert_array_equal(m.alarms(M)[1], again.alarms(M)[1])
    assert _saved(tmp_path, "h2")[1] == sha


def test_health_artifact_altered_consistently_is_refused(tmp_path: Path) -> None:
    """Changing the alarm limit and rewriting the manifest's own hash fails the pinned sha256."""
    _, sha = _saved(tmp_path)
    f = tmp_path / "h" / "manifest.json"
    manifest = json.loads(f.read_text())
    manifest["alarm"] = {"raise_below": 0.0}
    manifest["sha256"] = artifact_sha256(manifest)
    f.write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match="pinned"):
        load_health(tmp_path / "h", sha)


@pytest.mark.parametrize(
    "name",
    [
        "egiz.models.health.index",
        "egiz.models.health.alarm",
        "egiz.models.health.asset",
        "egiz.models.health.artifact",
    ],
)
def test_health_docstring_examples_run(name: str) -> None:
    """Every example in the module's docstrings passes, and there is at least one."""
    result = doctest.testmod(importlib.import_module(name), raise_on_error=False)
    assert result.attempted > 0 and result.failed == 0
