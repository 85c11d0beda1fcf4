"""Replaying batches in random order with duplicates stores exactly what sending once does.

Issue 5 acceptance 2. The manifest goes first (an edge registers before sending data); every
other batch may arrive in any order, any number of times, split differently.
"""

from __future__ import annotations

import random
import uuid
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from egiz.cloud.services.edges import add_edge
from egiz.cloud.services.ingest import ingest
from egiz.cloud.store import Store, open_store
from egiz.contracts import UplinkBatch

# Columns that record *when the cloud saw* something are excluded: they differ by design.
SNAPSHOT = {
    "shadow": "*",
    "scores": "*",
    "events": "*",
    "heartbeats": "*",
    "alarms": "*",
    "asset_state": "*",
    "assets": "*",
    "asset_types": "*",
    "sites": "site, name, enterprise, edge_id, manifest_hash, manifest_epoch, manifest_seq",
}


def snapshot(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    snap = {t: sorted(map(tuple, store._read(f"SELECT {c} FROM {t}")), key=repr)  # type: ignore[attr-defined]
            for t, c in SNAPSHOT.items()}  # fmt: skip
    # Raw windows are stored in chunks whose bounds depend on the batching: compare windows.
    snap["windows"] = sorted(
        (tuple(w) for site, asset in store._read("SELECT site, asset FROM assets")  # type: ignore[attr-defined]
         for w in store.windows(site, asset, None, None, None, 10**9)), key=repr,
    )  # fmt: skip
    # Keys are stored as runs of seqs whose bounds depend on the batching: compare the keys.
    runs = store._read("SELECT edge_id, epoch, lo, hi, kind FROM ingested_ranges")  # type: ignore[attr-defined]
    snap["ingested"] = sorted((e, ep, seq, kind) for e, ep, lo, hi, kind in runs
                              for seq in range(lo, hi + 1))  # fmt: skip
    return snap


def _records(mk, n_windows: int, n_alarms: int) -> list[dict[str, Any]]:
    recs: list[dict[str, Any]] = []
    seq = 2
    for k in range(n_windows):
        for asset in ("pump-1", "pump-2"):
            w = mk.window(seq, asset=asset, k=k, flow=float(k * 3 + len(asset)))
            w["scores"] = {"model": "m", "version": "1", "health": 100.0 - k,
                           "rul": {"value": 100.0 - k, "low": 50.0, "high": 150.0}}  # fmt: skip
            recs.append(w)
            seq += 1
    for i in range(n_alarms):
        for kind in ("alarm_raise", "alarm_clear"):
            recs.append({**mk.event(seq), "kind": kind, "alarm_id": f"al-{i}",
                         "ts": f"2026-01-01T00:0{i % 10}:{'10' if kind == 'alarm_clear' else '00'}Z"})  # fmt: skip
            seq += 1
    recs.append(mk.heartbeat(seq))
    return recs


def _run(url: str, mk, batches: list[list[dict[str, Any]]]) -> dict[str, list[tuple[Any, ...]]]:
    store = open_store(url)
    try:
        add_edge(store, "edge-1")
        edge = store.edge("edge-1")
        for i, records in enumerate([[mk.manifest(1)], *batches]):
            body = mk.batch(records, batch_id=f"b{i}")
            ans = ingest(store, edge, UplinkBatch.model_validate(body))
            assert not ans.rejected
            assert {r["seq"] for r in records} <= {
                s for lo, hi in ans.stored for s in range(lo, hi + 1)
            }
        return snapshot(store)
    finally:
        store.close()


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    n_windows=st.integers(1, 6),
    n_alarms=st.integers(0, 3),
    seed=st.integers(0, 2**32 - 1),
    dup_rate=st.floats(0, 1),
)
def test_replay_random_order_with_duplicates_equals_once(
    tmp_path, mk, n_windows: int, n_alarms: int, seed: int, dup_rate: float
) -> None:
    recs = _records(mk, n_windows, n_alarms)
    once = _run(f"sqlite:///{tmp_path}/{uuid.uuid4().hex}.db", mk, [recs])
    rng = random.Random(seed)
    sent = recs + [r for r in recs if rng.random() < dup_rate]
    rng.shuffle(sent)
    batches, i = [], 0
    while i < len(sent):
        size = rng.randint(1, 5)
        batches.append(sent[i : i + size])
        i += size
    batches += [b for b in batches if rng.random() < dup_rate / 2]  # whole batches retried
    replayed = _run(f"sqlite:///{tmp_path}/{uuid.uuid4().hex}.db", mk, batches)
    assert replayed == once
    assert len({(w[1], w[3]) for w in once["windows"]}) == n_windows * 2 and len(once["alarms"]) == n_alarms
    assert len(once["ingested"]) == len(recs) + 1
