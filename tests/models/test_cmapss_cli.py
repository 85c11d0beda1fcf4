"""`egiz model eval cmapss | train | inspect` on a folder in NASA's layout other than FD001."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from egiz.cli.main import main
from egiz.models.eval.cmapss_data import read_trajectories
from egiz.models.rul.artifact import load_rul

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "cmapss"
CONDITIONS = np.array(
    [[0, 0, 100], [10, 0.25, 100], [20, 0.7, 100], [25, 0.62, 60], [35, 0.84, 100], [42, 0.84, 100]]
)


def _write(path: Path, unit, cycle, settings, sensors) -> None:
    rows = np.column_stack([unit, cycle, settings, sensors])
    fmt = ["%d", "%d", "%.4f", "%.4f", "%.1f"] + ["%.4f"] * 21
    # NASA's files end every line with two spaces; keep that quirk so the reader is tested on it.
    np.savetxt(path, rows, fmt=fmt, delimiter=" ", newline="  \n")


def _fd002_like(tmp: Path, rng: np.random.Generator) -> Path:
    """12 train / 8 test FD001 engines re-flown through six regimes (affine sensor shifts)."""
    folder = tmp / "cmapss"
    folder.mkdir()
    gain = rng.uniform(0.8, 1.2, (6, 21))
    shift = rng.uniform(-30, 30, (6, 21))
    for kind, units in (("train", range(1, 13)), ("test", range(1, 9))):
        t = read_trajectories(DATA / f"{kind}_FD001.txt")
        m = np.isin(t.unit, list(units))
        r = rng.integers(0, 6, m.sum())
        settings = CONDITIONS[r] + rng.normal(0, [0.003, 0.0003, 0.0], (m.sum(), 3))
        sensors = t.sensors[m] * gain[r] + shift[r]
        _write(folder / f"{kind}_FD002.txt", t.unit[m], t.cycle[m], settings, sensors)
    rul = np.loadtxt(DATA / "RUL_FD001.txt")[:8]
    np.savetxt(folder / "RUL_FD002.txt", rul, fmt="%d")
    return folder


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """An FD002-named folder with six operating regimes, in NASA's layout."""
    return _fd002_like(tmp_path_factory.mktemp("fd002"), np.random.default_rng(7))


def test_cmapss_cli_eval_runs_unchanged_on_another_subset(folder: Path, capsys) -> None:
    """eval prints finite metrics for FD002-layout data with the frozen recipe."""
    assert (
        main(["model", "eval", "cmapss", "--data", str(folder), "--subset", "FD002", "--json"]) == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert out["subset"] == "FD002" and out["n_test_engines"] == 8
    assert np.isfinite(out["rmse_true_rul"]) and out["rmse_capped_125"] < 60


def test_cmapss_cli_train_writes_artifact_that_inspect_verifies(
    folder: Path, tmp_path: Path, capsys
) -> None:
    """train writes a pinned artifact (six regimes found); inspect verifies it and its pin."""
    out_dir = tmp_path / "rul"
    args = ["model", "train", "--data", str(folder), "--subset", "FD002", "--out", str(out_dir)]
    assert main(args) == 0
    sha = capsys.readouterr().out.strip().rsplit(" ", 1)[-1]
    manifest, rt = load_rul(out_dir, sha)
    assert rt.normalizer.n_regimes_ == 6
    assert manifest["training_data_sha256"] and manifest["outputs"][0]["unit"] == "cycle"
    assert manifest["window_length"] == rt.spec.length
    assert main(["model", "inspect", str(out_dir), "--sha256", sha]) == 0
    assert f"verified: sha256 {sha}" in capsys.readouterr().out
    assert main(["model", "inspect", str(out_dir), "--sha256", "a" * 64]) == 1
    assert "not the pinned" in capsys.readouterr().err


def test_cmapss_cli_missing_file_is_one_line_error(tmp_path: Path, capsys) -> None:
    """A folder without the subset's files fails with the file name and the fix."""
    assert main(["model", "eval", "cmapss", "--data", str(tmp_path), "--subset", "FD004"]) == 1
    err = capsys.readouterr().err
    assert "train_FD004.txt: file not found" in err and "fix:" in err


def test_cmapss_eval_scores_the_test_file_once_per_run_and_logs_it(
    folder: Path, capsys, caplog
) -> None:
    """One eval run scores the test file once and says so; a second look is refused."""
    import logging

    from egiz.models.eval.cmapss import evaluate
    from egiz.models.eval.cmapss_data import CmapssError, read_subset

    caplog.set_level(logging.INFO, logger="egiz.models.eval.cmapss")
    args = ["model", "eval", "cmapss", "--data", str(folder), "--subset", "FD002", "--json"]
    assert main(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["test_file_scored_times_this_run"] == 1
    looks = [r for r in caplog.records if "scoring test_FD002.txt once" in r.getMessage()]
    assert len(looks) == 1 and "look 1 of 1" in looks[0].getMessage()
    subset = read_subset(folder, "FD002")
    subset.claim_test_look()  # as evaluate() does first
    with pytest.raises(CmapssError, match="already scored in this run"):
        evaluate(subset)
