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


def test_nab_corpus_pools_series_from_any_category(tmp_path: Path) -> None:
    """A second series in another category folder is pooled, its windows named apart."""
    (tmp_path / "artificialWithAnomaly").mkdir()
    ts = np.datetime64("2014-04-01T00:00:00") + np.arange(4000) * np.timedelta64(5, "m")
    values = np.sin(np.arange(4000) / 20.0)
    values[3000:3010] += 8.0
    with open(tmp_path / "artificialWithAnomaly" / "spike.csv", "w") as f:
        f.write("timestamp,value\n")
        f.writelines(f"{str(t).replace('T', ' ')},{v}\n" for t, v in zip(ts, values, strict=True))
    labels = {"artificialWithAnomaly/spike.csv": [[f"{ts[2800]}.000000", f"{ts[3199]}.000000"]]}
    (tmp_path / "windows.json").write_text(json.dumps(labels).replace("T", " "))
    result = nab.evaluate_corpus(
        tmp_path,
        tmp_path / "windows.json",
        lambda v: nab.to_unit_interval(score_stream(TailProbability(history=2000, smoothing=6), v)),
    )
    assert result.files == ("artificialWithAnomaly/spike.csv",)
    own = result.per_file_optimum["standard"]["artificialWithAnomaly/spike.csv"]
    assert own.tp > 0 and own.score > 0.0
