"""Small pinned motor models for edge tests: trained here on synthetic data, in seconds."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from egiz.models.health.artifact import health_manifest, save_health
from egiz.models.health.asset import AssetHealth
from egiz.models.rul.trend import HealthTrendRul, save_trend, trend_manifest


def train_motor_models(d: Path, model_s: float) -> tuple[str, str]:
    """Write a health model (``model_s`` windows) to ``d/health`` and a RUL trend model on it
    to ``d/rul``, both for the ``motor`` type; return their sha256 (health, rul)."""
    rng = np.random.default_rng(0)
    M = np.c_[rng.uniform(10, 12, 300), 60 + rng.normal(0, 0.2, 300)]
    hm = AssetHealth("induction_motor", ["current", "winding_temp"], {"smoothing": 2}).fit(M)
    man = health_manifest(hm, name="motor-health", version="0.1.0", window_s=model_s,
                          units={"current": "A", "winding_temp": "degC"},
                          training_sha256="0" * 64, metrics={})  # fmt: skip
    health_sha = save_health(d / "health", hm, man)
    t = np.arange(200.0)
    H = np.where(t < 100, 98.0, 98.0 - 0.8 * (t - 100))
    rul = HealthTrendRul(span=6, min_points=3, cap_h=100).fit([H], [np.clip(200 - t, 0, None)])
    rman = trend_manifest(rul, name="motor-rul", version="0.2.0", asset_type="motor",
                          health_model={"name": "motor-health", "sha256": health_sha},
                          training_sha256="0" * 64, metrics={})  # fmt: skip
    return health_sha, save_trend(d / "rul", rul, rman)
