"""Ingest service over each store backend: per-record validation, idempotency, shadow."""

from __future__ import annotations

from typing import Any

import pytest

from egiz.cloud.errors import BadBatch, BodyTooLarge, Forbidden
from egiz.cloud.services.edges import add_edge, authenticate_edge
from egiz.cloud.services.ingest import decode_body, ingest, parse_batch
from egiz.cloud.services.twin import get_asset, history, list_assets
from egiz.cloud.store import Store
from egiz.contracts import UplinkAnswer, UplinkBatch


def _send(store: Store, body: dict[str, Any], edge: str = "edge-1") -> UplinkAnswer:
    e = store.edge(edge)
    assert e is not None
    return ingest(store, e, UplinkBatch.model_validate(body))


def _state(store: Store) -> dict[str, int]:
    return {t: store.count(t) for t in ("ingested", "windows", "shadow", "events", "heartbeats")}


@pytest.fixture
def edge(store: Store) -> str:
    return add_edge(store, "edge-1")


def test_ingest_manifest_registers_assets(store: Store, edge: str, mk) -> None:
    ans = _send(store, mk.batch([mk.manifest(1)]))
    assert ans.stored == [(1, 1)] and ans.rejected == [] and ans.commands == []
    fleet = list_assets(store)
    assert [a.id for a in fleet.data] == ["plant.pump-1", "plant.pump-2"]
    assert fleet.data[0].path == ["egiz", "plant", "pumping", "pump-1"]
    assert store.edge("edge-1").site == "plant"  # type: ignore[union-attr]


def test_ingest_windows_update_shadow_and_history(store: Store, edge: str, mk) -> None:
    recs = [mk.manifest(1), mk.window(2, k=0, flow=10.0), mk.window(3, k=1, flow=12.5, bad=10)]
    ans = _send(store, mk.batch(recs))
    assert ans.stored == [(1, 3)]
    detail = get_asset(store, "plant.pump-1")
    flow = next(s for s in detail.signals or [] if s.name == "flow")
    # The newest window's last, with that window's quality (all 10 samples bad).
    assert (flow.value, flow.unit, flow.quality, flow.bad) == (12.5, "m3/h", "bad", 10)
    assert flow.ts == mk.T0.replace(second=19, microsecond=500000)
    temp = next(s for s in detail.signals or [] if s.name == "bearing_temp")
    assert (temp.value, temp.quality) == (40.7, "good")
    h = history(store, "plant.pump-1", signal="flow")
    assert [p.last for p in h.data] == [10.0, 12.5] and not h.truncated
    assert get_asset(store, "plant.pump-2").signals[0].value is None  # type: ignore[index]


def test_ingest_same_batch_twice_stored_once(store: Store, edge: str, mk) -> None:
    body = mk.batch([mk.manifest(1), mk.window(2), mk.event(3), mk.heartbeat(4)])
    first = _send(store, body)
    state = _state(store)
    second = _send(store, body)
    assert first.stored == second.stored == [(1, 4)]
    assert _state(store) == state == {
        "ingested": 4, "windows": 2, "shadow": 2, "events": 1, "heartbeats": 1,
    }  # fmt: skip


def test_ingest_one_invalid_record_stores_the_others(store: Store, edge: str, mk) -> None:
    bad = mk.window(3)
    bad["length_s"] = -5
    ans = _send(store, mk.batch([mk.manifest(1), mk.window(2), bad, mk.window(4, k=1)]))
    assert ans.stored == [(1, 2), (4, 4)]
    assert [(r.index, r.seq) for r in ans.rejected] == [(2, 3)]
    assert "length_s" in ans.rejected[0].reason
    assert store.count("ingested") == 3


def test_ingest_rejects_records_that_do_not_fit_the_twin(store: Store, edge: str, mk) -> None:
    early = _send(store, mk.batch([mk.window(1)]))
    assert early.stored == [] and "manifest first" in early.rejected[0].reason
    stray = mk.window(4)
    stray["signals"]["rpm"] = {"count": 1}
    garbage: dict[str, Any] = {"seq": 5, "type": "nonsense"}
    ans = _send(store, mk.batch([mk.manifest(2), mk.window(3, asset="pump-9"), stray, garbage, {}]))
    assert ans.stored == [(2, 2)]
    reasons = {r.index: r.reason for r in ans.rejected}
    assert "pump-9" in reasons[1] and "rpm" in reasons[2]
    assert [(r.index, r.seq) for r in ans.rejected] == [(1, 3), (2, 4), (3, 5), (4, None)]


def test_ingest_manifest_of_a_foreign_site_is_rejected(store: Store, mk) -> None:
    add_edge(store, "edge-1", site="plant")
    add_edge(store, "edge-2")
    ans = _send(store, mk.batch([mk.manifest(1, site="mine")]))
    assert ans.stored == [] and "registered for site 'plant'" in ans.rejected[0].reason
    assert _send(store, mk.batch([mk.manifest(2)])).stored == [(2, 2)]
    stolen = _send(store, mk.batch([mk.manifest(1)], edge_id="edge-2"), edge="edge-2")
    assert stolen.stored == [] and "belongs to edge 'edge-1'" in stolen.rejected[0].reason


def test_ingest_late_older_manifest_does_not_win(store: Store, edge: str, mk) -> None:
    _send(store, mk.batch([mk.manifest(5, assets=("pump-1", "pump-3"))]))
    ans = _send(store, mk.batch([mk.manifest(2, assets=("pump-1",))]))
    assert ans.stored == [(2, 2)]
    assert [a.asset for a in list_assets(store).data] == ["pump-1", "pump-3"]


def test_ingest_shadow_keeps_newest_window_in_any_order(store: Store, edge: str, mk) -> None:
    _send(store, mk.batch([mk.manifest(1), mk.window(3, k=5, flow=55.0)]))
    _send(store, mk.batch([mk.window(2, k=1, flow=11.0)]))
    flow = get_asset(store, "plant.pump-1").signals[0]  # type: ignore[index]
    assert flow.value == 55.0


def test_ingest_refuses_a_batch_for_another_edge(store: Store, edge: str, mk) -> None:
    with pytest.raises(Forbidden):
        _send(store, mk.batch([mk.manifest(1)], edge_id="edge-2"))


def test_ingest_new_epoch_is_not_a_duplicate(store: Store, edge: str, mk) -> None:
    _send(store, mk.batch([mk.manifest(1)], epoch="a"))
    ans = _send(store, mk.batch([mk.manifest(1), mk.event(2)], epoch="b"))
    assert ans.stored == [(1, 2)] and ans.epoch == "b"
    assert store.count("ingested") == 3


def test_parse_batch_names_what_is_wrong() -> None:
    with pytest.raises(BadBatch, match="edge_id"):
        parse_batch(b'{"schema": 1}')
    with pytest.raises(BadBatch, match="JSON"):
        parse_batch(b"\x00not json")
    with pytest.raises(BadBatch, match="schema 7 is not accepted"):
        parse_batch(
            b'{"schema": 7, "edge_id": "e", "epoch": "x", "batch_id": "b",'
            b' "sent_at": "2026-01-01T00:00:00Z", "records": []}'
        )


def test_decode_body_gzip_bounds() -> None:
    import gzip

    assert decode_body(gzip.compress(b"abc"), "gzip", 1024) == b"abc"
    with pytest.raises(BodyTooLarge):
        decode_body(gzip.compress(b"x" * 5000), "gzip", 1024)
    with pytest.raises(BadBatch, match="gzip"):
        decode_body(b"plain", "gzip", 1024)
    with pytest.raises(BadBatch, match="Content-Encoding"):
        decode_body(b"x", "br", 1024)


def test_authenticate_edge_tokens(store: Store) -> None:
    from egiz.cloud.errors import Unauthorized
    from egiz.cloud.services.edges import revoke_edge, rotate_edge

    token = add_edge(store, "edge-1")
    assert authenticate_edge(store, f"Bearer {token}").edge_id == "edge-1"
    assert store.edge("edge-1").token_hash != token  # type: ignore[union-attr]
    for header in (None, "", token, f"Basic {token}", "Bearer nope"):
        with pytest.raises(Unauthorized):
            authenticate_edge(store, header)
    new = rotate_edge(store, "edge-1")
    with pytest.raises(Unauthorized):
        authenticate_edge(store, f"Bearer {token}")
    assert authenticate_edge(store, f"Bearer {new}").edge_id == "edge-1"
    revoke_edge(store, "edge-1")
    with pytest.raises(Unauthorized, match="revoked"):
        authenticate_edge(store, f"Bearer {new}")


def test_edge_token_cache_expires_bounds_and_forgets(store: Store) -> None:
    from egiz.cloud.services.edges import EdgeTokenCache, bearer_digest, edge_for_digest

    token = add_edge(store, "edge-1")
    digest = bearer_digest(f"Bearer {token}")
    edge = edge_for_digest(store, digest)
    cache = EdgeTokenCache(ttl_s=60.0, max_entries=2)
    assert cache.get(digest) is None  # unknown tokens are never cached
    cache.put(digest, edge)
    assert cache.get(digest) == edge
    cache.discard(digest)
    assert cache.get(digest) is None
    for key in ("a", "b", "c"):  # full of live entries: starts over rather than growing
        cache.put(key, edge)
    assert cache.get("c") == edge and cache.get("a") is None
    expired = EdgeTokenCache(ttl_s=-1.0)
    expired.put(digest, edge)
    assert expired.get(digest) is None
