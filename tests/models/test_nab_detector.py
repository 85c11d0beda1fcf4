"""Our streaming detector on NAB's machine_temperature_system_failure, scored the NAB way."""

from __future__ import annotations

from pathlib import Path

import numpy as np

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
