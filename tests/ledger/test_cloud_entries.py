"""What lands in the cloud ledger besides commands: alarm acks, config changes, data gaps."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from egiz.cloud.services import alarms, ledger
from egiz.cloud.services.auth import Principal, Role
from egiz.cloud.services.edges import add_edge
from egiz.cloud.services.ingest import ingest
from egiz.cloud.store import open_store
from egiz.contracts import LedgerEntry, UplinkBatch

T = "2026-11-26T10:00:00Z"


def test_ledger_records_acks_config_changes_and_gaps(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path}/c.db")
    add_edge(store, "e1", site="plant")
    manifest = {"type": "manifest", "seq": 1, "site": {"id": "plant"}, "hash": "1" * 64,
                "asset_types": [{"name": "pump", "signals": [{"name": "flow", "unit": "m3/h"}]}],
                "assets": [{"id": "p1", "type": "pump", "area": "a"}]}  # fmt: skip
    events = [
        {"type": "event", "seq": 2, "kind": "alarm_raise", "ts": T, "asset": "p1",
         "alarm_id": "a1", "severity": "high", "message": "flow lo"},
        {"type": "event", "seq": 3, "kind": "data_gap", "ts": T, "asset": "p1",
         "start": T, "end": "2026-11-26T10:05:00Z", "message": "outbox evicted"},
    ]  # fmt: skip
    batch = UplinkBatch(edge_id="e1", epoch="e", batch_id="b", sent_at=datetime.now(UTC),
                        records=[manifest, *events])  # fmt: skip
    assert not ingest(store, store.edge("e1"), batch).rejected
    # A retried batch adds nothing: the hook sees only newly stored records.
    assert not ingest(store, store.edge("e1"), batch).rejected
    alarms.acknowledge(store, Principal("op", {"plant": Role.operator}), "plant", "a1")
    alarms.acknowledge(store, Principal("op", {"plant": Role.operator}), "plant", "a1")  # idem
    entries = [LedgerEntry.model_validate_json(b) for b in store.ledger_entries("cloud")]
    kinds = [e.kind.value for e in entries]
    assert kinds.count("data_gap") == 1 and kinds.count("config_change") == 1
    assert kinds.count("alarm_ack") == 1
    ack = next(e for e in entries if e.kind == "alarm_ack")
    assert ack.actor == "op" and ack.data["alarm_id"] == "a1" and ack.subject == "plant.p1"
    assert ledger.verify(store, signer=ledger.signer_for(store)).ok
    store.close()
