"""Operating-regime normalization: group operating settings into regimes, z-score per regime.

C-MAPSS FD002/FD004 fly six operating conditions whose sensor levels differ far more than any
degradation does; normalising each sensor within its regime removes that (the usual practice
since the PHM08 challenge). Regimes are found by snapping each setting to a declared
tolerance, so FD001's single sea-level condition yields one regime and FD002's six yield six,
with the same code and no regime count to tune.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Snap size per operating setting (altitude kft, Mach, throttle resolver angle deg). The
#: measurement noise on settings is < 0.01 of these, the spacing of real regimes > 2x.
DEFAULT_TOLERANCE = (1.0, 0.05, 5.0)


@dataclass
class RegimeNormalizer:
    """Assign rows to regimes (nearest centroid) and z-score sensors per regime.

    Examples
    --------
    >>> s = np.array([[0.0, 0, 100]] * 3 + [[42, 0.84, 100]] * 3)
    >>> x = np.array([[1.0, 5], [2, 5], [3, 5], [10, 7], [11, 7], [12, 7]])
    >>> n = RegimeNormalizer().fit(s, x)
    >>> n.n_regimes_, n.keep_.tolist()
    (2, [True, False])
    >>> np.round(n.transform(s, x).ravel(), 3).tolist()
    [-1.225, 0.0, 1.225, -1.225, 0.0, 1.225]
    """

    tolerance: tuple[float, float, float] = DEFAULT_TOLERANCE
    min_levels: int = 2

    def fit(self, settings: np.ndarray, sensors: np.ndarray) -> RegimeNormalizer:
        """Learn regime centroids, per-regime sensor mean/std and which sensors carry signal."""
        tol = np.asarray(self.tolerance, dtype=np.float64)
        keys = np.round(settings / tol).astype(np.int64)
        _, label = np.unique(keys, axis=0, return_inverse=True)
        label = label.ravel()
        k = int(label.max()) + 1
        counts = np.bincount(label, minlength=k).astype(np.float64)
        self.centroids_ = np.stack(
            [np.bincount(label, settings[:, j], k) / counts for j in range(settings.shape[1])],
            axis=1,
        )
        self.n_regimes_ = k
        mu = np.zeros((k, sensors.shape[1]))
        sd = np.ones((k, sensors.shape[1]))
        for r in range(k):  # k <= a handful of regimes; each step is vectorised over rows
            rows = sensors[label == r]
            mu[r] = rows.mean(axis=0)
            sd[r] = rows.std(axis=0)
        # A sensor with at most `min_levels` distinct values per regime (constant, or a
        # two-level quantised reading like FD001's s6) carries no degradation signal.
        levels = np.array([np.unique(sensors[:, j]).size for j in range(sensors.shape[1])])
        self.keep_ = (levels > self.min_levels * k) & np.all(sd > 0, axis=0)
        self.mean_ = mu[:, self.keep_]
        self.std_ = sd[:, self.keep_]
        return self

    def assign(self, settings: np.ndarray) -> np.ndarray:
        """Regime index of each row (nearest centroid in tolerance units)."""
        tol = np.asarray(self.tolerance, dtype=np.float64)
        d = ((settings[:, None, :] - self.centroids_[None, :, :]) / tol) ** 2
        return np.argmin(d.sum(axis=2), axis=1)

    def transform(self, settings: np.ndarray, sensors: np.ndarray) -> np.ndarray:
        """Z-scored kept sensors, each row against its own regime's mean and std."""
        r = self.assign(np.asarray(settings, dtype=np.float64))
        x = np.asarray(sensors, dtype=np.float64)[:, self.keep_]
        return (x - self.mean_[r]) / self.std_[r]

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Learned state as plain arrays (for an artifact)."""
        return {
            "regime_tolerance": np.asarray(self.tolerance, dtype=np.float64),
            "regime_centroids": self.centroids_,
            "regime_keep": self.keep_,
            "regime_mean": self.mean_,
            "regime_std": self.std_,
        }

    @classmethod
    def from_arrays(cls, a: dict[str, np.ndarray]) -> RegimeNormalizer:
        """Rebuild from :meth:`to_arrays` output."""
        tol = tuple(float(v) for v in a["regime_tolerance"])
        n = cls(tolerance=tol)  # type: ignore[arg-type]
        n.centroids_ = np.asarray(a["regime_centroids"], dtype=np.float64)
        n.n_regimes_ = n.centroids_.shape[0]
        n.keep_ = np.asarray(a["regime_keep"], dtype=bool)
        n.mean_ = np.asarray(a["regime_mean"], dtype=np.float64)
        n.std_ = np.asarray(a["regime_std"], dtype=np.float64)
        return n
