"""The NAB scorer reproduces NAB v1.1's official per-file rows and its scoring rules."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from egiz.models.eval import nab

#: ../shared/data beside the repo root (read in place, never copied into the repo).
NAB_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "nab"
SERIES = "realKnownCause/machine_temperature_system_failure.csv"
DETECTORS = ("numenta", "knncad", "windowedGaussian")


def _official_rows() -> list[dict[str, str]]:
    rows = []
    for det in DETECTORS:
        with open(NAB_DATA / "official_results" / f"{det}_scores.csv", newline="") as f:
            rows.extend(csv.DictReader(f))
    return rows


@pytest.mark.parametrize(
    "official", _official_rows(), ids=lambda r: f"{r['Detector']}-{r['Profile']}"
)
def test_nab_scorer_reproduces_official_rows(official: dict[str, str]) -> None:
    """Fed a published detector's scores and threshold, the raw score and counts match NAB's."""
    ts, scores = nab.read_series(
        NAB_DATA
        / "official_results"
        / f"{official['Detector']}_machine_temperature_system_failure.csv"
    )
    windows = nab.read_windows(NAB_DATA / "combined_windows.json")[official["File"]]
    rows = nab.sweep_file(ts, scores, windows, nab.PROFILES[official["Profile"]])
    got = nab.score_at(rows, float(official["Threshold"]))
    assert got.score == pytest.approx(float(official["Score"]), abs=1e-9)
    assert (got.tp, got.tn, got.fp, got.fn, got.total) == (
        int(official["TP"]),
        int(official["TN"]),
        int(official["FP"]),
        int(official["FN"]),
        int(official["Total_Count"]) - 750,  # NAB's Total_Count is the file length
    )


def test_nab_scaled_sigmoid_matches_nab_docstring() -> None:
    """Left edge 0.98661, halfway 0.84828, right edge 0, one width past −0.98661, far −1."""
    got = nab.scaled_sigmoid(np.array([-1.0, -0.5, 0.0, 1.0, 3.5]))
    assert got == pytest.approx([0.98661, 0.84828, 0.0, -0.98661, -1.0], abs=1e-5)


def test_nab_probation_is_15_percent_capped_at_750_rows() -> None:
    """NAB ignores floor(15 %) of the rows, but never more than 750."""
    assert nab.probation_length(1000) == 150
    assert nab.probation_length(22695) == 750


def _toy(scores: np.ndarray, profile: str = "standard") -> nab.SweepRows:
    ts = np.arange(scores.size).astype("datetime64[s]")
    return nab.sweep_file(ts, scores, [(ts[40], ts[59])], nab.PROFILES[profile], 0.15)


def test_nab_first_detection_in_window_counts_once() -> None:
    """Many detections in one window earn the reward of the earliest one, once."""
    scores = np.zeros(100)
    scores[45:60] = 1.0
    one = np.zeros(100)
    one[45] = 1.0
    many, single = nab.score_at(_toy(scores), 1.0), nab.score_at(_toy(one), 1.0)
    assert many.score == pytest.approx(single.score)
    assert (many.tp, single.tp) == (15, 1)
    # 6th row of a 20-row window: 2·sigmoid(−5·(−15/20)) − 1, scaled by 1/max_tp.
    expected = (2 / (1 + np.exp(-3.75)) - 1) / (2 / (1 + np.exp(-5)) - 1)
    assert single.score == pytest.approx(expected)


def test_nab_false_positive_before_any_window_costs_full_weight() -> None:
    """An alarm before the first window costs −fp weight; probationary rows cost nothing."""
    scores = np.zeros(100)
    scores[5] = 1.0  # probationary: ignored
    scores[20] = 1.0
    got = nab.score_at(_toy(scores, "reward_low_FP_rate"), 1.0)
    assert got.score == pytest.approx(-1.0 - 0.22)
    assert (got.fp, got.total) == (1, 85)


def test_nab_optimize_picks_the_best_threshold_and_normalizes() -> None:
    """The optimiser's threshold scores best; a perfect detector normalizes to 100, null to 0."""
    rng = np.random.default_rng(0)
    scores = rng.uniform(0, 0.5, 100)
    scores[40] = 0.9
    rows = _toy(scores)
    best = nab.optimize(rows)
    assert best.threshold == 0.9
    assert best.score == max(r.score for r in nab.scores_by_threshold(rows))
    assert nab.normalized(best.score, rows) == pytest.approx(100.0)
    assert nab.normalized(nab.null_score(rows), rows) == 0.0


def test_nab_window_limit_must_be_a_row_timestamp() -> None:
    """A window limit that is not an exact row timestamp is refused, as NAB's labeler does."""
    ts = np.arange(100).astype("datetime64[s]")
    with pytest.raises(ValueError, match="not a timestamp"):
        nab.sweep_file(
            ts,
            np.zeros(100),
            [(ts[40] + np.timedelta64(500, "ms"), ts[50])],
            nab.PROFILES["standard"],
        )
