"""Read API, health, docs and dashboard files over HTTP."""

from __future__ import annotations

import re

import pytest

from egiz.cloud.store.migrations import LATEST


@pytest.fixture
def loaded(cloud, mk):
    recs = [mk.manifest(1), mk.window(2, k=0, flow=10.0), mk.window(3, k=1, flow=20.0)]
    assert cloud.client.post("/api/v1/ingest", json=mk.batch(recs), headers=cloud.auth).is_success
    return cloud


def test_assets_api_lists_global_ids_types_and_paths(loaded) -> None:
    body = loaded.client.get("/api/v1/assets", headers=loaded.admin).json()
    assert body["count"] == 2
    a = body["data"][0]
    assert (a["id"], a["type"], a["path"]) == (
        "plant.pump-1", "pump", ["egiz", "plant", "pumping", "pump-1"],
    )  # fmt: skip
    assert a["signals"] is None
    latest = loaded.client.get(
        "/api/v1/assets", params={"latest": True}, headers=loaded.admin
    ).json()["data"][0]
    assert {s["name"]: s["value"] for s in latest["signals"]} == {
        "flow": 20.0,
        "bearing_temp": 40.7,
    }
    assert (
        loaded.client.get("/api/v1/assets", params={"site": "x"}, headers=loaded.admin).json()[
            "count"
        ]
        == 0
    )


def test_asset_api_detail_has_latest_value_unit_ts_quality(loaded) -> None:
    r = loaded.client.get("/api/v1/assets/plant.pump-1", headers=loaded.admin)
    assert r.status_code == 200
    flow = r.json()["signals"][0]
    assert flow["name"] == "flow" and flow["value"] == 20.0 and flow["unit"] == "m3/h"
    assert flow["quality"] == "good" and flow["ts"].startswith("2026-01-01T00:00:19.5")
    for bad in ("plant.pump-9", "nodot", "x.y"):
        r = loaded.client.get(f"/api/v1/assets/{bad}", headers=loaded.admin)
        assert r.status_code == 404 and r.json()["detail"]


def test_history_api_filters_by_signal_and_range(loaded) -> None:
    url = "/api/v1/assets/plant.pump-1/history"
    all_ = loaded.client.get(url, headers=loaded.admin).json()
    assert all_["count"] == 4
    r = loaded.client.get(url, params={"signal": "flow", "start": "2026-01-01T00:00:05Z",
                                       "end": "2026-01-01T00:01:00Z"}, headers=loaded.admin).json()  # fmt: skip
    assert [(p["start"][:19], p["last"]) for p in r["data"]] == [("2026-01-01T00:00:10", 20.0)]
    cut = loaded.client.get(url, params={"limit": 1}, headers=loaded.admin).json()
    assert cut["count"] == 1 and cut["truncated"] is True
    assert loaded.client.get(url, params={"limit": 0}, headers=loaded.admin).status_code == 422


def test_health_and_readiness(cloud) -> None:
    assert cloud.client.get("/healthz").json()["status"] == "ok"
    assert cloud.client.get("/readyz").json() == {"status": "ok", "schema_version": LATEST}


def test_docs_served_without_any_external_url(cloud) -> None:
    html = cloud.client.get("/docs").text
    assert "SwaggerUIBundle" in html
    assert not re.findall(r"(?:src|href)=\"https?://", html), "Swagger UI must not use a CDN"
    for asset in re.findall(r"(?:src|href)=\"(/static/swagger/[^\"]+)\"", html):
        assert cloud.client.get(asset).status_code == 200, asset
    spec = cloud.client.get("/openapi.json").json()
    assert "UplinkBatch" in spec["components"]["schemas"]
    assert {"/api/v1/ingest", "/api/v1/assets", "/api/v1/assets/{asset_id}"} <= set(spec["paths"])


def test_dashboard_files_are_local(cloud) -> None:
    assert cloud.client.get("/", follow_redirects=False).headers["location"] == "/dashboard/"
    page = cloud.client.get("/dashboard/")
    assert page.status_code == 200 and "app.js" in page.text
    for path in ("/dashboard/app.js", "/dashboard/style.css"):
        r = cloud.client.get(path)
        assert r.status_code == 200 and "http://" not in r.text and "https://" not in r.text
    assert cloud.client.get("/dashboard/settings.json").json()["poll_ms"] == 2000
