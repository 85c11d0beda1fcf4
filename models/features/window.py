"""Time-domain window features over stacks of windows, NaN-padded where history is short.

Every function takes ``w`` of shape ``(n_windows, length, n_signals)``, oldest sample first,
newest last; positions before the start of a signal's history hold NaN. The same functions
serve training (one window per cycle of every engine) and the edge (one window per asset),
so the features an artifact was trained on are exactly the ones it is scored on.
"""

from __future__ import annotations

import numpy as np


def stack_windows(x: np.ndarray, groups: np.ndarray, length: int) -> np.ndarray:
    """Window ending at every row of ``x`` (n, s), not crossing ``groups`` boundaries.

    Returns ``(n, length, s)``; rows before the start of a row's group are NaN.

    Examples
    --------
    >>> w = stack_windows(np.arange(4.0)[:, None], np.array([1, 1, 2, 2]), 2)
    >>> w[:, :, 0].tolist()
    [[nan, 0.0], [0.0, 1.0], [nan, 2.0], [2.0, 3.0]]
    """
    return windows_at(x, groups, np.arange(np.asarray(x).shape[0]), length)


def windows_at(x: np.ndarray, groups: np.ndarray, rows: np.ndarray, length: int) -> np.ndarray:
    """Windows ending at ``rows`` of ``x`` (n, s) only, ``(len(rows), length, s)``, NaN-padded.

    Rows are assumed grouped contiguously (e.g. ordered by engine, then cycle); a window never
    reaches into the previous group's rows.
    """
    x = np.asarray(x, dtype=np.float64)
    groups = np.asarray(groups)
    rows = np.asarray(rows, dtype=np.int64)
    start = np.r_[0, np.flatnonzero(groups[1:] != groups[:-1]) + 1]
    group_start = start[np.searchsorted(start, rows, side="right") - 1]
    src = rows[:, None] - (length - 1 - np.arange(length))[None, :]
    w = x[np.maximum(src, 0)]
    w[src < group_start[:, None]] = np.nan
    return w


def tail(w: np.ndarray, k: int) -> np.ndarray:
    """The newest ``k`` samples of each window."""
    return w[:, -k:, :]


def _present(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(NaN-zeroed values, 0/1 presence weights) — sums over these beat nan* reductions."""
    present = ~np.isnan(w)
    return np.where(present, w, 0.0), present.astype(np.float64)


def mean(w: np.ndarray) -> np.ndarray:
    """Mean over the present samples."""
    w0, p = _present(w)
    return w0.sum(axis=1) / p.sum(axis=1)


def std(w: np.ndarray) -> np.ndarray:
    """Population standard deviation over the present samples."""
    return np.nanstd(w, axis=1)


def rms(w: np.ndarray) -> np.ndarray:
    """Root mean square."""
    return np.sqrt(np.nanmean(w * w, axis=1))


def peak_to_peak(w: np.ndarray) -> np.ndarray:
    """Max minus min."""
    return np.nanmax(w, axis=1) - np.nanmin(w, axis=1)


def crest_factor(w: np.ndarray) -> np.ndarray:
    """Peak absolute value over RMS (0 for an all-zero window)."""
    r = rms(w)
    peak = np.nanmax(np.abs(w), axis=1)
    return np.divide(peak, r, out=np.zeros_like(r), where=r > 0)


def _central_moment(w: np.ndarray, order: int) -> np.ndarray:
    d = w - np.nanmean(w, axis=1, keepdims=True)
    return np.nanmean(d**order, axis=1)


def skewness(w: np.ndarray) -> np.ndarray:
    """Fisher skewness (0 for a constant window)."""
    m2 = _central_moment(w, 2)
    m3 = _central_moment(w, 3)
    return np.divide(m3, m2**1.5, out=np.zeros_like(m2), where=m2 > 0)


def kurtosis(w: np.ndarray) -> np.ndarray:
    """Excess kurtosis (0 for a constant window)."""
    m2 = _central_moment(w, 2)
    m4 = _central_moment(w, 4)
    return np.divide(m4, m2 * m2, out=np.zeros_like(m2), where=m2 > 0) - np.where(m2 > 0, 3, 0)


def slope(w: np.ndarray) -> np.ndarray:
    """Least-squares slope per sample step over the present samples (0 with one sample)."""
    w0, p = _present(w)
    t = np.arange(w.shape[1], dtype=np.float64)
    n = p.sum(axis=1)
    st = np.einsum("nls,l->ns", p, t)
    stt = np.einsum("nls,l->ns", p, t * t)
    sx = w0.sum(axis=1)
    stx = np.einsum("nls,l->ns", w0, t)
    den = n * stt - st * st
    return np.divide(n * stx - st * sx, den, out=np.zeros_like(den), where=den > 0)


def ewm_last(w: np.ndarray, alpha: float) -> np.ndarray:
    """Exponentially weighted mean ending at the newest sample, weights renormalised."""
    w0, p = _present(w)
    k = np.arange(w.shape[1] - 1, -1, -1, dtype=np.float64)
    weights = (1.0 - alpha) ** k
    return np.einsum("nls,l->ns", w0, weights) / np.einsum("nls,l->ns", p, weights)


def last(w: np.ndarray) -> np.ndarray:
    """The newest sample."""
    return w[:, -1, :]


def minimum(w: np.ndarray) -> np.ndarray:
    """Minimum over present samples."""
    return np.nanmin(w, axis=1)


def maximum(w: np.ndarray) -> np.ndarray:
    """Maximum over present samples."""
    return np.nanmax(w, axis=1)


#: The time-domain statistics by name, for feature catalogues (catalogues are data).
STATISTICS = {
    "mean": mean,
    "std": std,
    "rms": rms,
    "p2p": peak_to_peak,
    "crest": crest_factor,
    "skew": skewness,
    "kurt": kurtosis,
    "slope": slope,
    "last": last,
    "min": minimum,
    "max": maximum,
}
