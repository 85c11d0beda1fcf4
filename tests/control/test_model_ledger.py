"""Model artifact changes are edge ledger entries (issue 7): an artifact loaded for the first
time, a changed sha256, and a refused artifact — each once, in a chain that verifies."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from egiz.contracts import SiteConfig
from egiz.contracts.errors import ConfigError
from egiz.edge.agent import EdgeAgent
from egiz.edge.ledger import EdgeLedger
from egiz.simulators import load_scenario
from egiz.simulators.siteconfig import site_config

from .harness import train_pump_health

SUBJECT = "centrifugal_pump/health-index"


def _config(tmp: Path, pin: dict[str, str], control: bool = True) -> SiteConfig:
    doc = site_config(load_scenario("demo"), cloud_url=None)
    doc["models"] = [pin]
    doc["control"] = {"enabled": control, "ledger_path": str(tmp / "ledger.db"),
                      "journal_path": str(tmp / "control.db")}  # fmt: skip
    return SiteConfig.model_validate(doc)


def _changes(tmp: Path) -> list[dict]:
    ledger = EdgeLedger(tmp / "ledger.db", "demo-edge")
    try:
        entries = ledger.entries()
        assert ledger.verify().ok
    finally:
        ledger.close()
    assert all(e.kind == "model_change" and e.subject == SUBJECT for e in entries)
    return [e.data for e in entries]


def test_model_artifact_changes_are_edge_ledger_entries(tmp_path: Path) -> None:
    v1 = train_pump_health(tmp_path / "v1", smoothing=3, hours=1.0, seed=1)
    v2 = train_pump_health(tmp_path / "v2", smoothing=4, hours=1.0, seed=2)
    assert v1["sha256"] != v2["sha256"]

    EdgeAgent(_config(tmp_path, v1), base_dir=tmp_path)  # the agent loads models on creation
    EdgeAgent(_config(tmp_path, v1), base_dir=tmp_path)  # a restart with the same pin: no entry
    got = _changes(tmp_path)
    assert [(d["event"], d["sha256"], d["version"]) for d in got] == [
        ("loaded", v1["sha256"], "0.3.1")]  # fmt: skip

    EdgeAgent(_config(tmp_path, v2), base_dir=tmp_path)
    got = _changes(tmp_path)
    assert [d["event"] for d in got] == ["loaded", "changed"]
    assert got[1]["sha256"] == v2["sha256"] and got[1]["previous_sha256"] == v1["sha256"]
    assert got[1]["previous_version"] == "0.3.1" and got[1]["version"] == "0.4.2"

    # A tampered copy of v2 pinned with v2's hash: refused, ledgered before the agent stops;
    # a restart loop on the same refusal adds no entry.
    forged = tmp_path / "forged"
    shutil.copytree(v2["artifact"], forged)
    victim = next(p for p in sorted(forged.iterdir()) if p.is_file() and p.suffix != ".json")
    victim.write_bytes(victim.read_bytes() + b"\0")
    for _ in range(2):
        with pytest.raises(ConfigError, match="refused"):
            EdgeAgent(_config(tmp_path, {**v2, "artifact": str(forged)}), base_dir=tmp_path)
    got = _changes(tmp_path)
    assert [d["event"] for d in got] == ["loaded", "changed", "refused"]
    assert got[2]["artifact"] == str(forged) and got[2]["sha256"] == v2["sha256"]
    assert got[2]["reason"], got[2]

    # Back to v2: the last *accepted* artifact was v2, so this is no change.
    EdgeAgent(_config(tmp_path, v2), base_dir=tmp_path)
    assert len(_changes(tmp_path)) == 3
    # Without control the edge keeps no ledger: nothing is written.
    EdgeAgent(_config(tmp_path, v1, control=False), base_dir=tmp_path)
    assert len(_changes(tmp_path)) == 3
