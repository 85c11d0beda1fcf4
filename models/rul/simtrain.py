"""Train and evaluate one health model + one health-trend RUL model per simulated asset type.

Input is the simulator's offline runs (``egiz sim generate`` layout, read by
:mod:`egiz.models.eval.simdata`); ``truth.npz`` holds every asset's true RUL in hours
(``rul_h``), used only as the training target and the evaluation truth. Per asset type:

- the health model (:class:`~egiz.models.health.asset.AssetHealth`) is fitted on the healthy
  windows (no degradation, no injected fault) of every asset of that type in the training runs;
- its health series over the same training runs, with the true RUL capped at ``cap_h``,
  calibrates :class:`~egiz.models.rul.trend.HealthTrendRul`;
- evaluation runs use other seeds and are only ever scored.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from egiz.models.eval.simdata import Run, healthy_windows
from egiz.models.health.asset import AssetHealth
from egiz.models.rul.trend import HealthTrendRul, trailing


def true_rul(run: Run, asset: str) -> np.ndarray:
    """True RUL (h) at the end of each of the run's windows, from its ``truth.npz``."""
    with np.load(run.path / "truth.npz", allow_pickle=False) as npz:
        names = [str(a).rsplit(".", 1)[-1] for a in npz["assets"]]
        rul = npz["rul_h"][names.index(asset)].astype(float)
    ends = run.starts + run.window_s
    i = np.clip(np.searchsorted(run.truth_times, ends, side="right") - 1, 0, rul.size - 1)
    return rul[i]


def assets_of(asset_types: dict[str, str], atype: str) -> list[str]:
    """The scenario's assets of one type, sorted."""
    return sorted(a for a, t in asset_types.items() if t == atype)


def train_type(
    runs: list[Run],
    asset_types: dict[str, str],
    atype: str,
    rul_params: dict | None = None,
) -> tuple[AssetHealth, HealthTrendRul]:
    """Fit the type's health model on healthy windows, then calibrate RUL on its health."""
    assets = assets_of(asset_types, atype)
    signals = runs[0].means[assets[0]][0]
    M = np.concatenate([r.means[a][1] for r in runs for a in assets])
    ok = np.concatenate([healthy_windows(r, a) for r in runs for a in assets])
    health = AssetHealth(atype, signals).fit(M, ok)
    hs = [health.health(r.means[a][1]) for r in runs for a in assets]
    ys = [true_rul(r, a) for r in runs for a in assets]
    rul = HealthTrendRul(**(rul_params or {})).fit(hs, ys)
    return health, rul


@dataclass(frozen=True)
class RulScore:
    """RUL errors on evaluation runs, against the true RUL capped at the model's cap."""

    windows: int
    rmse: float
    mae: float
    coverage: float
    rmse_near: float
    near_windows: int
    baseline_rmse: float

    def metrics(self) -> dict:
        """Plain-data summary (JSON-safe)."""
        return {k: round(float(v), 3) for k, v in self.__dict__.items()}


def evaluate_type(
    health: AssetHealth,
    rul: HealthTrendRul,
    runs: list[Run],
    asset_types: dict[str, str],
    atype: str,
    near_h: float = 100.0,
    baseline: float | None = None,
) -> RulScore:
    """Score held-out runs: RMSE/MAE of the estimate, interval coverage, error near failure.

    Only windows with an estimate count (the asset ran and the trend had enough points).
    ``baseline`` is a constant guess (the training targets' mean) whose RMSE is reported
    beside ours, so the number has something honest to stand against.
    """
    ys, vs, los, his = [], [], [], []
    for r in runs:
        for a in assets_of(asset_types, atype):
            h = health.health(r.means[a][1])
            v, lo, hi = rul.predict(trailing(h, rul.span))
            ys.append(np.minimum(true_rul(r, a), rul.cap_h))
            vs.append(v), los.append(lo), his.append(hi)
    y, v, lo, hi = (np.concatenate(x) for x in (ys, vs, los, his))
    ok = np.isfinite(v) & np.isfinite(y)
    y, v, lo, hi = y[ok], v[ok], lo[ok], hi[ok]
    near = y <= near_h
    b = float(np.mean(y)) if baseline is None else baseline
    return RulScore(
        windows=int(ok.sum()),
        rmse=float(np.sqrt(np.mean((v - y) ** 2))),
        mae=float(np.mean(np.abs(v - y))),
        coverage=float(np.mean((y >= lo) & (y <= hi))),
        rmse_near=float(np.sqrt(np.mean((v[near] - y[near]) ** 2))) if near.any() else np.nan,
        near_windows=int(near.sum()),
        baseline_rmse=float(np.sqrt(np.mean((b - y) ** 2))),
    )


def training_mean(runs: list[Run], asset_types: dict[str, str], atype: str, cap: float) -> float:
    """Mean capped true RUL over the training windows (the constant baseline's guess)."""
    ys = [np.minimum(true_rul(r, a), cap) for r in runs for a in assets_of(asset_types, atype)]
    return float(np.mean(np.concatenate(ys)))


def run_units(run: Run, asset: str) -> dict[str, str]:
    """Signal -> unit of one asset, from the run's ``manifest.json``."""
    import json

    manifest = json.loads((run.path / "manifest.json").read_text("utf-8"))
    site = manifest["site"]
    return {
        s["signal"]: s.get("unit", "")
        for s in manifest["signals"]
        if s["asset"].removeprefix(site + ".") == asset
    }


def export_type(
    out: Path,
    atype: str,
    health: AssetHealth,
    rul: HealthTrendRul,
    *,
    units: dict[str, str],
    version: str,
    training_sha256: str,
    metrics: dict,
) -> tuple[str, str]:
    """Write ``out/health`` and ``out/rul`` artifacts for one asset type; return both sha256."""
    from egiz.models.health.artifact import health_manifest, save_health
    from egiz.models.rul.trend import save_trend, trend_manifest

    name = atype.replace("_", "-")
    hm = health_manifest(health, name=f"{name}-health", version=version, window_s=3600.0,
                         units=units, training_sha256=training_sha256, metrics={})  # fmt: skip
    h_sha = save_health(Path(out) / "health", health, hm)
    rm = trend_manifest(rul, name=f"{name}-rul", version=version, asset_type=atype,
                        health_model={"name": hm["name"], "sha256": h_sha},
                        training_sha256=training_sha256, metrics=metrics)  # fmt: skip
    return h_sha, save_trend(Path(out) / "rul", rul, rm)
