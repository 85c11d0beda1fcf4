"""`egiz model eval skab` runs the protocol on a folder and prints ours beside the published."""

from __future__ import annotations

from pathlib import Path

import pytest

from egiz.cli.main import main

SKAB_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "skab"


def test_skab_cli_prints_our_numbers_beside_published(capsys: pytest.CaptureFixture) -> None:
    """The table has our detector's F1/FAR/MAR and the leaderboard's Conv-AE and MSCRED."""
    rc = main(["model", "eval", "skab", "--data", str(SKAB_DATA), "--detector", "mahalanobis"])
    out = capsys.readouterr().out
    assert rc == 0
    assert "16 files" in out
    line = next(s for s in out.splitlines() if s.startswith("egiz mahalanobis"))
    f1, far = float(line.split()[2]), float(line.split()[3].rstrip("%"))
    assert f1 >= 0.80 and far <= 13.0
    assert "Conv-AE" in out and "32.4" in out


def test_skab_cli_names_a_bad_folder(capsys: pytest.CaptureFixture, tmp_path: Path) -> None:
    """A folder without SKAB files is one error line and exit 1, not a traceback."""
    rc = main(["model", "eval", "skab", "--data", str(tmp_path)])
    err = capsys.readouterr().err
    assert rc == 1
    assert "no SKAB CSV files" in err and "Traceback" not in err
