"""`egiz ledger verify` as a user runs it: exit 0 on intact chains, 1 naming the broken entry."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

from egiz.cloud.services import ledger
from egiz.cloud.store import open_store
from egiz.edge.ledger import EdgeLedger, load_signing_key


def _egiz(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "egiz.cli.main", *args],
                          capture_output=True, text=True, timeout=60)  # fmt: skip


def test_cli_ledger_verify_ok_then_broken(tmp_path: Path) -> None:
    db = tmp_path / "cloud.db"
    store = open_store(f"sqlite:///{db}")
    signer = ledger.signer_for(store)
    for i in range(4):
        ledger.append(store, signer, "maintenance", "eng", f"m{i}")
    key = ledger.issue_edge_key(store, "e1")
    led = EdgeLedger(tmp_path / "ledger.db", "e1", load_signing_key(key))
    for i in range(3):
        led.append("local_action", "trip", f"a{i}")
    ledger.accept_edge_head(store, "e1", led.head())  # type: ignore[arg-type]
    led.close()
    store.close()
    args = ("ledger", "verify", "--db", f"sqlite:///{db}", "--edge-ledger",
            str(tmp_path / "ledger.db"), "--edge", "e1")  # fmt: skip
    ok = _egiz(*args)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "cloud: ok (4 entries" in ok.stdout and "edge:e1: ok (3 entries" in ok.stdout
    # Truncate the edge chain (the attacker drops the append-only triggers first).
    con = sqlite3.connect(tmp_path / "ledger.db")
    con.execute("DROP TRIGGER ledger_no_delete")
    con.execute("DELETE FROM ledger WHERE seq = 3")
    con.commit()
    con.close()
    bad = _egiz(*args)
    assert bad.returncode == 1
    assert "edge:e1: BROKEN at entry 3" in bad.stdout and "truncated" in bad.stdout
