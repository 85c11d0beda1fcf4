"""The msgspec fast path of the ingest takes exactly what the per-record pydantic path takes.

Every body is ingested twice into fresh stores: through ``ingest_body`` (fast path when it
applies) and through ``ingest(parse_batch(body))`` (per-record validation only). Answers,
errors and stored state must be identical, for valid bodies and for bodies with one tricky
value in one record or in the envelope.
"""

from __future__ import annotations

import copy
import json
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from egiz.cloud.services.edges import add_edge
from egiz.cloud.services.ingest import IngestStats, ingest, parse_batch
from egiz.cloud.services.ingest_fast import ingest_body, ingest_windows, parse_windows
from egiz.cloud.store import Store, open_store
from egiz.contracts import UplinkBatch

TABLES = ("window_chunks", "shadow", "scores", "asset_state", "events", "heartbeats")
SCORES = {"model": "m", "version": "1", "health": 50.0, "anomaly": 0.2,
          "rul": {"value": 10.0, "low": 5.0, "high": 20.0}}  # fmt: skip

# (where, value): where is "env.<key>" for the envelope or a dotted path into one record.
MUTATIONS: list[tuple[str, Any]] = [
    ("start", "2026-01-01T00:00:00.1234567Z"), ("start", "2026-01-01"), ("start", 1767225600),
    ("start", "2026-01-01 00:00:30+01:00"), ("start", "2026-01-01T00:00Z"), ("start", "bad"),
    ("seq", 2**63), ("seq", 2**64), ("seq", 0), ("seq", 3.0), ("seq", True), ("seq", "4"),
    ("asset", "Pump-1"), ("asset", "pump-9"), ("asset", 7), ("length_s", 0), ("length_s", "10"),
    ("length_s", 10), ("signals.flow.count", -1), ("signals.flow.count", 2**63),
    ("signals.flow.count", 2**63 - 1), ("signals.flow.count", 1.0), ("signals.flow.min", "1.5"),
    ("signals.flow.min", 2), ("signals.flow.min", None), ("signals.flow.bad", 11),
    ("signals.flow.last_ts", "2026-01-01T00:00:09.9999999Z"), ("signals.flow.last_ts", None),
    ("signals.flow.last_ts", "2026-01-01T00:00:09+00:00"), ("signals.flow.last_ts", 5),
    ("signals.flow.extra", 1), ("signals.Flow", {"count": 1}), ("signals.rpm", {"count": 1}),
    ("signals.flow.features", {"a": 1}), ("signals.flow.features", {"a": "x"}),
    ("signals", {}), ("signals", []), ("scores", {**SCORES, "health": 101}), ("scores", SCORES),
    ("scores", None), ("scores", {"model": "m"}), ("type", "event"), ("type", None),
    ("extra_field", 1), ("env.schema", 2), ("env.schema", "1"), ("env.edge_id", "edge-2"),
    ("env.sent_at", "bad"), ("env.schema_version", 1), ("env.command_acks", ["c-1"]),
    ("env.batch_id", "no spaces"), ("env.extra", 1), ("env.records", "x"), ("none", None),
]  # fmt: skip


def _set(target: dict[str, Any], path: str, value: Any) -> None:
    *head, last = path.split(".")
    for key in head:
        target = target[key]
    target[last] = value


def _fresh(tmp_path, mk) -> Store:
    store = open_store(f"sqlite:///{tmp_path}/{uuid.uuid4().hex}.db")
    add_edge(store, "edge-1")
    body = UplinkBatch.model_validate(mk.batch([mk.manifest(1), mk.window(2, k=0)]))
    assert not ingest(store, store.edge("edge-1"), body).rejected  # type: ignore[arg-type]
    return store


def _state(store: Store) -> dict[str, Any]:
    snap = {t: sorted(map(tuple, store._read(f"SELECT * FROM {t}")), key=repr) for t in TABLES}  # type: ignore[attr-defined]
    snap["ingested"] = (store.ingested_count(), store.ingested_count("window"))
    return snap


def _outcome(store: Store, fn) -> Any:
    try:
        ans = fn()
    except Exception as err:  # the same refusal is expected from both paths
        return type(err).__name__, str(err), _state(store)
    return ans.model_dump(exclude={"server_time"}), _state(store)


def _both(tmp_path, mk, body: bytes) -> tuple[Any, Any]:
    fast, slow = _fresh(tmp_path, mk), _fresh(tmp_path, mk)
    try:
        edge = fast.edge("edge-1")
        got = _outcome(fast, lambda: ingest_body(fast, edge, body, now=1.0))  # type: ignore[arg-type]
        want = _outcome(slow, lambda: ingest(slow, edge, parse_batch(body), now=1.0))  # type: ignore[arg-type]
        return got, want
    finally:
        fast.close()
        slow.close()


def _records(mk) -> list[dict[str, Any]]:
    recs = [mk.window(3 + k, asset=("pump-1", "pump-2")[k % 2], k=k, flow=float(k))
            for k in range(6)]  # fmt: skip
    recs[1]["scores"] = SCORES
    recs[4]["signals"]["flow"]["last_ts"] = "2026-01-01T00:00:45.25+00:00"
    return recs


def test_fast_path_takes_a_plain_window_batch(tmp_path, mk) -> None:
    store = _fresh(tmp_path, mk)
    try:
        body = json.dumps(mk.batch([mk.window(2, k=0), *_records(mk)])).encode()
        parsed = parse_windows(body)
        assert parsed is not None
        stats = IngestStats()
        ans = ingest_windows(store, store.edge("edge-1"), *parsed, stats=stats)  # type: ignore[arg-type]
        assert ans is not None and ans.stored == [(2, 8)] and not ans.rejected
        assert (stats.stored, stats.duplicates) == (6, 1)
        assert [w.signal for w in stats.windows][:2] == ["bearing_temp", "flow"]
    finally:
        store.close()
    got, want = _both(tmp_path, mk, body)
    assert got == want


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(
    mutation=st.sampled_from(MUTATIONS),
    which=st.integers(0, 5),
    duplicate=st.booleans(),
    held=st.booleans(),
)
def test_fast_path_agrees_with_the_per_record_path(
    tmp_path, mk, mutation: tuple[str, Any], which: int, duplicate: bool, held: bool
) -> None:
    recs = _records(mk)
    where, value = mutation
    body = mk.batch(recs)
    if where.startswith("env."):
        body[where[4:]] = value
    elif where != "none":
        _set(recs[which], where, copy.deepcopy(value))
    if duplicate:
        recs.append(copy.deepcopy(recs[which]))
    if held:
        recs.append(mk.window(2, k=0))  # stored by _fresh: a retry
    got, want = _both(tmp_path, mk, json.dumps(body).encode())
    assert got == want


def test_fast_path_on_each_backend_replays_to_the_same_state(store: Store, mk) -> None:
    add_edge(store, "edge-1")
    edge = store.edge("edge-1")
    assert edge is not None
    ingest(store, edge, UplinkBatch.model_validate(mk.batch([mk.manifest(1)])))
    recs = _records(mk)
    first = ingest_body(store, edge, json.dumps(mk.batch(recs[:4])).encode())
    state = _state(store)
    again = ingest_body(store, edge, json.dumps(mk.batch(list(reversed(recs[:4])))).encode())
    assert first.stored == again.stored == [(3, 6)] and _state(store) == state
    rest = ingest_body(store, edge, json.dumps(mk.batch(recs)).encode())
    assert rest.stored == [(3, 8)] and store.count("windows") == 12


@pytest.mark.parametrize("bad", [{"seq": 9, "type": "nonsense"}, {}])
def test_fast_path_gives_way_to_per_record_rejections(tmp_path, mk, bad) -> None:
    body = json.dumps(mk.batch([*_records(mk), bad])).encode()
    assert parse_windows(body) is None
    got, want = _both(tmp_path, mk, body)
    assert got == want and [r["index"] for r in got[0]["rejected"]] == [6]
