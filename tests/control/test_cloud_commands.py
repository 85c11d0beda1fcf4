"""Cloud command service: state machine, approval, expiry, and retried batches applied once."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from egiz.cloud.errors import Conflict, Forbidden, InvalidInput
from egiz.cloud.services import commands
from egiz.cloud.services.auth import Principal, Role
from egiz.cloud.services.edges import add_edge
from egiz.cloud.services.ingest import ingest
from egiz.cloud.store import open_store
from egiz.contracts import UplinkBatch

OP = Principal("op", {"plant": Role.operator})
OP2 = Principal("op2", {"plant": Role.operator})
T0 = 1_800_000_000.0


@pytest.fixture
def store(tmp_path: Path):  # type: ignore[no-untyped-def]
    s = open_store(f"sqlite:///{tmp_path}/c.db")
    add_edge(s, "e1", site="plant")
    _batch(s, "m", [{"type": "manifest", "seq": 1, "site": {"id": "plant"}, "hash": "0" * 64,
                     "asset_types": [{"name": "pump", "signals": [{"name": "speed", "unit": "rpm"}],
                                      "setpoints": [{"name": "sp", "unit": "rpm", "min": 0,
                                                     "max": 100, "max_step": 30,
                                                     "max_rate": 1.0}],
                                      "commands": [{"name": "stop"},
                                                   {"name": "start", "critical": True}]}],
                     "assets": [{"id": "p1", "type": "pump", "area": "a"}]}])  # fmt: skip
    yield s
    s.close()


def _batch(store, epoch: str, records: list, acks: tuple = (), now: float = T0):  # type: ignore[no-untyped-def]
    b = UplinkBatch(edge_id="e1", epoch=epoch, batch_id="b", sent_at=datetime.now(UTC),
                    records=records, command_acks=list(acks))  # fmt: skip
    return ingest(store, store.edge("e1"), b, now=now)


def _result(seq: int, cid: str, state: str) -> dict:
    return {"type": "event", "seq": seq, "kind": "command_result", "ts": "2027-01-15T08:00:00Z",
            "asset": "p1", "command_id": cid, "data": {"state": state, "readback": 50.0}}  # fmt: skip


def test_cloud_commands_lifecycle_and_retry_applied_once(store) -> None:  # type: ignore[no-untyped-def]
    req = commands.CommandCreate(action="set_setpoint", setpoint="sp", value=20)
    c = commands.create(store, OP, "plant", "p1", req, now=T0)
    assert c.state == "pending"
    ans = _batch(store, "e", [], now=T0 + 1)
    assert [x.id for x in ans.commands] == [c.id]
    ans = _batch(store, "e", [], acks=(c.id,), now=T0 + 2)
    assert ans.commands == [] and store.command(c.id).state == "delivered"
    recs = [_result(1, c.id, "accepted"), _result(2, c.id, "executed")]
    _batch(store, "e", recs, now=T0 + 3)
    n_ledger = len(store.ledger_entries("cloud"))
    _batch(store, "e", recs, now=T0 + 4)  # the same batch again: acknowledged, not re-applied
    _batch(store, "e", [_result(3, c.id, "failed")], now=T0 + 5)  # executed is final
    row = store.command(c.id)
    assert row.state == "executed" and len(store.ledger_entries("cloud")) == n_ledger
    # max_step is checked from the last executed value (20): 60 is a step of 40 > 30.
    done_at = store.command(c.id).updated_at
    with pytest.raises(InvalidInput, match="max_step"):
        commands.create(store, OP, "plant", "p1", req.model_copy(update={"value": 60}),
                        now=done_at + 100)  # fmt: skip
    # max_rate 1 rpm/s: +25 needs 25 s since the last change.
    with pytest.raises(InvalidInput, match="max_rate"):
        commands.create(store, OP, "plant", "p1", req.model_copy(update={"value": 45}),
                        now=done_at + 10)  # fmt: skip
    ok = commands.create(store, OP, "plant", "p1", req.model_copy(update={"value": 45}),
                         now=done_at + 30)  # fmt: skip
    assert ok.state == "pending"


def test_cloud_commands_approval_and_expiry(store) -> None:  # type: ignore[no-untyped-def]
    start = commands.CommandCreate(action="start", expires_in_s=10)
    c = commands.create(store, OP, "plant", "p1", start, now=T0)
    assert c.state == "awaiting_approval" and c.critical
    with pytest.raises(Forbidden, match="another person"):
        commands.approve(store, OP, c.id, now=T0 + 1)
    assert _batch(store, "e", [], now=T0 + 2).commands == []
    assert commands.approve(store, OP2, c.id, now=T0 + 3).state == "pending"
    with pytest.raises(Conflict):
        commands.approve(store, OP2, c.id, now=T0 + 3)
    late = commands.create(store, OP, "plant", "p1", commands.CommandCreate(action="stop",
                           expires_in_s=5), now=T0)  # fmt: skip
    ans = _batch(store, "e", [], now=T0 + 60)  # the link was down past both expiries
    assert ans.commands == []
    assert store.command(c.id).state == "expired" and store.command(late.id).state == "expired"
    with pytest.raises(Forbidden):
        commands.create(store, Principal("v", {"plant": Role.viewer}), "plant", "p1", start)
