"""``PUT /api/v1/sites/{site}``: the twin registry through the API."""

from __future__ import annotations


def _site(assets: list[str]) -> dict:
    return {
        "site": {"id": "plant", "name": "Plant", "enterprise": "acme"},
        "asset_types": [{"name": "pump", "signals": [{"name": "flow", "unit": "m3/h"}]}],
        "assets": [{"id": a, "type": "pump", "area": "north"} for a in assets],
    }


def test_sites_api_registers_updates_and_keeps_the_owning_edge(cloud, mk) -> None:
    c, admin = cloud.client, cloud.admin
    r = c.put("/api/v1/sites/plant", json=_site(["p-1", "p-2"]), headers=admin)
    assert r.status_code == 200 and r.json()["edge_id"] is None
    ids = [a["id"] for a in c.get("/api/v1/assets", headers=admin).json()["data"]]
    assert ids == ["plant.p-1", "plant.p-2"]
    assert c.get("/api/v1/assets/plant.p-1", headers=admin).json()["path"] == [
        "acme", "plant", "north", "p-1",
    ]  # fmt: skip
    # The edge registers the same site by its manifest, then the API updates it again.
    ans = c.post("/api/v1/ingest", json=mk.batch([mk.manifest(1)]), headers=cloud.auth).json()
    assert ans["stored"] == [[1, 1]]
    r = c.put("/api/v1/sites/plant", json=_site(["p-3"]), headers=admin)
    assert r.json()["edge_id"] == "edge-1"  # the owning edge is kept
    ids = [a["id"] for a in c.get("/api/v1/assets", headers=admin).json()["data"]]
    assert ids == ["plant.p-3"]  # assets left out are retired
    sites = c.get("/api/v1/sites", headers=admin).json()
    assert [s["site"] for s in sites["data"]] == ["plant"]


def test_sites_api_refuses_inconsistent_documents(cloud) -> None:
    c, admin = cloud.client, cloud.admin
    r = c.put("/api/v1/sites/other", json=_site(["p-1"]), headers=admin)
    assert r.status_code == 422 and "differs" in r.json()["detail"]
    bad = _site(["p-1"])
    bad["assets"][0]["type"] = "fan"
    r = c.put("/api/v1/sites/plant", json=bad, headers=admin)
    assert r.status_code == 422 and "fan" in r.json()["detail"]
    r = c.put("/api/v1/sites/plant", json=_site(["p-1", "p-1"]), headers=admin)
    assert r.status_code == 422 and "unique" in r.json()["detail"]
