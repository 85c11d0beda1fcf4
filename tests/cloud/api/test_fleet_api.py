"""Alarms (ISA-18.2), events, edges and the health/RUL ranking over HTTP."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest


def _send(cloud, records: list[dict[str, Any]], epoch: str = "ep1") -> dict[str, Any]:
    r = cloud.client.post("/api/v1/ingest", json={
        "edge_id": "edge-1", "epoch": epoch, "batch_id": "b", "sent_at": "2026-01-01T00:00:00Z",
        "records": records}, headers=cloud.auth)  # fmt: skip
    assert r.status_code == 200
    return r.json()


def _alarm(kind: str, seq: int, alarm_id: str = "a-1", ts: str = "2026-01-01T00:00:05Z"):
    return {"type": "event", "seq": seq, "kind": kind, "ts": ts, "asset": "pump-1",
            "signal": "flow", "severity": "high", "message": "flow high", "alarm_id": alarm_id}  # fmt: skip


def _get(cloud, path: str, **params: Any) -> Any:
    r = cloud.client.get(path, params=params, headers=cloud.admin)
    assert r.status_code == 200, r.text
    return r.json()


def _post(cloud, path: str, body: Any = None) -> Any:
    return cloud.client.post(path, json=body, headers=cloud.admin)


@pytest.fixture
def site(cloud, mk):
    _send(cloud, [mk.manifest(1)])
    return cloud


def test_alarm_isa_18_2_lifecycle(site) -> None:
    _send(site, [_alarm("alarm_raise", 2)])
    (a,) = _get(site, "/api/v1/alarms")["data"]
    assert (a["state"], a["asset"], a["severity"]) == (
        "active_unacknowledged",
        "plant.pump-1",
        "high",
    )
    acked = _post(site, "/api/v1/alarms/plant/a-1/ack").json()
    assert acked["state"] == "active_acknowledged" and acked["acked_by"] == "root"
    again = _post(site, "/api/v1/alarms/plant/a-1/ack").json()
    assert again["acked_at"] == acked["acked_at"]  # the first acknowledgement is kept
    shelved = _post(site, "/api/v1/alarms/plant/a-1/shelve", {"duration_s": 600}).json()
    assert shelved["shelved"] and shelved["shelved_by"] == "root"
    assert _get(site, "/api/v1/alarms", shelved=False)["count"] == 0
    assert not _post(site, "/api/v1/alarms/plant/a-1/unshelve").json()["shelved"]
    _send(site, [_alarm("alarm_clear", 3)])
    (a,) = _get(site, "/api/v1/alarms", active=False)["data"]
    assert a["state"] == "cleared_acknowledged" and a["cleared_by"] is None
    assert _get(site, "/api/v1/alarms", active=True)["count"] == 0
    r = _post(site, "/api/v1/alarms/plant/a-1/clear")
    assert r.status_code == 409 and "already cleared" in r.json()["detail"]
    assert _post(site, "/api/v1/alarms/plant/nope/ack").status_code == 404


def test_alarm_clear_before_raise_ends_cleared(site) -> None:
    _send(site, [_alarm("alarm_clear", 3, ts="2026-01-01T00:01:00Z")])
    _send(site, [_alarm("alarm_raise", 2)])
    (a,) = _get(site, "/api/v1/alarms")["data"]
    assert a["state"] == "cleared_unacknowledged" and a["raised_at"] and a["cleared_at"]


def test_alarm_manual_clear_by_operator(site) -> None:
    _send(site, [_alarm("alarm_raise", 2)])
    a = _post(site, "/api/v1/alarms/plant/a-1/clear").json()
    assert a["state"] == "cleared_unacknowledged" and a["cleared_by"] == "root"


def test_alarm_event_without_id_is_rejected(site) -> None:
    bad = _alarm("alarm_raise", 2)
    del bad["alarm_id"]
    ans = _send(site, [bad])
    assert ans["stored"] == [] and "alarm_id" in ans["rejected"][0]["reason"]


def test_events_filter_and_page(site, mk) -> None:
    _send(site, [_alarm("alarm_raise", 2), mk.event(3), {**mk.event(4), "kind": "data_gap",
               "ts": "2026-01-01T00:02:00Z", "data": {"missing": 12}}])  # fmt: skip
    all_ = _get(site, "/api/v1/events")["data"]
    assert [e["seq"] for e in all_] == [4, 2, 3]
    gaps = _get(site, "/api/v1/events", kind="data_gap")["data"]
    assert [(e["seq"], e["data"]) for e in gaps] == [(4, {"missing": 12})]
    older = _get(site, "/api/v1/events", before=all_[0]["ts"], limit=10)["data"]
    assert [e["seq"] for e in older] == [2, 3]
    assert cloud_get_status(site, "/api/v1/events", kind="nonsense") == 422


def cloud_get_status(cloud, path: str, **params: Any) -> int:
    return cloud.client.get(path, params=params, headers=cloud.admin).status_code


def test_edges_show_status_from_heartbeat(site, mk) -> None:
    _send(site, [{**mk.heartbeat(2), "clock_offset_s": 0.25, "sources": {"opcua": "up"}}])
    (e,) = _get(site, "/api/v1/edges")["data"]
    assert e["edge_id"] == "edge-1" and e["site"] == "plant" and e["online"] and not e["revoked"]
    hb = e["heartbeat"]
    assert (hb["outbox_depth"], hb["clock_offset_s"], hb["sources"]) == (3, 0.25, {"opcua": "up"})
    created = _post(site, "/api/v1/edges", {"edge_id": "edge-2", "site": "plant"})
    assert created.status_code == 201 and created.json()["token"].startswith("egz_")
    assert _post(site, "/api/v1/edges", {"edge_id": "edge-2"}).status_code == 409
    assert _post(site, "/api/v1/edges/edge-2/revoke").status_code == 204
    edges = {x["edge_id"]: x for x in _get(site, "/api/v1/edges")["data"]}
    assert edges["edge-2"]["revoked"] and not edges["edge-2"]["online"]


def test_fleet_health_ranks_worst_first(site, mk) -> None:
    _send(site, [mk.manifest(2, assets=("pump-1", "pump-2", "pump-3"))])

    def scored(seq: int, asset: str, health: float, rul: float | None) -> dict[str, Any]:
        w = mk.window(seq, asset=asset)
        w["scores"] = {"model": "hi", "version": "1", "health": health,
                       **({"rul": {"value": rul, "low": rul / 2, "high": rul * 2}} if rul else {})}  # fmt: skip
        return w

    _send(site, [scored(3, "pump-1", 80, 500.0), scored(4, "pump-2", 90, 120.0),
                 scored(5, "pump-3", 40, None), _alarm("alarm_raise", 6)])  # fmt: skip
    ranking = _get(site, "/api/v1/fleet/health")["data"]
    assert [r["id"] for r in ranking] == ["plant.pump-2", "plant.pump-1", "plant.pump-3"]
    assert ranking[1]["active_alarms"] == 1 and ranking[0]["rul_low"] == 60.0
    assert ranking[0]["model"] == "hi" and ranking[2]["rul"] is None


def test_history_csv_export(site, mk) -> None:
    _send(site, [mk.window(2, k=0, flow=10.0), mk.window(3, k=1, flow=11.0)])
    r = site.client.get("/api/v1/assets/plant.pump-1/history.csv", params={"signal": "flow"},
                        headers=site.admin)  # fmt: skip
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [(x["start"], x["last"]) for x in rows] == [
        ("2026-01-01T00:00:00+00:00", "10.0"), ("2026-01-01T00:00:10+00:00", "11.0"),
    ]  # fmt: skip
