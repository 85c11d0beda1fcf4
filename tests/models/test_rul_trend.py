"""The health-trend RUL model: its runnable example, interval order and the registry round trip."""

from __future__ import annotations

import doctest

import numpy as np
import pytest

from egiz.models import registry
from egiz.models.errors import ArtifactError
from egiz.models.rul import trend
from egiz.models.rul.trend import HealthTrendRul, save_trend, trailing, trend_manifest


def test_rul_trend_docstring_examples_run() -> None:
    result = doctest.testmod(trend, raise_on_error=False)
    assert result.attempted > 0 and result.failed == 0


def _episodes(rng: np.random.Generator, n: int) -> tuple[list, list]:
    hs, ruls = [], []
    for _ in range(n):
        life, onset = rng.integers(300, 600), rng.integers(50, 200)
        rate = rng.uniform(60, 90) / (life - onset)  # health ~10-40 at the failure
        t = np.arange(float(life))
        h = np.where(t < onset, 98.0, 98.0 - rate * (t - onset)) + rng.normal(0, 1.0, t.size)
        hs.append(np.clip(h, 0, 100))
        ruls.append(life - t)
    return hs, ruls


def test_rul_trend_interval_holds_estimate_and_covers_held_out_episodes() -> None:
    rng = np.random.default_rng(1)
    model = HealthTrendRul(span=24, cap_h=200).fit(*_episodes(rng, 20))
    hs, ruls = _episodes(np.random.default_rng(2), 10)
    v, lo, hi = model.predict(np.concatenate([trailing(h, model.span) for h in hs]))
    y = np.minimum(np.concatenate(ruls), model.cap_h)
    ok = np.isfinite(v)
    assert (lo[ok] <= v[ok]).all() and (v[ok] <= hi[ok]).all()
    inside = ((y[ok] >= lo[ok]) & (y[ok] <= hi[ok])).mean()
    assert 0.6 <= inside <= 0.98  # an 80 % interval, calibrated on other episodes
    baseline = np.sqrt(np.mean((y[ok] - y[ok].mean()) ** 2))
    assert np.sqrt(np.mean((y[ok] - v[ok]) ** 2)) < 0.6 * baseline


def test_rul_trend_loads_through_the_registry_only_with_its_pin(tmp_path) -> None:
    model = HealthTrendRul(span=24, cap_h=200).fit(*_episodes(np.random.default_rng(3), 5))
    man = trend_manifest(model, name="r", version="1", asset_type="pump",
                         health_model={"name": "h", "sha256": "0" * 64},
                         training_sha256="0" * 64, metrics={})  # fmt: skip
    sha = save_trend(tmp_path / "r", model, man)
    manifest, again = registry.load(tmp_path / "r", sha)
    assert manifest["kind"] == "rul-trend" and again.h_fail_ == model.h_fail_
    with pytest.raises(ArtifactError, match="not the pinned"):
        registry.load(tmp_path / "r", "f" * 64)
