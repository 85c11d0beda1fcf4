"""`egiz model eval nab` scores any NAB series with its windows file, NAB's way."""

from __future__ import annotations

from pathlib import Path

import pytest

from egiz.cli.main import main

NAB_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "nab"


def test_nab_cli_prints_profiles_and_published(capsys: pytest.CaptureFixture) -> None:
    """All three profiles with raw and normalized scores, and the published corpus scores."""
    rc = main(
        [
            "model",
            "eval",
            "nab",
            "--data",
            str(NAB_DATA),
            "--labels",
            str(NAB_DATA / "combined_windows.json"),
            "--detector",
            "ewma_z",  # the fast one; the default detector's score is tested elsewhere
        ]
    )
    out = capsys.readouterr().out
    assert rc == 0
    assert "1 series" in out
    for profile in ("standard", "reward_low_FP_rate", "reward_low_FN_rate"):
        assert any(line.startswith(profile) for line in out.splitlines())
    assert "Numenta HTM" in out and "70.5" in out


def test_nab_cli_names_missing_series(capsys: pytest.CaptureFixture, tmp_path: Path) -> None:
    """A data folder holding none of the labelled series is one error line and exit 1."""
    rc = main(
        [
            "model",
            "eval",
            "nab",
            "--data",
            str(tmp_path),
            "--labels",
            str(NAB_DATA / "combined_windows.json"),
        ]
    )
    assert rc == 1
    assert "none of the 1 series" in capsys.readouterr().err
