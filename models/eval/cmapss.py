"""C-MAPSS evaluation with the published protocol: last cycle of each test engine, two conventions.

Train on ``train_FD00N.txt`` with the frozen :class:`RulParams`, predict once at the last
cycle of every engine in ``test_FD00N.txt`` and compare with ``RUL_FD00N.txt``: RMSE and the
PHM08 score against the true RUL as given, and again against the true RUL capped at 125 (the
convention of most deep-learning papers). The test file is scored exactly once per run.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from egiz.models.eval.cmapss_data import Subset, Trajectories, read_subset
from egiz.models.rul.train import RulParams, TrainedRul, fit_rul

log = logging.getLogger(__name__)

#: Published FD001 RMSE figures (see ../shared/data/cmapss/README.md) as (name, RMSE against
#: the true RUL, RMSE against the capped truth); None where the source does not say which.
PUBLISHED_FD001: tuple[tuple[str, float | None, float | None, str], ...] = (
    ("SVR", None, None, "20.96 (paper; convention varies)"),
    ("deep LSTM", None, None, "16.14 (paper; convention varies)"),
    ("multi-scale CNN", None, None, "11.44 (paper; convention varies)"),
    ("best published", None, None, "~11.0 (convention varies)"),
    ("plain GBM, regime-norm 30-cycle stats", 12.4, 11.1, "issue 6 baseline"),
)
CAPPED_TRUTH = 125.0


def rmse(pred: np.ndarray, true: np.ndarray) -> float:
    """Root mean squared error."""
    return float(np.sqrt(np.mean((np.asarray(pred) - np.asarray(true)) ** 2)))


def phm08_score(pred: np.ndarray, true: np.ndarray) -> float:
    """PHM08 asymmetric score (Saxena et al. 2008): late predictions cost more; lower is better.

    Examples
    --------
    >>> round(phm08_score(np.array([10.0, 0.0]), np.array([0.0, 13.0])), 4)
    3.4366
    """
    d = np.asarray(pred, np.float64) - np.asarray(true, np.float64)
    return float(np.sum(np.where(d < 0, np.expm1(-d / 13.0), np.expm1(d / 10.0))))


@dataclass(frozen=True)
class CmapssResult:
    """Metrics of one run of the protocol on one subset."""

    subset: str
    n_engines: int
    rmse_true: float
    score_true: float
    rmse_capped: float
    score_capped: float
    coverage: float  # fraction of capped true RUL inside the [low, high] interval
    interval_width: float
    train_s: float
    pred: np.ndarray
    low: np.ndarray
    high: np.ndarray
    true: np.ndarray
    test_looks: int = 1  # times this run scored the test file (the protocol allows 1)

    def metrics(self) -> dict:
        """The JSON-able metrics (for a manifest)."""
        return {
            "subset": self.subset,
            "n_test_engines": self.n_engines,
            "rmse_true_rul": round(self.rmse_true, 4),
            "phm08_true_rul": round(self.score_true, 2),
            "rmse_capped_125": round(self.rmse_capped, 4),
            "phm08_capped_125": round(self.score_capped, 2),
            "interval_coverage_capped": round(self.coverage, 4),
            "interval_mean_width": round(self.interval_width, 2),
            "test_file_scored_times_this_run": self.test_looks,
        }


def train_on(t: Trajectories, params: RulParams | None = None) -> TrainedRul:
    """Fit the RUL recipe on run-to-failure trajectories."""
    return fit_rul(t.settings, t.sensors, t.unit, t.cycle, t.rul(), params)


def evaluate(subset: Subset, params: RulParams | None = None) -> tuple[CmapssResult, TrainedRul]:
    """Train on the subset's train file, score its test file once, return metrics and model."""
    look = subset.claim_test_look()  # before training: a refused run costs nothing
    t0 = time.perf_counter()
    trained = train_on(subset.train, params)
    train_s = time.perf_counter() - t0
    t = subset.test
    log.info(
        "%s: scoring test_%s.txt once (look %d of 1 allowed in this run; last cycle of each "
        "engine; recipe frozen before reading it)",
        subset.name,
        subset.name,
        look,
    )
    pred = trained.runtime.predict_last(t.settings, t.sensors, t.unit, t.cycle)
    rows = t.last_rows()
    p, lo, hi = pred.rul, pred.low, pred.high
    true = subset.test_rul
    capped = np.minimum(true, CAPPED_TRUTH)
    result = CmapssResult(
        subset=subset.name,
        n_engines=int(rows.size),
        rmse_true=rmse(p, true),
        score_true=phm08_score(p, true),
        rmse_capped=rmse(p, capped),
        score_capped=phm08_score(p, capped),
        coverage=float(np.mean((capped >= lo) & (capped <= hi))),
        interval_width=float(np.mean(hi - lo)),
        train_s=train_s,
        pred=p,
        low=lo,
        high=hi,
        true=true,
        test_looks=subset.test_looks,
    )
    return result, trained


def evaluate_dir(data_dir: Path, subset: str, params: RulParams | None = None):
    """Read ``data_dir`` in NASA's layout and run :func:`evaluate` on ``subset``."""
    return evaluate(read_subset(Path(data_dir), subset), params)


def grouped_cv(
    t: Trajectories, params: RulParams | None = None, folds: int = 5, min_cycle: int = 31
) -> dict:
    """Cross-validation grouped by engine on a training file only (the tuning protocol).

    Each fold trains on the other engines and scores every cycle of its held-out engines with
    ``cycle >= min_cycle`` and true RUL <= 145 (the range of test-file cut-off points). The
    PHM08 score is a sum over engines, so CV reports its mean per scored row times 100 (the
    scale of a 100-engine test file).
    """
    units = t.units
    fold_of = np.arange(units.size) % folds
    rul = t.rul()
    preds = np.full(rul.shape, np.nan)
    low, high = preds.copy(), preds.copy()
    for f in range(folds):
        held = np.isin(t.unit, units[fold_of == f])
        part = _rows(t, ~held)
        model = train_on(part, params).runtime
        h = _rows(t, held)
        pred = model.predict(h.settings, h.sensors, h.unit, h.cycle)
        preds[held], low[held], high[held] = pred.rul, pred.low, pred.high
    sel = (t.cycle >= min_cycle) & (rul <= 145)
    p, y = preds[sel], rul[sel]
    capped = np.minimum(y, CAPPED_TRUTH)
    return {
        "folds": folds,
        "rows": int(sel.sum()),
        "rmse_true_rul": rmse(p, y),
        "rmse_capped_125": rmse(p, capped),
        "phm08_true_rul_per100": 100 * phm08_score(p, y) / p.size,
        "phm08_capped_125_per100": 100 * phm08_score(p, capped) / p.size,
        "interval_coverage_capped": float(np.mean((capped >= low[sel]) & (capped <= high[sel]))),
    }


def _rows(t: Trajectories, mask: np.ndarray) -> Trajectories:
    return Trajectories(t.unit[mask], t.cycle[mask], t.settings[mask], t.sensors[mask])


def format_table(r: CmapssResult) -> str:
    """Our numbers beside the published FD001 baselines, as a plain-text table."""
    lines = [
        f"C-MAPSS {r.subset}: {r.n_engines} test engines, last cycle of each "
        f"(trained in {r.train_s:.1f} s; test file scored {r.test_looks}x in this run)",
        f"{'model':<46} {'RMSE true':>10} {'RMSE cap125':>12} {'PHM08 true':>11} {'PHM08 cap':>10}",
        f"{'egiz rul-gbt (this run)':<46} {r.rmse_true:>10.2f} {r.rmse_capped:>12.2f} "
        f"{r.score_true:>11.1f} {r.score_capped:>10.1f}",
    ]
    if r.subset == "FD001":
        for name, true, capped, note in PUBLISHED_FD001:
            if true is None or capped is None:
                lines.append(f"{name:<46} {note}")
            else:
                lines.append(f"{name:<46} {true:>10.2f} {capped:>12.2f}  ({note})")
    lines.append(
        f"interval 10-90 %: coverage of capped truth {r.coverage:.0%}, "
        f"mean width {r.interval_width:.1f} cycles"
    )
    return "\n".join(lines)
