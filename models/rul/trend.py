"""RUL from the health index's trend: extrapolate to the failure level, calibrated on episodes.

The health index (``egiz.models.health``) falls as an asset degrades. Over the last ``span``
windows a least-squares line through the scored health values is extrapolated to ``h_fail_``
(the median health seen in the last windows before a failure in training). That raw estimate
is then calibrated on run-to-failure training episodes with the usual capped target
(``min(true RUL, cap_h)``): per cell of (quantile bin of the raw estimate × bin of the current
distance level), the median residual is added to the estimate, and empirical residual
quantiles give the interval; a sparse cell at a degraded level uses that level's RUL quantiles
instead, and any other sparse cell its raw-estimate bin. Everything is a handful
of arrays, so inference is numpy alone (artifact kind ``rul-trend``).

Examples
--------
>>> import tempfile
>>> t = np.arange(400.0)
>>> H = np.where(t < 200, 98.0, 98.0 - 0.4 * (t - 200))  # fails (health 18) at t = 400
>>> rul = np.clip(400.0 - t, 0, None)
>>> m = HealthTrendRul(span=24, cap_h=300).fit([H], [rul])
>>> v, lo, hi = m.predict(trailing(H, m.span))
>>> bool(abs(v[350] - 50) < 15), bool(lo[350] <= v[350] <= hi[350]), bool(v[100] > 250)
(True, True, True)
>>> d = Path(tempfile.mkdtemp()) / "r"
>>> sha = save_trend(d, m, trend_manifest(m, name="r", version="1", asset_type="pump",
...     health_model={"name": "h", "sha256": "0" * 64}, training_sha256="0" * 64, metrics={}))
>>> _, again = load_trend(d, sha)
>>> bool(np.allclose(again.predict(trailing(H, 24))[0], v, equal_nan=True))
True
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from egiz.models.artifacts.store import load_artifact, save_artifact
from egiz.models.errors import ArtifactError
from egiz.models.health.index import distance_from_health

KIND = "rul-trend"

#: Edges on sqrt(distance) (1.0 = health 50): fine up to 13 (where the mine's assets live),
#: then geometric (x1.5) up to ~500, so an asset that is already far from its baseline (the
#: demo's pump-2 sits at distance ~3,400 thresholds before it wears out) still gets cells that
#: tell a fresh fault from one about to fail.
LEVELS = (0.7, 1.0, 1.5, 2.5, 4.0, 6.0, 9.0, 13.0,
          20.0, 30.0, 45.0, 67.0, 100.0, 150.0, 225.0, 340.0, 500.0)  # fmt: skip


def distance(h: np.ndarray | float) -> np.ndarray:
    """sqrt of the health index's distance score (score / threshold, ~ linear in damage).

    Read back from health through the index's own inverse mapping: ``log2(100 / health)`` up
    to 512 thresholds, a logarithmic tail beyond (where ``2^−x`` would underflow to 0 and a
    far-gone asset's trend would vanish).
    """
    return np.sqrt(distance_from_health(h))


def trailing(h: np.ndarray, span: int) -> np.ndarray:
    """(n, span) matrix of each window's last ``span`` health values, NaN before the start."""
    h = np.asarray(h, dtype=float)
    padded = np.r_[np.full(span - 1, np.nan), h]
    return np.lib.stride_tricks.sliding_window_view(padded, span)


class HealthTrendRul:
    """Health-trend extrapolation with a residual calibration and an empirical interval.

    Parameters
    ----------
    span : int
        Trailing windows the health trend is fitted over.
    min_points : int
        Scored windows needed in the span for an estimate (else NaN).
    cap_h : float
        Target cap in hours (estimates and targets are clipped to it).
    quantiles : tuple of float
        Lower and upper residual quantiles of the interval (0.1, 0.9: an 80 % interval).
    bins : int
        Quantile bins of the raw estimate for the calibration.
    levels : tuple of float
        Edges on the newest window's transformed distance score (crossed with ``bins``;
        1.0 is health 50): fixed, because most training windows are healthy and quantile
        edges would leave every degraded level in one bin.
    """

    def __init__(
        self,
        span: int = 48,
        min_points: int = 12,
        cap_h: float = 500.0,
        quantiles: tuple[float, float] = (0.1, 0.9),
        bins: int = 8,
        levels: tuple[float, ...] = LEVELS,
        min_cell: int = 20,
    ) -> None:
        self.span = span
        self.min_points = min_points
        self.cap_h = cap_h
        self.quantiles = tuple(quantiles)
        self.bins = bins
        self.levels = tuple(levels)
        self.min_cell = min_cell

    def raw(self, H: np.ndarray, h_fail: float | None = None) -> np.ndarray:
        """Uncalibrated hours until the fitted line reaches the failure level, clipped to cap."""
        # The trend is fitted to the index's distance score, log2(100 / health): health maps
        # that distance through 2**-s, so it flattens near 0 where a failure approaches,
        # while the score keeps growing roughly in step with the damage.
        U = distance(np.atleast_2d(np.asarray(H, dtype=float)))
        u_fail = distance(self.h_fail_ if h_fail is None else h_fail)
        x = np.arange(U.shape[1], dtype=float) - (U.shape[1] - 1)  # newest window at x = 0
        w = np.isfinite(U)
        n = w.sum(axis=1)
        y = np.where(w, U, 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            xm = (w * x).sum(axis=1) / n
            ym = y.sum(axis=1) / n
            dx = np.where(w, x - xm[:, None], 0.0)
            slope = (dx * (y - ym[:, None])).sum(axis=1) / (dx * dx).sum(axis=1)
            level = ym - slope * xm
            hours = np.where(slope > 0, (u_fail - level) / slope, np.inf)
            # At or past the failure level (with float slack: a health pinned at its floor
            # must not flip between "now" and "never" on rounding noise in the fit).
            hours = np.where(level >= u_fail - 1e-6, 0.0, hours)
        out = np.clip(np.nan_to_num(hours, nan=np.inf, posinf=np.inf), 0.0, self.cap_h)
        return np.where((n >= self.min_points) & w[:, -1], out, np.nan)

    def fit(self, healths: list[np.ndarray], ruls: list[np.ndarray]) -> HealthTrendRul:
        """Calibrate on episodes: per-window health series and true RUL (h) at window ends."""
        Hs = [trailing(h, self.span) for h in healths]
        H = np.concatenate(Hs)
        y = np.minimum(np.concatenate([np.asarray(r, float) for r in ruls]), self.cap_h)
        last = H[:, -1]
        near = np.isfinite(last) & np.isfinite(y) & (y <= 12.0)
        if near.sum() < 3:
            raise ValueError(
                f"{near.sum()} scored windows within 12 h of a failure (fix: more runs)"
            )
        self.h_fail_ = float(np.median(last[near]))
        r = self.raw(H)
        ok = np.isfinite(r) & np.isfinite(y)
        r, y, u = r[ok], y[ok], distance(H[ok, -1])
        self.edges_ = _edges(r, self.bins, self.cap_h)
        self.level_edges_ = np.asarray(self.levels, dtype=float)
        res = y - r
        q = np.array([0.5, *self.quantiles])
        b = np.searchsorted(self.edges_, r, side="right")
        c = self._cell(b, u)
        n_level = self.level_edges_.size + 1
        n_cells = (self.edges_.size + 1) * n_level
        self.offsets_ = np.zeros((n_cells, 3))
        self.raw_weight_ = np.ones(n_cells)
        lv = c % n_level
        for i in range(self.edges_.size + 1):
            pooled = np.quantile(res[b == i], q) if (b == i).any() else np.zeros(3)
            for j in range(n_level):
                k = i * n_level + j
                cell = res[c == k]
                row = lv == j
                if cell.size >= self.min_cell:
                    self.offsets_[k] = np.quantile(cell, q)
                elif row.sum() >= self.min_cell and j >= 2:
                    # A sparse cell at a degraded level (past health 50) falls back to the
                    # level's own RUL quantiles, ignoring the trend: there the level says
                    # more than a trend estimate seen in few training windows (the demo's
                    # pump-2, live, shows trend estimates its training episodes rarely did).
                    self.offsets_[k] = np.quantile(y[row], q)
                    self.raw_weight_[k] = 0.0
                else:
                    # Otherwise to its raw-estimate bin pooled over levels.
                    self.offsets_[k] = pooled
        return self

    def _cell(self, b: np.ndarray, u: np.ndarray) -> np.ndarray:
        lv = np.searchsorted(self.level_edges_, np.nan_to_num(u), side="right")
        return b * (self.level_edges_.size + 1) + lv

    def predict(self, H: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(estimate, low, high) in hours per row of trailing health; NaN without an estimate."""
        H = np.atleast_2d(np.asarray(H, dtype=float))
        r = self.raw(H)
        b = np.searchsorted(self.edges_, np.nan_to_num(r), side="right")
        cell = self._cell(b, distance(H[:, -1]))
        off = self.offsets_[cell]
        r = r * self.raw_weight_[cell]
        out = np.clip(r[:, None] + off, 0.0, self.cap_h)
        v, lo, hi = out[:, 0], out[:, 1], out[:, 2]
        return v, np.minimum(lo, v), np.maximum(hi, v)


def _edges(x: np.ndarray, bins: int, cap: float) -> np.ndarray:
    """Quantile edges for ``bins`` bins of the estimates strictly between 0 and ``cap``.

    Estimates at 0 ("at the failure level") or at the cap ("no trend") are usually most of the
    training windows; quantiles over all of them collapse onto those two values and leave one
    bin, which turned every trending estimate into one constant. Taken over the others, the
    edges resolve the trend, while 0 and the cap land in the first and last bin.
    """
    inside = x[(x > 0.0) & (x < cap)]
    if inside.size < 2:
        return np.zeros(0)
    return np.unique(np.quantile(inside, np.linspace(0, 1, bins + 1)))


def trend_manifest(
    model: HealthTrendRul,
    *,
    name: str,
    version: str,
    asset_type: str,
    health_model: dict,
    training_sha256: str,
    metrics: dict,
) -> dict:
    """The manifest of a ``rul-trend`` artifact (its input is a health model's output)."""
    return {
        "name": name,
        "version": version,
        "kind": KIND,
        "asset_type": asset_type,
        "inputs": [{"signal": "health_index", "unit": "1", "from": health_model}],
        "window_length": None,  # the health model's windows
        "features": ["health_trend"],
        "params": {
            "span": model.span,
            "min_points": model.min_points,
            "cap_h": model.cap_h,
            "quantiles": list(model.quantiles),
            "bins": model.bins,
            "levels": list(model.levels),
        },
        "h_fail": model.h_fail_,
        "outputs": [{"name": "rul", "unit": "h", "interval": list(model.quantiles)}],
        "training_data_sha256": training_sha256,
        "metrics": metrics,
    }


def save_trend(path: Path, model: HealthTrendRul, manifest: dict) -> str:
    """Write the calibration arrays and ``manifest``; return the artifact sha256."""
    arrays = {
        "edges": model.edges_,
        "level_edges": model.level_edges_,
        "offsets": model.offsets_,
        "raw_weight": model.raw_weight_,
    }
    return save_artifact(path, manifest, arrays)


def load_trend(path: Path, expected_sha256: str) -> tuple[dict, HealthTrendRul]:
    """Load a ``rul-trend`` artifact pinned by ``expected_sha256`` (numpy only)."""
    manifest, arrays = load_artifact(path, expected_sha256)
    if manifest.get("kind") != KIND:
        raise ArtifactError(f"{path}: artifact kind {manifest.get('kind')!r} is not {KIND!r}")
    try:
        p = manifest["params"]
        model = HealthTrendRul(
            int(p["span"]), int(p["min_points"]), float(p["cap_h"]), tuple(p["quantiles"]),
            int(p["bins"]), tuple(p["levels"]),
        )  # fmt: skip
        model.h_fail_ = float(manifest["h_fail"])
        model.edges_ = np.asarray(arrays["edges"], float)
        model.level_edges_ = np.asarray(arrays["level_edges"], float)
        model.offsets_ = np.asarray(arrays["offsets"], float)
        model.raw_weight_ = (
            np.asarray(arrays["raw_weight"], float)
            if "raw_weight" in arrays
            else np.ones(model.offsets_.shape[0])
        )
        cells = (model.edges_.size + 1) * (model.level_edges_.size + 1)
        if model.offsets_.shape != (cells, 3) or model.raw_weight_.shape != (cells,):
            raise ValueError(f"offsets shape {model.offsets_.shape}")
    except (KeyError, ValueError, TypeError) as err:
        raise ArtifactError(f"{path}: artifact content is inconsistent: {err}") from None
    return manifest, model
