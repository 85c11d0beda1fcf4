"""The health index: a batch detector whose fused score maps to health 0–100, with explanations.

Features (window statistics and physics residuals) are robust-standardized on a healthy
baseline (the shared pipeline of :mod:`egiz.models.anomaly.batch`: median/MAD scale, optional
drift allowance, causal trailing mean). Two scores are fused, each divided by its own training
quantile so neither dominates by scale:

- the squared Mahalanobis distance (ridge-regularised), which sees broken correlations;
- the largest squared z over features, which sees one signal running away on its own.

The fused score ``s`` is calibrated to the declared false-alarm rate like every detector
(``threshold_``), and ``health = 100 · 2^(−s / threshold_)``: 100 on the baseline, 50 exactly at
the alarm threshold, → 0 as the asset departs. Beyond ``s / threshold_ = 512`` the exponent
grows with the logarithm of the score instead (:func:`health_from_distance`): a plain ``2^−x``
underflows to exactly 0 past x ≈ 1074, and a health pinned at 0 hides how fast an asset that
is already far from its baseline keeps degrading (the health-trend RUL reads that trend back
through :func:`distance_from_health`). Alarm levels (health 50 and 70) sit at x ≤ 1, where the
mapping is unchanged. :meth:`HealthIndex.explain` says which features
moved it (their share of the Mahalanobis distance and their signed z).
"""

from __future__ import annotations

import numpy as np

from egiz.models.anomaly.batch import _Detector
from egiz.models.anomaly.calibration import calibrate_threshold

#: Health at the calibrated threshold; the alarm rule's default raise level.
HEALTH_AT_THRESHOLD = 50.0

#: Distance (score / threshold) up to which health is exactly ``100 · 2^−x`` ...
DISTANCE_KNEE = 512.0
#: ... and beyond which the exponent grows by this much per doubling of the distance, so
#: health stays a positive float64 (> 1e-300) up to distances of ~1e10 thresholds.
DISTANCE_TAIL_BITS = 16.0


def health_from_distance(x: np.ndarray | float) -> np.ndarray:
    """Health 0–100 from the fused score in threshold units, ``x = s / threshold`` (≥ 0).

    Examples
    --------
    >>> health_from_distance(np.array([0.0, 1.0, 2.0])).tolist()
    [100.0, 50.0, 25.0]
    >>> bool(health_from_distance(1e5) > health_from_distance(1e6) > 0)
    True
    """
    x = np.maximum(np.asarray(x, dtype=float), 0.0)
    with np.errstate(divide="ignore"):
        tail = DISTANCE_KNEE + DISTANCE_TAIL_BITS * np.log2(
            np.maximum(x, DISTANCE_KNEE) / DISTANCE_KNEE
        )
    return 100.0 * np.exp2(-np.where(x <= DISTANCE_KNEE, x, tail))


def distance_from_health(h: np.ndarray | float) -> np.ndarray:
    """Inverse of :func:`health_from_distance` (health 0 maps to the largest finite distance).

    Examples
    --------
    >>> x = np.array([0.0, 0.5, 3.0, 700.0, 3.4e5])
    >>> bool(np.allclose(distance_from_health(health_from_distance(x)), x))
    True
    """
    y = np.log2(100.0 / np.clip(np.asarray(h, dtype=float), 1e-300, 100.0))
    tail = DISTANCE_KNEE * np.exp2(
        (np.maximum(y, DISTANCE_KNEE) - DISTANCE_KNEE) / DISTANCE_TAIL_BITS
    )
    return np.where(y <= DISTANCE_KNEE, y, tail)


class HealthIndex(_Detector):
    """Fused Mahalanobis + max-z detector on healthy-baseline features, mapped to health 0–100.

    Parameters
    ----------
    smoothing : int
        Rows (windows) of the causal trailing mean on the standardized features (1 = none).
    ridge : float
        Added to the covariance diagonal, in standardized units.
    drift_horizon : float
        Rows over which a training trend widens a feature's scale (0 = off).
    false_alarm_rate : float
        Declared fraction of training rows allowed above the threshold.
    margin : float
        Factor applied to that training quantile (≥ 1 widens it for unseen healthy data).
    norm_quantile : float
        Training quantile each fused component is divided by.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> hi = HealthIndex(smoothing=1).fit(rng.normal(size=(500, 3)))
    >>> bool(hi.health(np.zeros((1, 3)))[0] > 90), bool(hi.health(np.full((1, 3), 9.0))[0] < 50)
    (True, True)
    >>> hi.explain(np.array([[0.0, 9.0, 0.0]]), ["flow", "power", "temp"])[0][0]["feature"]
    'power'
    """

    def __init__(
        self,
        smoothing: int = 3,
        ridge: float = 0.05,
        drift_horizon: float = 0.0,
        false_alarm_rate: float = 0.001,
        margin: float = 2.0,
        norm_quantile: float = 0.99,
    ) -> None:
        self.smoothing = smoothing
        self.ridge = ridge
        self.drift_horizon = drift_horizon
        self.false_alarm_rate = false_alarm_rate
        self.margin = margin
        self.norm_quantile = norm_quantile

    def _fit_scores(self, Z: np.ndarray) -> None:
        self.mean_ = Z.mean(axis=0)
        cov = np.atleast_2d(np.cov(Z, rowvar=False)) + self.ridge * np.eye(Z.shape[1])
        self.precision_ = np.linalg.inv(cov)
        d2, z2 = self._parts(Z)
        self.norm_ = np.array(
            [max(float(np.quantile(p, self.norm_quantile)), 1e-9) for p in (d2, z2)]
        )

    def _parts(self, Z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        d = Z - self.mean_
        return np.einsum("ij,jk,ik->i", d, self.precision_, d), np.max(d * d, axis=1)

    def _score(self, Z: np.ndarray) -> np.ndarray:
        d2, z2 = self._parts(Z)
        return np.maximum(d2 / self.norm_[0], z2 / self.norm_[1])

    def fit(self, X: np.ndarray) -> HealthIndex:
        """Learn the healthy baseline; calibrate the threshold to the declared false-alarm rate."""
        Z = self._standardize_fit(X)
        self._fit_scores(Z)
        self.threshold_ = calibrate_threshold(self._score(Z), self.false_alarm_rate, self.margin)
        return self

    def health(self, X: np.ndarray) -> np.ndarray:
        """Health 0–100 per row: 100 on the baseline, 50 at the calibrated alarm threshold."""
        return health_from_distance(self.score_samples(X) / max(self.threshold_, 1e-12))

    def explain(self, X: np.ndarray, names: list[str], top: int = 3) -> list[list[dict]]:
        """Per row, the ``top`` features that moved health most: share of distance and signed z."""
        d = self._prepare(X) - self.mean_
        contrib = d * (d @ self.precision_)  # sums to the squared Mahalanobis distance
        share = contrib / np.maximum(np.abs(contrib).sum(axis=1, keepdims=True), 1e-12)
        order = np.argsort(-np.abs(d), axis=1)[:, :top]
        return [
            [
                {
                    "feature": names[j],
                    "z": round(float(d[i, j]), 2),
                    "share": round(float(share[i, j]), 3),
                }
                for j in order[i]
            ]
            for i in range(d.shape[0])
        ]
