"""``POST /api/v1/ingest`` over HTTP (issue 2 acceptance 5, issue 5 ingest)."""

from __future__ import annotations

import gzip
import json

from egiz.cloud.services.edges import add_edge, revoke_edge, rotate_edge

URL = "/api/v1/ingest"
TABLES = ("ingested", "windows", "shadow", "events", "heartbeats", "assets")


def _state(cloud) -> dict[str, int]:
    return {t: cloud.store.count(t) for t in TABLES}


def test_ingest_api_refuses_missing_or_invalid_token(cloud, mk) -> None:
    body = mk.batch([mk.manifest(1)])
    other = add_edge(cloud.store, "edge-2")
    revoke_edge(cloud.store, "edge-2")
    for headers in ({}, {"Authorization": "Bearer egz_wrong"}, {"Authorization": "Basic x"},
                    {"Authorization": f"Bearer {other}"}):  # fmt: skip
        r = cloud.client.post(URL, json=body, headers=headers)
        assert r.status_code == 401, headers
        assert r.headers["www-authenticate"] == "Bearer" and r.json()["detail"]
    assert _state(cloud)["ingested"] == 0


def test_ingest_api_unparseable_body_is_422_with_reason_and_stores_nothing(cloud, mk) -> None:
    good = mk.batch([mk.manifest(1), mk.window(2)])
    cases = [
        (b"{not json", {}, "JSON"),
        (json.dumps({**good, "records": "many"}).encode(), {}, "records"),
        (json.dumps({k: v for k, v in good.items() if k != "epoch"}).encode(), {}, "epoch"),
        (b"\x1f\x8b garbage", {"Content-Encoding": "gzip"}, "gzip"),
    ]
    for raw, extra, words in cases:
        r = cloud.client.post(URL, content=raw, headers={**cloud.auth, **extra,
                                                         "Content-Type": "application/json"})  # fmt: skip
        assert r.status_code == 422, raw
        assert words in r.json()["detail"]
    assert _state(cloud) == dict.fromkeys(TABLES, 0)


def test_ingest_api_one_invalid_record_stores_the_others(cloud, mk) -> None:
    bad = mk.window(3)
    del bad["signals"]
    r = cloud.client.post(URL, json=mk.batch([mk.manifest(1), mk.window(2), bad, mk.event(4)]),
                          headers=cloud.auth)  # fmt: skip
    assert r.status_code == 200
    ans = r.json()
    assert ans["stored"] == [[1, 2], [4, 4]]
    assert ans["rejected"] == [{"index": 2, "seq": 3, "reason": "window.signals: Field required"}]
    assert ans["commands"] == [] and ans["epoch"] == "ep1" and ans["server_time"]
    assert (
        cloud.client.get("/api/v1/assets/plant.pump-1", headers=cloud.admin).json()["signals"][0][
            "value"
        ]
        == 10.0
    )


def test_ingest_api_same_batch_twice_stored_once(cloud, mk) -> None:
    body = mk.batch([mk.manifest(1), mk.window(2), mk.window(3, k=1), mk.event(4), mk.heartbeat(5)])
    first = cloud.client.post(URL, json=body, headers=cloud.auth).json()
    state = _state(cloud)
    second = cloud.client.post(URL, json=body, headers=cloud.auth).json()
    assert first["stored"] == second["stored"] == [[1, 5]]
    assert _state(cloud) == state
    assert state["ingested"] == 5 and state["windows"] == 4 and state["events"] == 1


def test_ingest_api_accepts_gzip(cloud, mk) -> None:
    raw = gzip.compress(json.dumps(mk.batch([mk.manifest(1), mk.window(2)])).encode())
    headers = {**cloud.auth, "Content-Encoding": "gzip", "Content-Type": "application/json"}
    r = cloud.client.post(URL, content=raw, headers=headers)
    assert r.status_code == 200 and r.json()["stored"] == [[1, 2]]


def test_ingest_api_refuses_other_edges_batch_and_huge_bodies(cloud, mk) -> None:
    r = cloud.client.post(
        URL, json=mk.batch([mk.manifest(1)], edge_id="edge-9"), headers=cloud.auth
    )
    assert r.status_code == 403 and "edge-9" in r.json()["detail"]
    huge = mk.batch([mk.event(i) for i in range(1, 400)])
    r = cloud.client.post(URL, json=huge, headers=cloud.auth)
    assert r.status_code == 413
    assert _state(cloud)["ingested"] == 0


def test_ingest_api_revoke_and_rotate_refuse_the_next_batch_of_a_cached_token(cloud, mk) -> None:
    # The first batch puts the token in the app's cache (EdgeTokenCache); the ingest re-checks
    # it against the store, so neither a rotate nor a revoke waits for the cache to expire.
    r = cloud.client.post(URL, json=mk.batch([mk.manifest(1)]), headers=cloud.auth)
    assert r.status_code == 200
    new = {"Authorization": f"Bearer {rotate_edge(cloud.store, 'edge-1')}"}
    r = cloud.client.post(URL, json=mk.batch([mk.window(2)], batch_id="b2"), headers=cloud.auth)
    assert r.status_code == 401 and "unknown edge token" in r.json()["detail"]
    assert cloud.client.post(URL, json=mk.batch([mk.window(2)], batch_id="b3"),
                             headers=new).status_code == 200  # fmt: skip
    revoke_edge(cloud.store, "edge-1")
    huge = mk.batch([mk.event(i) for i in range(3, 400)], batch_id="b4")
    for body in (mk.batch([mk.window(3)], batch_id="b5"), huge):  # 401 before 413, as before
        r = cloud.client.post(URL, json=body, headers=new)
        assert r.status_code == 401 and "revoked" in r.json()["detail"], r.text
    assert _state(cloud)["ingested"] == 2
