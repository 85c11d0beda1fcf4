"""Numpy-only RUL inference: regime normalization → health-index channel → window features → trees.

This is what the edge runs. It imports numpy alone; :mod:`egiz.models.rul.train` builds it
with scikit-learn and :mod:`egiz.models.artifacts.store` saves and loads it as plain arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from egiz.models.artifacts.trees import TreeEnsemble
from egiz.models.features.window import windows_at
from egiz.models.rul.features import FeatureSpec
from egiz.models.rul.regimes import RegimeNormalizer

#: PHM08-optimal early shift under a normal predictive spread sigma: point - (A + B sigma^2),
#: from (p - mu)(1/10 + 1/13) = ln(10/13) - sigma^2 / 2 (1/10^2 - 1/13^2) (late errors cost
#: exp(d/10), early ones exp(-d/13)).
PHM08_SHIFT_A = -np.log(10.0 / 13.0) / (1.0 / 10.0 + 1.0 / 13.0)
PHM08_SHIFT_B = 0.5 * (1.0 / 10.0**2 - 1.0 / 13.0**2) / (1.0 / 10.0 + 1.0 / 13.0)
#: The 10-90 % band of a normal is mu +- 1.2816 sigma.
BAND_SIGMAS = 2.0 * 1.2815515655446004


def combine_members(
    raw: np.ndarray,
    n_point: int,
    cap: float,
    interval_scale: float = 1.0,
    early_shift: float = 0.0,
    phm08_shrink: float = 0.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(point, low, high) from raw member outputs ``(n, n_point + n_quantiles)``.

    The point is the mean of the point members, then moved ``early_shift`` cycles earlier and
    a fraction ``phm08_shrink`` of the way to the PHM08-optimal point for the spread of the
    calibrated band (uncertain windows move more); the band stays where it was calibrated.

    Examples
    --------
    >>> raw = np.array([[50.0, 52.0, 40.0, 60.0]])
    >>> [round(float(v[0]), 3) for v in combine_members(raw, 2, 125.0)]
    [51.0, 40.0, 60.0]
    >>> round(float(combine_members(raw, 2, 125.0, phm08_shrink=1.0)[0][0]), 3)
    48.815
    """
    point = np.clip(raw[:, :n_point].mean(axis=1), 0.0, cap)
    q = np.clip(raw[:, n_point:], 0.0, cap)
    if not q.shape[1]:
        low = high = point
    else:
        s = interval_scale
        low = np.clip(point - s * np.maximum(point - q[:, 0], 0.0), 0.0, cap)
        high = np.clip(point + s * np.maximum(q[:, -1] - point, 0.0), 0.0, cap)
    if early_shift or phm08_shrink:
        sigma = (high - low) / BAND_SIGMAS
        moved = point - early_shift - phm08_shrink * (PHM08_SHIFT_A + PHM08_SHIFT_B * sigma**2)
        point = np.clip(moved, low, high)
    return point, low, high


@dataclass(frozen=True)
class RulPrediction:
    """RUL in cycles with an interval (``low``/``high`` are the trained quantiles)."""

    rul: np.ndarray
    low: np.ndarray
    high: np.ndarray


@dataclass
class RulRuntime:
    """A trained RUL model, scored with numpy alone.

    ``ensemble`` columns ``[0, n_point)`` are the point members (averaged), then one column
    per quantile in ``quantiles``; predictions are clipped to ``[0, cap]`` cycles.
    """

    normalizer: RegimeNormalizer
    hi_coef: np.ndarray  # (n_kept_sensors,) linear health index over normalised sensors
    hi_intercept: float
    spec: FeatureSpec
    ensemble: TreeEnsemble
    n_point: int
    quantiles: tuple[float, ...]
    cap: float
    #: Widening of the quantile band around the point (chosen by grouped CV, see RulParams).
    interval_scale: float = 1.0
    #: Point rule (see :func:`combine_members`; chosen by grouped CV, see RulParams).
    early_shift: float = 0.0
    phm08_shrink: float = 0.0

    def channels(self, settings: np.ndarray, sensors: np.ndarray) -> np.ndarray:
        """Regime-normalised kept sensors plus the health-index channel, ``(n, s + 1)``."""
        z = self.normalizer.transform(settings, sensors)
        return np.concatenate([z, (z @ self.hi_coef + self.hi_intercept)[:, None]], axis=1)

    def features(
        self, settings: np.ndarray, sensors: np.ndarray, unit: np.ndarray, cycle: np.ndarray
    ) -> np.ndarray:
        """Feature matrix with one row per input row (each the window ending at that row)."""
        x = self.channels(settings, sensors)
        cycle = np.asarray(cycle)
        # Chunks of rows bound peak memory: a (rows, length, 15) window stack and its
        # temporaries would otherwise take ~7 GB for the 20,631 rows of train_FD001 at 300
        # cycles; ~250k window cells per chunk keep it to a few hundred MB at any length.
        per_chunk = max(1, 250_000 // self.spec.length)
        parts = [
            self.spec.compute(windows_at(x, unit, rows, self.spec.length), cycle[rows])
            for rows in np.array_split(np.arange(x.shape[0]), max(1, x.shape[0] // per_chunk))
        ]
        return np.concatenate(parts, axis=0)

    def last_features(
        self, settings: np.ndarray, sensors: np.ndarray, unit: np.ndarray, cycle: np.ndarray
    ) -> np.ndarray:
        """Features of the window ending at each unit's last row only (one row per unit)."""
        rows = np.flatnonzero(np.r_[unit[1:] != unit[:-1], True])
        w = windows_at(self.channels(settings, sensors), unit, rows, self.spec.length)
        return self.spec.compute(w, np.asarray(cycle)[rows])

    def predict_last(
        self, settings: np.ndarray, sensors: np.ndarray, unit: np.ndarray, cycle: np.ndarray
    ) -> RulPrediction:
        """Predict at the last row of each unit (many assets in one vectorised call)."""
        return self.predict_features(self.last_features(settings, sensors, unit, cycle))

    def predict_features(self, X: np.ndarray) -> RulPrediction:
        """RUL and interval from a feature matrix."""
        return RulPrediction(
            *combine_members(
                self.ensemble.predict(X),
                self.n_point,
                self.cap,
                self.interval_scale,
                self.early_shift,
                self.phm08_shrink,
            )
        )

    def predict(
        self, settings: np.ndarray, sensors: np.ndarray, unit: np.ndarray, cycle: np.ndarray
    ) -> RulPrediction:
        """Predict at every row of trajectories ordered by (unit, cycle)."""
        return self.predict_features(self.features(settings, sensors, unit, cycle))

    def predict_window(
        self, settings: np.ndarray, sensors: np.ndarray, cycle: float
    ) -> RulPrediction:
        """Predict for one asset from its latest cycles (oldest first, at most ``length`` used).

        ``settings`` is ``(k, 3)``, ``sensors`` ``(k, 21)``; ``cycle`` is the asset's cycle
        count at the newest row. This is the per-window call of the edge runner.
        """
        settings = np.asarray(settings, np.float64)[-self.spec.length :]
        sensors = np.asarray(sensors, np.float64)[-self.spec.length :]
        x = self.channels(settings, sensors)
        w = np.full((1, self.spec.length, x.shape[1]), np.nan)
        w[0, -x.shape[0] :, :] = x
        X = self.spec.compute(w, np.array([cycle], np.float64))
        return self.predict_features(X)
