"""Alarm thresholds from a declared false-alarm rate on training rows, and causal smoothing."""

from __future__ import annotations

import numpy as np


def calibrate_threshold(train_scores: np.ndarray, false_alarm_rate: float, margin: float) -> float:
    """Return ``margin`` times the (1 − rate) quantile of the training scores.

    The quantile makes the declared false-alarm rate hold on the training rows; ``margin``
    (≥ 1) widens it for training sets too short to show all normal variation (a few hundred
    autocorrelated rows say little about the far tail). Test rows are never looked at.

    Examples
    --------
    >>> calibrate_threshold(np.arange(101.0), 0.01, 1.0)
    99.0
    """
    scores = np.asarray(train_scores, dtype=float)
    if scores.size == 0:
        raise ValueError("no training scores to calibrate a threshold on")
    if not 0.0 <= false_alarm_rate < 1.0:
        raise ValueError(f"false_alarm_rate {false_alarm_rate} is not in [0, 1)")
    return float(np.quantile(scores, 1.0 - false_alarm_rate, method="higher") * margin)


def trailing_mean(x: np.ndarray, window: int) -> np.ndarray:
    """Mean over the last ``window`` rows (fewer at the start); row t sees rows ≤ t only.

    Examples
    --------
    >>> trailing_mean(np.array([1.0, 3.0, 5.0, 7.0]), 2).tolist()
    [1.0, 2.0, 4.0, 6.0]
    """
    x = np.asarray(x, dtype=float)
    if window <= 1:
        return x.copy()
    flat = x.reshape(x.shape[0], -1)
    c = np.cumsum(np.vstack([np.zeros((1, flat.shape[1])), flat]), axis=0)
    i = np.arange(flat.shape[0])
    lo = np.maximum(0, i + 1 - window)
    out = (c[i + 1] - c[lo]) / (i + 1 - lo)[:, None]
    return out.reshape(x.shape)
