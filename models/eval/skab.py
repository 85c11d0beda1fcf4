"""SKAB (Skoltech Anomaly Benchmark) with its leaderboard protocol.

Per file, the first 400 rows train a detector (fit and scaling) and the remaining rows are
the test set; outlier metrics (F1, FAR, MAR on the ``anomaly`` column) are pooled over all
test rows of all files; change points are scored with the NAB scorer (60 s windows to the
right of each true change point; a predicted change point is a row where the alarm state
flips). Reads any folder in SKAB's layout (``valve1/``, ``valve2/``, ``other/``, or one of
them); ``anomaly-free/`` is skipped because it has no labels. Reference: Katser & Kozitsin
(2020), github.com/waico/SKAB.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from egiz.models.eval import nab

TRAIN_ROWS = 400
CP_WINDOW = np.timedelta64(60, "s")

#: Published SKAB leaderboard (all 34 files), outlier task: model -> (F1, FAR, MAR).
PUBLISHED_OUTLIER: dict[str, tuple[float, float | None, float | None]] = {
    "Conv-AE": (0.78, 0.136, None),
    "MSET": (0.78, None, None),
    "PCA T²+Q": (0.76, None, None),
    "IsolationForest": (0.29, None, None),
}
#: Published SKAB leaderboard, change-point task, NAB standard (SKAB's own NAB variant).
PUBLISHED_CP_NAB_STANDARD = {"MSCRED": 32.4}


@dataclass(frozen=True)
class SkabFile:
    """One labelled SKAB experiment."""

    name: str
    timestamps: np.ndarray
    X: np.ndarray
    anomaly: np.ndarray
    changepoint: np.ndarray
    signals: tuple[str, ...]


@dataclass
class SkabResult:
    """Pooled outlier counts and metrics, change-point NAB scores, and per-file decisions."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0
    nab_raw: dict[str, float] = field(default_factory=dict)
    nab_normalized: dict[str, float] = field(default_factory=dict)
    skab_nab: dict[str, float] = field(default_factory=dict)
    thresholds: dict[str, float] = field(default_factory=dict)
    predictions: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def f1(self) -> float:
        """Binary F1 of the anomaly label over all test rows."""
        return 2 * self.tp / max(1, 2 * self.tp + self.fp + self.fn)

    @property
    def far(self) -> float:
        """False alarm rate: FP / (FP + TN)."""
        return self.fp / max(1, self.fp + self.tn)

    @property
    def mar(self) -> float:
        """Missed alarm rate: FN / (FN + TP)."""
        return self.fn / max(1, self.fn + self.tp)


def _natural(path: Path) -> list:
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", str(path))]


def find_files(data_dir: Path) -> list[Path]:
    """Every labelled SKAB CSV under ``data_dir`` in natural order (anomaly-free excluded)."""
    root = Path(data_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such folder (fix: pass SKAB's data folder)")
    files = [p for p in root.rglob("*.csv") if "anomaly-free" not in p.parts]
    if not files:
        raise FileNotFoundError(f"{root}: no SKAB CSV files (fix: pass a folder with valve1/ ...)")
    return sorted(files, key=_natural)


def read_file(path: Path, root: Path | None = None) -> SkabFile:
    """Read one `;`-separated SKAB CSV with its ``anomaly`` and ``changepoint`` columns."""
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f, delimiter=";")
        header = next(reader)
        rows = [r for r in reader if r]
    for col in ("datetime", "anomaly", "changepoint"):
        if col not in header:
            raise ValueError(f"{path}: no column {col!r} (fix: use SKAB's original CSV files)")
    i_a, i_c = header.index("anomaly"), header.index("changepoint")
    signal_idx = [
        i for i, h in enumerate(header) if h not in ("datetime", "anomaly", "changepoint")
    ]
    data = np.array([[float(r[i]) for i in signal_idx] for r in rows])
    name = str(path.relative_to(root)) if root else path.name
    return SkabFile(
        name=name,
        timestamps=np.array([r[header.index("datetime")] for r in rows], dtype="datetime64[s]"),
        X=data,
        anomaly=np.array([float(r[i_a]) for r in rows]) == 1.0,
        changepoint=np.array([float(r[i_c]) for r in rows]) == 1.0,
        signals=tuple(header[i] for i in signal_idx),
    )


def changepoint_windows(ts: np.ndarray, changepoint: np.ndarray) -> list[tuple]:
    """60 s windows to the right of each true change point, ending on a row timestamp.

    An overlapping window is cut to end on the row before the next change point, so each
    window keeps its own change point as its left edge (NAB rewards the earliest detection
    from there). SKAB's own variant cuts the later window instead; see `skab_nab_parts`.
    """
    starts = np.flatnonzero(changepoint)
    out = []
    for k, s in enumerate(starts):
        end = int(np.searchsorted(ts, ts[s] + CP_WINDOW, side="right") - 1)
        if k + 1 < len(starts):
            end = min(end, int(starts[k + 1]) - 1)
        out.append((ts[s], ts[max(end, s)]))
    return out


#: SKAB's NAB profiles (waico/SKAB core/metrics.py): A_tp, A_fp, A_fn per profile.
SKAB_NAB_PROFILES = {
    "standard": (1.0, -0.11, -1.0),
    "reward_low_FP_rate": (1.0, -0.22, -1.0),
    "reward_low_FN_rate": (1.0, -0.11, -2.0),
}


def skab_nab_parts(ts: np.ndarray, flips: np.ndarray, changepoint: np.ndarray) -> np.ndarray:
    """Score, null and perfect per profile (3×3) with SKAB's own NAB variant.

    As `single_evaluate_nab` of waico/SKAB (``window_width='60s'``, right-sided windows,
    ``clear_anomalies_mode=True``, "cut right window", "improved" tanh scale, koef 1): every
    predicted point outside a window costs A_fp, a window without one costs A_fn, and the
    first point inside a window earns a tanh-shaped reward from A_tp (its left edge) to A_fp.
    Pooled over files by summing the parts before normalizing, as SKAB's ``chp_score``.
    """
    bounds = [[ts[i], ts[i] + CP_WINDOW] for i in np.flatnonzero(changepoint)]
    for k in range(len(bounds) - 1):
        if bounds[k][1] >= bounds[k + 1][0]:
            bounds[k + 1][0] = bounds[k][1]
    pred = ts[np.asarray(flips) == 1]
    inside = np.zeros(pred.size, dtype=bool)
    first_rel = []
    for t1, t2 in bounds:
        hit = (pred >= t1) & (pred <= t2)
        inside |= hit
        if hit.any():
            rel = (pred[hit][0] - t1) / (t2 - t1) if t2 > t1 else 0.0
            first_rel.append(float(rel))
    n_fp, n_fn = int((~inside).sum()), len(bounds) - len(first_rel)
    x = np.linspace(-np.pi / 2, np.pi / 2, 1000)
    out = np.zeros((3, 3))
    for col, (a_tp, a_fp, a_fn) in enumerate(SKAB_NAB_PROFILES.values()):
        y = (a_tp - a_fp) / 2 * -np.tanh(x) / np.tanh(np.pi / 2) + (a_tp - a_fp) / 2 + a_fp
        tp = sum(float(y[min(int(r * 1000), 999)]) for r in first_rel)
        out[:, col] = (a_fp * n_fp + a_fn * n_fn + tp, len(bounds) * a_fn, len(bounds) * a_tp)
    return out


def evaluate(
    data_dir: Path,
    make_detector: Callable[[], object],
    train_rows: int = TRAIN_ROWS,
) -> SkabResult:
    """Run the leaderboard protocol with a fresh batch detector per file."""
    root = Path(data_dir)
    result = SkabResult()
    cp_rows: dict[str, list[nab.SweepRows]] = {p: [] for p in nab.PROFILES}
    skab_parts = np.zeros((3, 3))
    for path in find_files(root):
        f = read_file(path, root)
        if f.X.shape[0] <= train_rows:
            raise ValueError(f"{f.name}: {f.X.shape[0]} rows, need more than {train_rows}")
        det = make_detector()
        det.fit(f.X[:train_rows])  # type: ignore[attr-defined]
        # Score the whole file so the trailing smoothing of the first test rows sees the
        # rows before them (past only); the training rows' own scores are then dropped.
        pred = det.predict(f.X)[train_rows:]  # type: ignore[attr-defined]
        truth = f.anomaly[train_rows:]
        result.tp += int((pred & truth).sum())
        result.fp += int((pred & ~truth).sum())
        result.fn += int((~pred & truth).sum())
        result.tn += int((~pred & ~truth).sum())
        result.thresholds[f.name] = float(det.threshold_)  # type: ignore[attr-defined]
        result.predictions[f.name] = pred
        ts = f.timestamps[train_rows:]
        flips = np.r_[pred[:1], pred[1:] != pred[:-1]].astype(float)
        windows = changepoint_windows(ts, f.changepoint[train_rows:])
        skab_parts += skab_nab_parts(ts, flips, f.changepoint[train_rows:])
        for name, profile in nab.PROFILES.items():
            cp_rows[name].append(nab.sweep_file(ts, flips, windows, profile, probation_percent=0))
    for name, parts in cp_rows.items():
        rows = nab.concat(parts)
        raw = nab.score_at(rows, 1.0).score
        result.nab_raw[name] = raw
        result.nab_normalized[name] = nab.normalized(raw, rows)
    for col, name in enumerate(SKAB_NAB_PROFILES):
        score, null, perfect = skab_parts[:, col]
        result.skab_nab[name] = float(100 * (score - null) / (perfect - null))
    return result
