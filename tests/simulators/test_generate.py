"""Offline generation: byte-for-byte reproducible across processes, seeds matter, RUL labels."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import numpy as np

from egiz.simulators.generate import generate
from egiz.simulators.scenario import load_scenario


def _cli(*args: str) -> subprocess.Popen:
    code = "import sys; from egiz.cli.main import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.Popen([sys.executable, "-c", code, *args], stdout=subprocess.PIPE)


def _initial_rul(out: Path) -> np.ndarray:
    # At t0 the true RUL is onset + life of the earliest mode: it encodes the drawn onsets.
    with np.load(out / "truth.npz") as t:
        return t["rul_h"][:, 0]


def test_generate_mine_7_days_reproducible_in_two_processes(tmp_path: Path) -> None:
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    procs = [
        _cli("sim", "generate", "--scenario", "mine", "--days", "7", "--out", str(a)),
        _cli("sim", "generate", "--scenario", "mine", "--days", "7", "--out", str(b)),
    ]
    assert [p.wait() for p in procs] == [0, 0]
    manifest = json.loads((a / "manifest.json").read_text())
    n_signals = len(manifest["signals"])
    assert manifest["samples"] == n_signals * 7 * 86400 and len(manifest["files"]) == 9
    for name in [*manifest["files"], "manifest.json"]:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    with np.load(a / "signals-0003.npz") as z:
        assert z["values"].shape == (n_signals, 86400) and z["values"].dtype == np.float32
        assert np.all(np.diff(z["times"]) == 1)
    for name in manifest["files"][:-2]:  # the big files are not needed any more
        (b / name).unlink()
    assert (
        _cli(
            "sim", "generate", "--scenario", "mine", "--days", "7", "--seed", "99", "--out", str(c)
        ).wait()
        == 0
    )
    rul_a, rul_c = _initial_rul(a), _initial_rul(c)
    assert np.all(rul_a != rul_c)  # every asset's degradation onset/life is drawn anew
    events_a = json.loads((a / "events.json").read_text())
    events_c = json.loads((c / "events.json").read_text())
    scheduled = [e for e in events_a if e["asset"] in ("cyclone-pump-1", "conveyor-1")]
    assert scheduled and all(e in events_c for e in scheduled)  # scheduled faults stay put
    assert events_a != events_c  # random faults arrive at other times


def test_generate_90_days_has_run_to_failure_episodes_with_rul(tmp_path: Path) -> None:
    manifest = generate(load_scenario("mine"), tmp_path, days=90, step_s=60.0, truth_every_s=60.0)
    events = json.loads((tmp_path / "events.json").read_text())
    failures = [e for e in events if e["kind"] == "failure"]
    assert len(failures) >= 5
    with np.load(tmp_path / "truth.npz") as t:
        times, assets, rul, state = t["times"], list(t["assets"]), t["rul_h"], t["state"]
    assert rul.shape == (len(assets), 90 * 1440) and manifest["step_s"] == 60.0
    for f in failures:
        row = assets.index(f"mine.{f['asset']}")
        fail_t = datetime.fromisoformat(f["onset"].replace("Z", "+00:00")).timestamp()
        k = int(np.searchsorted(times, fail_t))
        assert rul[row, k] == 0.0 and state[row, k] == 2
        # While running up to the failure, the true RUL falls one hour per operating hour.
        window = slice(max(0, k - 600), k - 1)
        running = state[row, window] == 1
        if running.all():
            slope = np.polyfit(times[window] / 3600.0, rul[row, window], 1)[0]
            assert abs(slope + 1.0) < 1e-3
    # failed assets are repaired after 24 h: episodes repeat
    assert any(e["kind"] == "maintenance" for e in events)
