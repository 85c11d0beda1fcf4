"""Our streaming detector on NAB's machine_temperature_system_failure, scored the NAB way."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from egiz.models.anomaly import TailProbability, score_stream
from egiz.models.eval import nab

NAB_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "nab"
SERIES = "realKnownCause/machine_temperature_system_failure.csv"
HTM_STANDARD_RAW = 1.36013273774  # numenta_standard_scores.csv, this file


def test_nab_tail_probability_beats_htm_on_machine_temperature() -> None:
    """Issue 6 acceptance 3: streaming, no lookahead, threshold by NAB's optimiser ≥ HTM."""
    ts, values = nab.read_series(NAB_DATA / SERIES)
    windows = nab.read_windows(NAB_DATA / "combined_windows.json")[SERIES]
    scores = nab.to_unit_interval(score_stream(TailProbability(), values))
    result = nab.evaluate_scores(ts, scores, windows)
    best, norm = result["standard"]
    assert best.score >= HTM_STANDARD_RAW
    assert norm > 50.0
    # Causality: corrupting the future leaves every earlier score unchanged.
    cut = 15000
    future = values.copy()
    future[cut:] = 0.0
    again = nab.to_unit_interval(score_stream(TailProbability(), future))
    np.testing.assert_array_equal(scores[:cut], again[:cut])


def test_nab_corpus_with_one_file_equals_that_file(tmp_path: Path) -> None:
    """Pooling one series gives its own optimum; series absent from DATA are skipped."""
    labels = tmp_path / "windows.json"
    raw = json.loads((NAB_DATA / "combined_windows.json").read_text())
    raw["realKnownCause/not_here.csv"] = []
    labels.write_text(json.dumps(raw))
    calls = []

    def constant_then_spike(values: np.ndarray) -> np.ndarray:
        calls.append(values.size)
        s = np.zeros(values.size)
        s[19232] = 1.0  # the left edge of the last window
        return s

    result = nab.evaluate_corpus(NAB_DATA, labels, constant_then_spike)
    assert result.files == (SERIES,) and calls == [22695]
    best = result.best["standard"]
    # One window hit at its left edge (+1), three missed (−3).
    assert best.score == pytest.approx(-2.0)
    assert result.normalized["standard"] == pytest.approx(100 * 2.0 / 8.0)
    assert result.per_file["standard"][SERIES] == best
