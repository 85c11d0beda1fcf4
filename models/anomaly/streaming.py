"""Streaming detectors (`learn_one` / `score_one`): one sample at a time, no lookahead.

`score_one(x)` scores a sample against what was learned before it; `learn_one(x)` then adds
it. A sample is a float or a 1-D array of signals; higher scores are more anomalous.
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np

from egiz.models.anomaly.calibration import calibrate_threshold


def _vec(x: float | np.ndarray) -> np.ndarray:
    return np.atleast_1d(np.asarray(x, dtype=float))


class RobustZScore:
    """Largest |x − median| / (1.4826·MAD) over signals, against a trailing window.

    Parameters
    ----------
    window : int
        Samples kept in the trailing window.
    min_history : int
        Samples learned before scores are non-zero.

    Examples
    --------
    >>> det = RobustZScore(window=50, min_history=10)
    >>> for v in [10.0, 11.0, 9.0, 10.5, 9.5] * 4:
    ...     det.learn_one(v)
    >>> det.score_one(10.0) < 1.0 < det.score_one(20.0)
    True
    """

    def __init__(self, window: int = 288, min_history: int = 30) -> None:
        self.window = window
        self.min_history = min_history

    def learn_one(self, x: float | np.ndarray) -> None:
        """Add one sample to the trailing window."""
        if not hasattr(self, "history_"):
            self.history_: deque[np.ndarray] = deque(maxlen=self.window)
        self.history_.append(_vec(x))

    def score_one(self, x: float | np.ndarray) -> float:
        """Score one sample; 0 until ``min_history`` samples were learned."""
        hist = getattr(self, "history_", ())
        if len(hist) < self.min_history:
            return 0.0
        h = np.asarray(hist)
        med = np.median(h, axis=0)
        # The MAD floor keeps a flat (quantised) signal from dividing by zero.
        mad = 1.4826 * np.median(np.abs(h - med), axis=0) + 1e-9
        return float(np.max(np.abs(_vec(x) - med) / mad))


class EWMAZScore:
    """Largest |x − EWMA mean| / EWMA std over signals (exponentially forgetting, O(1)).

    Parameters
    ----------
    alpha : float
        Weight of the newest sample in the running mean and variance.
    min_history : int
        Samples learned before scores are non-zero.

    Examples
    --------
    >>> det = EWMAZScore(alpha=0.1, min_history=5)
    >>> for v in [1.0, 2.0] * 10:
    ...     det.learn_one(v)
    >>> det.score_one(1.5) < 1.0 < det.score_one(9.0)
    True
    """

    def __init__(self, alpha: float = 0.01, min_history: int = 30) -> None:
        self.alpha = alpha
        self.min_history = min_history

    def learn_one(self, x: float | np.ndarray) -> None:
        """Update the running mean and variance (West's exponentially weighted form)."""
        v = _vec(x)
        if not hasattr(self, "mean_"):
            self.mean_, self.var_, self.n_seen_ = v.copy(), np.zeros_like(v), 0
        d = v - self.mean_
        self.mean_ = self.mean_ + self.alpha * d
        self.var_ = (1 - self.alpha) * (self.var_ + self.alpha * d * d)
        self.n_seen_ += 1

    def score_one(self, x: float | np.ndarray) -> float:
        """Score one sample; 0 until ``min_history`` samples were learned."""
        if getattr(self, "n_seen_", 0) < self.min_history:
            return 0.0
        return float(np.max(np.abs(_vec(x) - self.mean_) / np.sqrt(self.var_ + 1e-12)))


class TailProbability:
    """Mean over the last ``smoothing`` samples of −log10 of each sample's two-sided rank p-value.

    The p-value of a sample is its empirical tail probability among the last ``history``
    samples (exact ranks in a sorted buffer, so no distribution is assumed). Averaging the
    log surprise over a short span makes a sustained excursion outrank a single spike — the
    idea of Numenta's anomaly likelihood (Ahmad et al. 2017) without the HTM in front.
    Several signals: the smallest p-value, Bonferroni-corrected.

    Parameters
    ----------
    history : int
        Samples kept for the rank p-values (6048 = 3 weeks at 5 min).
    smoothing : int
        Samples whose surprise is averaged into one score (72 = 6 h at 5 min).
    min_history : int
        Samples learned before scores are non-zero.

    Examples
    --------
    >>> det = TailProbability(history=200, smoothing=1, min_history=50)
    >>> for v in np.sin(np.arange(200) / 5.0):
    ...     det.learn_one(v)
    >>> det.score_one(0.0) < 1.0 < det.score_one(3.0)
    True
    """

    def __init__(self, history: int = 6048, smoothing: int = 72, min_history: int = 100) -> None:
        self.history = history
        self.smoothing = smoothing
        self.min_history = min_history

    def _surprise(self, v: np.ndarray) -> float:
        m = self.count_
        if m < self.min_history:
            return 0.0
        below = np.array(
            [np.searchsorted(self.sorted_[j, :m], v[j], "right") for j in range(v.size)]
        )
        p = np.minimum(below + 1, m - below + 1) / (m + 1)
        return -math.log10(min(1.0, float(p.min()) * v.size))

    def score_one(self, x: float | np.ndarray) -> float:
        """Mean surprise of the last ``smoothing − 1`` learned samples and this one."""
        if not hasattr(self, "sorted_"):
            return 0.0
        s = self._surprise(_vec(x))
        recent = list(self.recent_)[-(self.smoothing - 1) :] if self.smoothing > 1 else []
        return (sum(recent) + s) / (len(recent) + 1)

    def learn_one(self, x: float | np.ndarray) -> None:
        """Add the sample's surprise to the smoothing span and its value to the history."""
        v = _vec(x)
        if not hasattr(self, "sorted_"):
            # Sorted copy per signal plus a ring buffer in arrival order: 16 bytes per
            # sample and signal, and O(history) memmoves instead of Python objects.
            self.sorted_ = np.empty((v.size, self.history))
            self.ring_ = np.empty((self.history, v.size))
            self.count_ = 0
            self.next_ = 0
            self.recent_: deque[float] = deque(maxlen=max(1, self.smoothing))
        self.recent_.append(self._surprise(v))
        m = self.count_
        for j in range(v.size):
            col = self.sorted_[j]
            if m == self.history:  # evict the oldest sample of this signal
                old = self.ring_[self.next_, j]
                k = int(np.searchsorted(col, old, "left"))
                col[k : m - 1] = col[k + 1 : m].copy()
                n = m - 1
            else:
                n = m
            k = int(np.searchsorted(col[:n], v[j], "right"))
            col[k + 1 : n + 1] = col[k:n].copy()
            col[k] = v[j]
        self.ring_[self.next_] = v
        self.next_ = (self.next_ + 1) % self.history
        self.count_ = min(m + 1, self.history)


def score_stream(detector: object, xs: np.ndarray) -> np.ndarray:
    """Run a streaming detector prequentially: score each sample, then learn it."""
    out = np.empty(len(xs))
    for i, x in enumerate(xs):
        out[i] = detector.score_one(x)  # type: ignore[attr-defined]
        detector.learn_one(x)  # type: ignore[attr-defined]
    return out


def calibrate_stream(
    detector: object, xs: np.ndarray, false_alarm_rate: float = 0.001, margin: float = 1.0
) -> float:
    """Warm a streaming detector up on healthy samples and return its alarm threshold.

    The threshold is ``margin`` × the (1 − rate) quantile of the prequential scores of ``xs``
    (each scored before it is learned, as in service); the detector keeps what it learned.

    Examples
    --------
    >>> det = EWMAZScore(alpha=0.05, min_history=10)
    >>> thr = calibrate_stream(det, np.sin(np.arange(500) / 7.0), false_alarm_rate=0.01)
    >>> det.score_one(0.0) < thr < det.score_one(5.0)
    True
    """
    return calibrate_threshold(score_stream(detector, xs), false_alarm_rate, margin)
