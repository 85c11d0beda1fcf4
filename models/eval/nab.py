"""The Numenta Anomaly Benchmark scorer, as NAB v1.1's `nab/sweeper.py` computes it.

Reproduces the official per-file rows of `results/<detector>/<detector>_<profile>_scores.csv`
(threshold, raw score, TP/TN/FP/FN, total) and the threshold optimisation of
`nab/optimizer.py`, vectorised with numpy. Reference: Lavin & Ahmad (2015),
arXiv:1510.03336, and numenta/NAB commit ea702d75 (MIT).

Examples
--------
>>> import numpy as np
>>> ts = np.arange(100).astype("datetime64[s]")
>>> hit_at_left_edge = np.eye(100)[60]
>>> rows = sweep_file(ts, hit_at_left_edge, [(ts[60], ts[79])], PROFILES["standard"])
>>> row = score_at(rows, 1.0)
>>> round(row.score, 6), row.tp, row.fp
(1.0, 1, 0)
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: Row has no window (outside every anomaly window, after the probationary period).
OUTSIDE = -1
#: Row lies in the probationary period and is never scored.
PROBATION = -2


@dataclass(frozen=True)
class Profile:
    """One NAB application profile: weights of a window hit, a false alarm and a miss."""

    name: str
    tp_weight: float
    fp_weight: float
    fn_weight: float


#: The three profiles of NAB's `config/profiles.json`.
PROFILES = {
    "standard": Profile("standard", 1.0, 0.11, 1.0),
    "reward_low_FP_rate": Profile("reward_low_FP_rate", 1.0, 0.22, 1.0),
    "reward_low_FN_rate": Profile("reward_low_FN_rate", 1.0, 0.11, 2.0),
}


@dataclass(frozen=True)
class SweepRows:
    """Per-row anomaly score, weighted NAB score if detected, and window id of scored rows."""

    anomaly: np.ndarray
    sweep: np.ndarray
    window: np.ndarray
    n_windows: int
    profile: Profile


@dataclass(frozen=True)
class ThresholdScore:
    """The raw NAB score and row counts when rows with score >= threshold are detections."""

    threshold: float
    score: float
    tp: int
    tn: int
    fp: int
    fn: int
    total: int


def scaled_sigmoid(position: np.ndarray) -> np.ndarray:
    """NAB's 2·sigmoid(−5x) − 1, and −1 beyond 3 window widths past a window."""
    x = np.asarray(position, dtype=float)
    with np.errstate(over="ignore"):
        val = 2.0 / (1.0 + np.exp(5.0 * x)) - 1.0
    return np.where(x > 3.0, -1.0, val)


def probation_length(n_rows: int, probation_percent: float = 0.15) -> float:
    """Rows NAB ignores at the start of a file: 15 % of it, at most 750 rows."""
    return min(math.floor(probation_percent * n_rows), probation_percent * 5000)


def window_indices(timestamps: np.ndarray, windows: Sequence[tuple]) -> list[tuple[int, int]]:
    """Map window limits to row indices; like NAB, both limits must be exact timestamps."""
    ts = np.asarray(timestamps).astype("datetime64[us]")
    out = []
    for start, end in windows:
        idx = []
        for limit in (start, end):
            hit = np.flatnonzero(ts == np.datetime64(limit, "us"))
            if hit.size == 0:
                raise ValueError(
                    f"window limit {limit} is not a timestamp of the series "
                    "(fix: NAB windows must start and end on exact row timestamps)"
                )
            idx.append(int(hit[0]))
        out.append((idx[0], idx[1]))
    return out


def sweep_file(
    timestamps: np.ndarray,
    anomaly_scores: np.ndarray,
    windows: Sequence[tuple],
    profile: Profile,
    probation_percent: float = 0.15,
) -> SweepRows:
    """Score every row of one file as NAB's `Sweeper.calcSweepScore` does."""
    anomaly = np.asarray(anomaly_scores, dtype=float)
    n = anomaly.size
    if np.asarray(timestamps).shape[0] != n:
        raise ValueError("timestamps and anomaly scores differ in length")
    if np.isnan(anomaly).any():
        raise ValueError("anomaly scores contain NaN (fix: score every row)")
    limits = window_indices(timestamps, windows)
    idx = np.arange(n)
    window = np.full(n, OUTSIDE)
    # Outside windows a detection is a false positive: −1 before any window, then the sigmoid
    # of the distance past the closest preceding window's right edge in that window's widths.
    sweep = np.full(n, -1.0 * profile.fp_weight)
    max_tp = float(scaled_sigmoid(-1.0))
    for k, (left, right) in enumerate(limits):
        width = float(right - left + 1)
        inside = slice(left, right + 1)
        window[inside] = k
        pos = -(right - idx[inside] + 1) / width
        sweep[inside] = scaled_sigmoid(pos) * profile.tp_weight / max_tp
        end = limits[k + 1][0] if k + 1 < len(limits) else n
        after = slice(right + 1, end)
        # NAB divides by (width − 1): a one-row window makes this a division by zero there too.
        past = np.abs(right - idx[after]) / (width - 1.0)
        sweep[after] = scaled_sigmoid(past) * profile.fp_weight
    window[idx < probation_length(n, probation_percent)] = PROBATION
    scored_windows = np.unique(window[window >= 0])
    # Renumber so window ids are 0..K−1 over the windows that have scored rows.
    remap = np.full(len(limits) + 1, OUTSIDE)
    remap[scored_windows] = np.arange(scored_windows.size)
    window = np.where(window >= 0, remap[np.maximum(window, 0)], window)
    return SweepRows(anomaly, sweep, window, int(scored_windows.size), profile)


def concat(parts: Sequence[SweepRows]) -> SweepRows:
    """Pool several files into one corpus, as NAB's optimiser does before sweeping."""
    if not parts:
        raise ValueError("nothing to pool")
    offset = 0
    windows = []
    for p in parts:
        windows.append(np.where(p.window >= 0, p.window + offset, p.window))
        offset += p.n_windows
    return SweepRows(
        np.concatenate([p.anomaly for p in parts]),
        np.concatenate([p.sweep for p in parts]),
        np.concatenate(windows),
        offset,
        parts[0].profile,
    )


def scores_by_threshold(rows: SweepRows) -> list[ThresholdScore]:
    """One score per distinct threshold, highest first, as `Sweeper.calcScoreByThreshold`."""
    keep = rows.window != PROBATION
    # Python's sorted(reverse=True) is stable: ties keep file order. A stable sort of the
    # negated scores gives the same order.
    order = np.argsort(-rows.anomaly[keep], kind="stable")
    score = rows.anomaly[keep][order]
    sweep = rows.sweep[keep][order]
    window = rows.window[keep][order]
    in_window = window >= 0
    n = score.size
    fn_weight = rows.profile.fn_weight
    # Running total after processing rows 0..j: FP sweep sum + Σ_windows max(−fn, best so far).
    total = np.cumsum(np.where(in_window, 0.0, sweep))
    for k in range(rows.n_windows):
        best = np.maximum.accumulate(np.where(window == k, sweep, -np.inf))
        total = total + np.maximum(-fn_weight, best)
    tp = np.cumsum(in_window)
    fp = np.cumsum(~in_window)
    n_in = int(in_window.sum())
    null = -fn_weight * rows.n_windows
    out = []
    # NAB stores (previous threshold, state so far) each time the score value changes,
    # starting from threshold 1.1 with nothing detected, and once more after the last row.
    if n == 0 or score[0] != 1.1:
        out.append(ThresholdScore(1.1, null, 0, n - n_in, 0, n_in, n))
    change = np.flatnonzero(score[1:] != score[:-1]) + 1
    for j in [*change.tolist(), n]:
        if j == 0:
            continue
        i = j - 1
        out.append(
            ThresholdScore(
                float(score[i]),
                float(total[i]),
                int(tp[i]),
                int(n - n_in - fp[i]),
                int(fp[i]),
                int(n_in - tp[i]),
                n,
            )
        )
    return out


def score_at(rows: SweepRows, threshold: float) -> ThresholdScore:
    """The row NAB's `Sweeper.scoreDataSet` reports for a given threshold."""
    prev = None
    table = scores_by_threshold(rows)
    for row in table:
        if row.threshold == threshold:
            return row
        if row.threshold < threshold:
            return prev if prev is not None else row
        prev = row
    return table[-1]


def optimize(rows: SweepRows) -> ThresholdScore:
    """The threshold with the highest raw score (the first, i.e. highest, on ties)."""
    table = scores_by_threshold(rows)
    return table[int(np.argmax([r.score for r in table]))]


def null_score(rows: SweepRows) -> float:
    """Raw score of the detector that never fires: −fn weight per window."""
    return -rows.profile.fn_weight * rows.n_windows


def perfect_score(rows: SweepRows) -> float:
    """Raw score of the detector that hits each window at its left edge and nothing else."""
    return rows.profile.tp_weight * rows.n_windows


def normalized(raw: float, rows: SweepRows) -> float:
    """NAB's final score: 100 · (raw − null) / (perfect − null)."""
    null = null_score(rows)
    return 100.0 * (raw - null) / (perfect_score(rows) - null)


def read_series(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Read a NAB data or results CSV: its timestamps and its second column as floats."""
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = next(reader)
        col = header.index("anomaly_score") if "anomaly_score" in header else 1
        rows = [(r[0], r[col]) for r in reader if r]
    ts = np.array([r[0] for r in rows], dtype="datetime64[us]")
    return ts, np.array([float(r[1]) for r in rows])


def read_windows(path: Path) -> dict[str, list[tuple[np.datetime64, np.datetime64]]]:
    """Read a `combined_windows.json`: relative data path -> list of (start, end)."""
    raw = json.loads(Path(path).read_text(encoding="utf-8"))
    return {
        key: [(np.datetime64(a, "us"), np.datetime64(b, "us")) for a, b in wins]
        for key, wins in raw.items()
    }


def to_unit_interval(scores: np.ndarray) -> np.ndarray:
    """Map non-negative anomaly scores monotonically into [0, 1), as NAB's sweep expects."""
    s = np.maximum(np.asarray(scores, dtype=float), 0.0)
    return s / (1.0 + s)


def evaluate_scores(
    timestamps: np.ndarray,
    anomaly_scores: np.ndarray,
    windows: Sequence[tuple],
    probation_percent: float = 0.15,
) -> dict[str, tuple[ThresholdScore, float]]:
    """Per profile: the NAB-optimised threshold's row and its normalized score."""
    out = {}
    for name, profile in PROFILES.items():
        rows = sweep_file(timestamps, anomaly_scores, windows, profile, probation_percent)
        best = optimize(rows)
        out[name] = (best, normalized(best.score, rows))
    return out


#: Published NAB v1.1 corpus scores, standard profile (NAB scoreboard, 58 files).
PUBLISHED_CORPUS_STANDARD = {
    "ARTime": 74.9,
    "Numenta HTM": 70.5,
    "CAD OSE": 69.9,
    "Random Cut Forest": 51.7,
}


@dataclass(frozen=True)
class CorpusResult:
    """Per profile: pooled optimum (one threshold for all files) and each file's row there."""

    files: tuple[str, ...]
    best: dict[str, ThresholdScore]
    normalized: dict[str, float]
    per_file: dict[str, dict[str, ThresholdScore]]
    per_file_optimum: dict[str, dict[str, ThresholdScore]]


def evaluate_corpus(
    data_dir: Path,
    labels_file: Path,
    score_series: Callable[[np.ndarray], np.ndarray],
    probation_percent: float = 0.15,
) -> CorpusResult:
    """Score every series of ``labels_file`` found under ``data_dir``, NAB's way.

    ``score_series`` maps one file's values to anomaly scores in [0, 1] (run causally). As
    in NAB's optimiser, one threshold per profile is chosen over all files pooled; each
    file's row at that threshold and its own optimum are reported too.
    """
    all_windows = read_windows(labels_file)
    present = [k for k in sorted(all_windows) if (Path(data_dir) / k).is_file()]
    if not present:
        raise FileNotFoundError(
            f"{data_dir}: none of the {len(all_windows)} series named in {labels_file} "
            "(fix: pass NAB's data folder, holding e.g. realKnownCause/...)"
        )
    parts: dict[str, list[SweepRows]] = {p: [] for p in PROFILES}
    for key in present:
        ts, values = read_series(Path(data_dir) / key)
        scores = score_series(values)
        for name, profile in PROFILES.items():
            parts[name].append(sweep_file(ts, scores, all_windows[key], profile, probation_percent))
    best, norm, per_file, own = {}, {}, {}, {}
    for name in PROFILES:
        pooled = concat(parts[name])
        best[name] = optimize(pooled)
        norm[name] = normalized(best[name].score, pooled)
        per_file[name] = {
            k: score_at(r, best[name].threshold) for k, r in zip(present, parts[name], strict=True)
        }
        own[name] = {k: optimize(r) for k, r in zip(present, parts[name], strict=True)}
    return CorpusResult(tuple(present), best, norm, per_file, own)
