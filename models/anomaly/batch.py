"""Batch detectors (`fit` / `score_samples` / `predict`) for multivariate signals.

Each is trained on a healthy baseline ``X`` (rows in time order, columns are signals):
signals are robust-standardized (median, 1.4826·MAD), optionally smoothed by a trailing mean
(row t sees rows ≤ t of the same block only), scored, and the alarm threshold is calibrated on
the training rows to a declared false-alarm rate. Hyperparameters are stored verbatim;
learned state ends in ``_``. Scoring uses numpy alone (scikit-learn only inside ``fit``).
"""

from __future__ import annotations

import numpy as np

from egiz.models.anomaly.calibration import calibrate_threshold, trailing_mean


class _Detector:
    """Shared standardize → smooth → score → calibrate pipeline."""

    smoothing: int
    drift_horizon: float
    false_alarm_rate: float
    margin: float

    def _standardize_fit(self, X: np.ndarray) -> np.ndarray:
        X = _check(X)
        self.center_ = np.median(X, axis=0)
        mad = 1.4826 * np.median(np.abs(X - self.center_), axis=0)
        # A signal mostly flat during training (quantised, idle) has MAD 0: fall back to its
        # standard deviation, and floor both so a constant signal still gets a finite scale.
        floor = 1e-6 * np.maximum(1.0, np.abs(self.center_))
        scale = np.maximum(np.where(mad > 0, mad, X.std(axis=0)), floor)
        # Drift allowance: a signal that trended during training (a warming motor) will keep
        # trending; widen its scale by the change its training slope predicts over
        # ``drift_horizon`` rows instead of alarming on the trend itself.
        t = np.arange(X.shape[0], dtype=float) - (X.shape[0] - 1) / 2.0
        slope = (t @ (X - X.mean(axis=0))) / max(float(t @ t), 1e-12)
        self.scale_ = np.sqrt(scale**2 + (slope * self.drift_horizon) ** 2)
        return self._prepare(X)

    def _prepare(self, X: np.ndarray) -> np.ndarray:
        Z = (_check(X) - self.center_) / self.scale_
        return trailing_mean(Z, self.smoothing)

    def fit(self, X: np.ndarray) -> _Detector:
        """Learn the healthy baseline and calibrate the alarm threshold on it."""
        Z = self._standardize_fit(X)
        self._fit_scores(Z)
        train = self._score(Z)
        self.threshold_ = calibrate_threshold(train, self.false_alarm_rate, self.margin)
        return self

    def score_samples(self, X: np.ndarray) -> np.ndarray:
        """Anomaly score per row (higher is more anomalous)."""
        return self._score(self._prepare(X))

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Boolean alarm per row: score above the calibrated threshold."""
        return self.score_samples(X) > self.threshold_

    def _fit_scores(self, Z: np.ndarray) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _score(self, Z: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError


def _check(X: np.ndarray) -> np.ndarray:
    X = np.asarray(X, dtype=float)
    if X.ndim == 1:
        X = X[:, None]
    if X.ndim != 2 or not np.isfinite(X).all():
        raise ValueError("X must be a finite 2-D array (rows × signals)")
    return X


class Mahalanobis(_Detector):
    """Squared Mahalanobis distance from the healthy state, with a ridge on the covariance.

    The ridge (in standardized units) keeps near-collinear signals from giving a singular or
    hair-trigger precision matrix; it plays the role of MSET's similarity regularisation.

    Parameters
    ----------
    smoothing : int
        Rows of the trailing mean applied to the standardized signals (1 = none).
    drift_horizon : float
        Rows over which a training trend widens a signal's scale (0 = off).
    false_alarm_rate : float
        Declared fraction of training rows allowed above the threshold.
    margin : float
        Factor applied to that training quantile.
    ridge : float
        Added to the covariance diagonal, in standardized units.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> det = Mahalanobis(smoothing=1).fit(rng.normal(size=(500, 3)))
    >>> bool(det.predict(np.array([[12.0, 0.0, 0.0]]))[0])
    True
    """

    def __init__(
        self,
        smoothing: int = 15,
        ridge: float = 0.01,
        drift_horizon: float = 0.0,
        false_alarm_rate: float = 0.0,
        margin: float = 4.0,
    ) -> None:
        self.smoothing = smoothing
        self.ridge = ridge
        self.drift_horizon = drift_horizon
        self.false_alarm_rate = false_alarm_rate
        self.margin = margin

    def _fit_scores(self, Z: np.ndarray) -> None:
        self.mean_ = Z.mean(axis=0)
        cov = np.atleast_2d(np.cov(Z, rowvar=False)) + self.ridge * np.eye(Z.shape[1])
        self.precision_ = np.linalg.inv(cov)

    def _score(self, Z: np.ndarray) -> np.ndarray:
        d = Z - self.mean_
        return np.einsum("ij,jk,ik->i", d, self.precision_, d)


class PCAT2Q(_Detector):
    """Hotelling T² in the principal subspace plus Q (squared prediction error) outside it.

    Both parts are divided by their training means before adding, so neither dominates by
    scale.

    Parameters
    ----------
    n_components : float
        Below 1: keep the components explaining that variance fraction; else their number.
    smoothing : int
        Rows of the trailing mean applied to the standardized signals (1 = none).
    drift_horizon : float
        Rows over which a training trend widens a signal's scale (0 = off).
    false_alarm_rate : float
        Declared fraction of training rows allowed above the threshold.
    margin : float
        Factor applied to that training quantile.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> base = rng.normal(size=(500, 1))
    >>> X = np.hstack([base, base + 0.1 * rng.normal(size=(500, 1))])
    >>> det = PCAT2Q(smoothing=1, n_components=0.9).fit(X)
    >>> bool(det.predict(np.array([[2.0, -2.0]]))[0])  # breaks the correlation: Q fires
    True
    """

    def __init__(
        self,
        n_components: float = 0.9,
        smoothing: int = 15,
        drift_horizon: float = 0.0,
        false_alarm_rate: float = 0.0,
        margin: float = 4.0,
    ) -> None:
        self.n_components = n_components
        self.smoothing = smoothing
        self.drift_horizon = drift_horizon
        self.false_alarm_rate = false_alarm_rate
        self.margin = margin

    def _fit_scores(self, Z: np.ndarray) -> None:
        self.mean_ = Z.mean(axis=0)
        _, s, vt = np.linalg.svd(Z - self.mean_, full_matrices=False)
        var = s**2 / max(1, Z.shape[0] - 1)
        if self.n_components < 1:
            k = int(np.searchsorted(np.cumsum(var) / var.sum(), self.n_components) + 1)
        else:
            k = int(self.n_components)
        k = max(1, min(k, vt.shape[0]))
        self.components_ = vt[:k]
        self.variances_ = np.maximum(var[:k], 1e-12)
        t2, q = self._parts(Z)
        self.t2_ref_ = max(float(t2.mean()), 1e-12)
        self.q_ref_ = max(float(q.mean()), 1e-12)

    def _parts(self, Z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        d = Z - self.mean_
        t = d @ self.components_.T
        t2 = (t**2 / self.variances_).sum(axis=1)
        q = ((d - t @ self.components_) ** 2).sum(axis=1)
        return t2, q

    def _score(self, Z: np.ndarray) -> np.ndarray:
        t2, q = self._parts(Z)
        return t2 / self.t2_ref_ + q / self.q_ref_


class IsolationForestDetector(_Detector):
    """Isolation forest (Liu et al. 2008): trained with scikit-learn, evaluated in numpy.

    ``fit`` copies each tree into arrays, so scoring needs no scikit-learn (and the model can
    be exported as arrays + JSON).

    Parameters
    ----------
    n_estimators, max_samples : int
        Trees, and training rows drawn per tree.
    smoothing : int
        Rows of the trailing mean applied to the standardized signals (1 = none).
    drift_horizon : float
        Rows over which a training trend widens a signal's scale (0 = off).
    false_alarm_rate : float
        Declared fraction of training rows allowed above the threshold.
    margin : float
        Factor applied to that training quantile.
    random_state : int
        Seed of the forest; equal seeds give equal models.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> det = IsolationForestDetector(smoothing=1, n_estimators=50).fit(rng.normal(size=(300, 2)))
    >>> s = det.score_samples(np.array([[0.0, 0.0], [6.0, 6.0]]))
    >>> bool(s[1] > s[0])
    True
    """

    def __init__(
        self,
        n_estimators: int = 100,
        max_samples: int = 256,
        smoothing: int = 15,
        drift_horizon: float = 0.0,
        false_alarm_rate: float = 0.0,
        margin: float = 1.0,
        random_state: int = 0,
    ) -> None:
        self.n_estimators = n_estimators
        self.max_samples = max_samples
        self.smoothing = smoothing
        self.drift_horizon = drift_horizon
        self.false_alarm_rate = false_alarm_rate
        self.margin = margin
        self.random_state = random_state

    def _fit_scores(self, Z: np.ndarray) -> None:
        from sklearn.ensemble import IsolationForest  # training only; scoring is numpy

        forest = IsolationForest(
            n_estimators=self.n_estimators,
            max_samples=min(self.max_samples, Z.shape[0]),
            random_state=self.random_state,
        ).fit(Z)
        # All trees in one node table (children as global indices; a leaf points at itself),
        # so scoring walks every tree for every row at once, max_depth_ vectorised steps.
        left, right, feat, thr, value, roots = [], [], [], [], [], []
        base = 0
        for est, feats in zip(forest.estimators_, forest.estimators_features_, strict=True):
            t = est.tree_
            n = t.node_count
            leaf = t.children_left == -1
            own = np.arange(base, base + n)
            left.append(np.where(leaf, own, t.children_left + base))
            right.append(np.where(leaf, own, t.children_right + base))
            feat.append(np.asarray(feats)[np.maximum(t.feature, 0)])
            thr.append(t.threshold)
            # Path length credited at a leaf: its depth plus c(n) for the samples it did not
            # split further (scikit-learn's convention).
            value.append(np.where(leaf, _node_depth(t.children_left, t.children_right), 0.0))
            value[-1] = value[-1] + np.where(leaf, _avg_path(t.n_node_samples), 0.0)
            roots.append(base)
            base += n
        self.left_ = np.concatenate(left)
        self.right_ = np.concatenate(right)
        self.feature_ = np.concatenate(feat)
        self.threshold_split_ = np.concatenate(thr)
        self.leaf_value_ = np.concatenate(value)
        self.roots_ = np.asarray(roots, dtype=np.intp)
        self.max_depth_ = int(max(est.tree_.max_depth for est in forest.estimators_))
        self.max_samples_ = int(forest.max_samples_)

    def _score(self, Z: np.ndarray) -> np.ndarray:
        rows = np.arange(Z.shape[0])[None, :]
        node = np.repeat(self.roots_[:, None], Z.shape[0], axis=1)
        for _ in range(self.max_depth_):
            go_left = Z[rows, self.feature_[node]] <= self.threshold_split_[node]
            node = np.where(go_left, self.left_[node], self.right_[node])
        mean_depth = self.leaf_value_[node].mean(axis=0)
        # sklearn's score_samples is −2^(−E[h]/c(ψ)); we return its negation (higher = worse).
        return 2.0 ** (-mean_depth / _avg_path(np.array([self.max_samples_]))[0])


def _node_depth(children_left: np.ndarray, children_right: np.ndarray) -> np.ndarray:
    """Depth of every node of one tree (root 0); nodes are numbered parents first."""
    depth = np.zeros(children_left.size)
    for i in range(children_left.size):
        if children_left[i] != -1:
            depth[children_left[i]] = depth[children_right[i]] = depth[i] + 1
    return depth


def _avg_path(n: np.ndarray) -> np.ndarray:
    """c(n): average path length of an unsuccessful BST search over n points."""
    n = np.asarray(n, dtype=float)
    out = np.zeros_like(n)
    big = n > 2
    out[n == 2] = 1.0
    out[big] = 2.0 * (np.log(n[big] - 1.0) + np.euler_gamma) - 2.0 * (n[big] - 1.0) / n[big]
    return out
