"""GET /api/v1/ledger/verify and the maintenance API over HTTP (TestClient, real app + SQLite)."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from egiz.cloud.app import create_app
from egiz.cloud.config import CloudSettings
from egiz.cloud.services.auth import add_user, issue_token
from egiz.cloud.services.edges import add_edge
from egiz.cloud.services.ingest import ingest
from egiz.contracts import LedgerEntry, UplinkBatch


def test_ledger_api_verify_and_maintenance(tmp_path: Path) -> None:
    app = create_app(CloudSettings(db_url=f"sqlite:///{tmp_path}/c.db"))
    store = app.state.store
    add_edge(store, "e1", site="plant")
    batch = {"edge_id": "e1", "epoch": "e", "batch_id": "b", "sent_at": "2026-11-26T00:00:00Z",
             "records": [{"type": "manifest", "seq": 1, "site": {"id": "plant"}, "hash": "0" * 64,
                          "asset_types": [{"name": "pump",
                                           "signals": [{"name": "flow", "unit": "m3/h"}]}],
                          "assets": [{"id": "p1", "type": "pump", "area": "a"}]}]}  # fmt: skip
    ingest(store, store.edge("e1"), UplinkBatch.model_validate(batch))
    add_user(store, "auditor", "auditor-pw", {"*": "admin"})
    add_user(store, "eng", "engineer-pw", {"plant": "engineer"})
    add_user(store, "view", "viewer-pw1", {"plant": "viewer"})
    h = {
        u: {"Authorization": f"Bearer {issue_token(store, u)[0]}"}
        for u in ("auditor", "eng", "view")
    }
    with TestClient(app) as c:
        body = {"action": "bearing_replaced", "note": "DE bearing, SKF 6312"}
        r = c.post("/api/v1/assets/plant.p1/maintenance", json=body, headers=h["eng"])
        assert r.status_code == 201 and r.json()["resets"] == ["health_baseline"], r.text
        record = r.json()
        # The reset rides to the edge as a reset_baseline command, pending until delivered.
        cmd = c.get(f"/api/v1/commands/{record['command_id']}", headers=h["view"]).json()
        assert cmd["action"] == "reset_baseline" and cmd["state"] == "pending", cmd
        assert cmd["value"] == "health_baseline" and record["id"] in cmd["reason"], cmd
        # Only maintenance sends it: the command API refuses it even to an admin.
        r = c.post("/api/v1/assets/plant.p1/commands", json={"action": "reset_baseline"},
                   headers=h["auditor"])  # fmt: skip
        assert r.status_code == 422 and "record the maintenance" in r.json()["detail"], r.text
        bad = {**body, "resets": ["everything"]}
        assert c.post("/api/v1/assets/plant.p1/maintenance", json=bad,
                      headers=h["eng"]).status_code == 422  # fmt: skip
        assert c.post("/api/v1/assets/plant.p1/maintenance", json=body,
                      headers=h["view"]).status_code == 403  # fmt: skip
        listed = c.get("/api/v1/assets/plant.p1/maintenance", headers=h["view"]).json()
        assert listed["count"] == 1 and listed["data"][0]["by"] == "eng"
        r = c.get("/api/v1/ledger/verify", headers=h["auditor"])
        assert r.status_code == 200 and r.json()["ok"], r.text
        cloud = r.json()["chains"][0]
        assert cloud["chain"] == "cloud" and cloud["heads_checked"] == cloud["entries"] >= 1
        # Tamper with the maintenance entry's note in the database.
        seq = record["ledger_seq"]
        e = LedgerEntry.model_validate_json(store.ledger_entries("cloud")[seq - 1])
        assert e.kind == "maintenance" and e.actor == "eng"
        forged = e.model_copy(update={"data": {**e.data, "note": "nothing happened"}})
        with store._tx(store._conn()) as cur:
            store._exec(cur, "UPDATE ledger SET body = ? WHERE chain = 'cloud' AND seq = ?",
                        (forged.model_dump_json(), seq))  # fmt: skip
        r = c.get("/api/v1/ledger/verify", headers=h["auditor"]).json()
        assert not r["ok"] and r["chains"][0]["first_broken"] == seq
        assert "content does not match" in r["chains"][0]["reason"]
