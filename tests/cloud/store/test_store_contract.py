"""The one contract suite every Store backend passes (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest

from egiz.cloud.errors import Conflict
from egiz.cloud.store import Store, WriteSet, open_store
from egiz.cloud.store.base import (
    AssetRow,
    AssetTypeRow,
    EdgeRow,
    EventRow,
    HeartbeatRow,
    ShadowRow,
    SiteRow,
    WindowRow,
)
from egiz.cloud.store.migrations import LATEST

TYPE_JSON = '{"name": "pump", "signals": [{"name": "flow", "unit": "m3/h"}]}'


def _win(start: float, last: float, signal: str = "flow") -> WindowRow:
    return WindowRow("s", "p1", signal, start, 10.0, 5, 0, 1, 0, 1.0, 2.0, 1.5, 0.1, last, None)


def _shadow(start: float, value: float) -> ShadowRow:
    return ShadowRow("s", "p1", "flow", start, 10.0, value, start + 10, 5, 0, 0, 0)


def _writeset(seqs: list[int], assets: tuple[str, ...] = ("p1", "p2")) -> WriteSet:
    ws = WriteSet(edge_id="e1", epoch="ep", received_at=100.0)
    ws.keys = [(s, "window") for s in seqs]
    ws.site = SiteRow("s", "Site", "ent", "e1", "h" * 64, "ep", 1, 100.0)
    ws.asset_types = [AssetTypeRow("s", "pump", TYPE_JSON)]
    ws.assets = [AssetRow("s", a, "pump", a.upper(), "area", None, "{}") for a in assets]
    ws.windows = [_win(0.0, 1.0), _win(10.0, 2.0)]
    ws.shadow = [_shadow(10.0, 2.0)]
    ws.events = [
        EventRow("e1", "ep", 7, "s", "alarm_raise", 5.0, "p1", "flow", "high", "m", "a", "{}")
    ]
    ws.heartbeats = [HeartbeatRow("e1", "ep", 8, 6.0, "{}")]
    return ws


def test_store_backend_is_the_one_requested(store: Store, store_url: str) -> None:
    version = store.server_version()
    if store_url.startswith("postgresql"):
        # Proves the PostgreSQL run really happened against a server, not a fallback.
        assert version.startswith("PostgreSQL ")
    else:
        assert version.startswith("SQLite 3.")


def test_store_migrate_is_versioned_and_idempotent(store: Store, store_url: str) -> None:
    assert store.schema_version() == LATEST
    assert store.migrate() == LATEST
    again = open_store(store_url)
    try:
        assert again.schema_version() == LATEST
        assert again.ping()
    finally:
        again.close()


def test_store_edges_add_lookup_update(store: Store) -> None:
    store.add_edge(EdgeRow("e1", None, "h1", 1.0))
    with pytest.raises(Conflict):
        store.add_edge(EdgeRow("e1", None, "h2", 2.0))
    assert store.edge_by_token_hash("h1") == EdgeRow("e1", None, "h1", 1.0)
    assert store.edge_by_token_hash("nope") is None
    assert store.update_edge("e1", token_hash="h3", site="s", last_seen=5.0)
    assert not store.update_edge("zz", token_hash="h9")
    e = store.edge("e1")
    assert e is not None and (e.token_hash, e.site, e.last_seen) == ("h3", "s", 5.0)
    assert store.edge_by_token_hash("h1") is None
    store.update_edge("e1", revoked_at=9.0)
    assert [x.revoked_at for x in store.edges()] == [9.0]


def test_store_write_twice_stores_once(store: Store) -> None:
    store.add_edge(EdgeRow("e1", None, "h1", 1.0))
    store.write(_writeset([1, 2, 3]))
    counts = {t: store.count(t) for t in ("ingested", "windows", "shadow", "events", "heartbeats")}
    store.write(_writeset([1, 2, 3]))
    assert {t: store.count(t) for t in counts} == counts == {
        "ingested": 3, "windows": 2, "shadow": 1, "events": 1, "heartbeats": 1,
    }  # fmt: skip
    assert store.held_seqs("e1", "ep", [2, 3, 4, 99]) == {2, 3}
    assert store.held_seqs("e1", "other-epoch", [2, 3]) == set()
    assert store.edge("e1").last_seen == 100.0  # type: ignore[union-attr]
    assert store.edge("e1").site == "s"  # type: ignore[union-attr]


def test_store_shadow_only_moves_forward(store: Store) -> None:
    ws = WriteSet(edge_id="e1", epoch="ep", received_at=1.0, shadow=[_shadow(20.0, 3.0)])
    store.write(ws)
    store.write(WriteSet(edge_id="e1", epoch="ep", received_at=2.0, shadow=[_shadow(10.0, 1.0)]))
    assert [(s.start, s.value) for s in store.shadow("s", "p1")] == [(20.0, 3.0)]
    store.write(WriteSet(edge_id="e1", epoch="ep", received_at=3.0, shadow=[_shadow(30.0, 4.0)]))
    assert [(s.start, s.value) for s in store.shadow()] == [(30.0, 4.0)]


def test_store_manifest_registers_and_retires_assets(store: Store) -> None:
    store.write(_writeset([1]))
    assert [a.asset for a in store.assets("s")] == ["p1", "p2"]
    assert [t.name for t in store.asset_types("s")] == ["pump"]
    assert store.site("s").enterprise == "ent"  # type: ignore[union-attr]
    store.write(_writeset([2], assets=("p2", "p3")))
    assert [a.asset for a in store.assets()] == ["p2", "p3"]
    assert store.assets("other") == []
    assert [s.site for s in store.sites()] == ["s"]


def test_store_windows_query_by_signal_and_range(store: Store) -> None:
    rows = [_win(float(t), float(t), sig) for t in range(0, 100, 10) for sig in ("flow", "temp")]
    store.write(WriteSet(edge_id="e1", epoch="ep", received_at=1.0, windows=rows))
    got = store.windows("s", "p1", "flow", 20.0, 50.0, 100)
    assert [(w.start, w.last) for w in got] == [(20.0, 20.0), (30.0, 30.0), (40.0, 40.0)]
    assert len(store.windows("s", "p1", None, None, None, 1000)) == 20
    assert len(store.windows("s", "p1", None, None, None, 5)) == 5
    assert store.windows("s", "nope", None, None, None, 5) == []
    assert got[0] == rows[4]


def test_store_events_newest_first(store: Store) -> None:
    evs = [EventRow("e1", "ep", i, "s", "anomaly", float(i), "p1", None, "info", "", None, "{}")
           for i in range(1, 6)]  # fmt: skip
    store.write(WriteSet(edge_id="e1", epoch="ep", received_at=1.0, events=evs))
    assert [e.seq for e in store.events("s", limit=3)] == [5, 4, 3]
    assert store.events("other") == []


def test_store_count_refuses_unknown_table(store: Store) -> None:
    with pytest.raises(ValueError, match="unknown table"):
        store.count("edges; DROP TABLE edges")


def test_store_windows_keep_none_apart_from_nan_and_first_record_wins(store: Store) -> None:
    nan_row = WindowRow("s", "p1", "flow", 0.0, 10.0, 3, 3, 0, 0, None, None, None, None,
                        float("nan"), None)  # fmt: skip
    other = _win(0.0, 9.0, "temp")
    store.write(WriteSet(edge_id="e1", epoch="ep", received_at=1.0, windows=[nan_row, other]))
    # A second record for the same asset and start (another epoch re-sent it): the first wins.
    store.write(WriteSet(edge_id="e1", epoch="e2", received_at=2.0, windows=[_win(0.0, 5.0)]))
    flow, temp = store.windows("s", "p1", None, None, None, 10)
    assert (flow.signal, flow.min, flow.mean, flow.last_ts) == ("flow", None, None, None)
    assert flow.last != flow.last  # NaN stays NaN, None stays None
    assert temp == other
    assert store.count("windows") == 2


def test_store_migration_5_packs_existing_rows(store_url: str) -> None:
    """A database at schema 4 (one row per signal) migrates to packed records intact."""
    old = open_store(store_url, migrate=False)
    try:
        assert old.migrate(upto=4) == 4
        rows = [_win(float(t), float(t), sig) for t in (0, 10, 20) for sig in ("flow", "temp")]
        rows.append(WindowRow("s", "p1", "flow", 30.0, 10.0, 0, 0, 0, 0, None, None, None, None,
                              None, None))  # fmt: skip
        with old._tx(old._conn()) as cur:  # type: ignore[attr-defined]
            old._many(cur, f"INSERT INTO windows VALUES ({', '.join('?' * 15)})", rows)  # type: ignore[attr-defined]
            old._many(cur, "INSERT INTO ingested VALUES (?, ?, ?, ?, ?)",  # type: ignore[attr-defined]
                      [("e1", "ep", s, "window", 1.0) for s in (1, 2, 3, 7)])  # fmt: skip
            old._many(cur, f"INSERT INTO rollups VALUES ({', '.join('?' * 16)})",  # type: ignore[attr-defined]
                      [(60, *_win(0.0, 2.0))])  # fmt: skip
            old._many(cur, "INSERT INTO rollup_dirty VALUES (?, ?, ?)", [("s", "p1", 0.0)])  # type: ignore[attr-defined]
        assert old.migrate() == LATEST
        got = old.windows("s", "p1", None, None, None, 100)
        assert got == sorted(rows, key=lambda r: (r.start, r.signal))
        assert old.windows("s", "p1", "temp", 10.0, None, 100) == [rows[3], rows[5]]
        assert old.held_seqs("e1", "ep", [1, 2, 3, 4, 7, 8]) == {1, 2, 3, 7}
        assert old.ingested_count("window") == 4 and old.ingested_count("event") == 0
        assert old.windows("s", "p1", None, None, None, 10, 60) == [_win(0.0, 2.0)]
        assert old.count("rollup_dirty") == 1 and old.count("windows") == 7
    finally:
        old.close()


def test_store_held_seqs_over_runs(store: Store) -> None:
    ws = WriteSet(edge_id="e1", epoch="ep", received_at=1.0)
    ws.keys = [(s, "window") for s in (*range(1, 1001), 1500)] + [(1001, "event")]
    store.write(ws)
    assert store.held_seqs("e1", "ep", [0, 1, 500, 1000, 1001, 1002, 1500]) == {
        1, 500, 1000, 1001, 1500}  # fmt: skip
    assert store.ingested_count() == 1002 and store.ingested_count("event") == 1
    # A concurrent retry stored an overlapping run: keys are still counted once.
    ws2 = WriteSet(
        edge_id="e1", epoch="ep", received_at=2.0, keys=[(s, "window") for s in range(990, 1001)]
    )
    store.write(ws2)
    assert store.ingested_count() == 1002 and store.count("ingested") == 1002


def _reference(batches: list[list[WindowRow]]) -> list[WindowRow]:
    """Rows as stored when the first record of an (asset, start) wins, by start and signal."""
    first: dict[float, list[WindowRow]] = {}
    for batch in batches:
        seen_here: dict[float, list[WindowRow]] = {}
        for r in batch:
            seen_here.setdefault(r.start, []).append(r)
        for start, rows in seen_here.items():
            first.setdefault(start, rows)
    return sorted((r for rows in first.values() for r in rows), key=lambda r: (r.start, r.signal))


def test_store_raw_windows_out_of_order_duplicates_and_pages(store: Store) -> None:
    """Chunks overlap in time, repeat starts and outnumber a read page: reads stay exact."""
    import random

    rng = random.Random(5)
    batches: list[list[WindowRow]] = []
    for b in range(320):
        batch = []
        for _ in range(rng.randint(1, 4)):
            start = float(rng.randrange(0, 600) * 10)
            signals = ("flow",) if rng.random() < 0.6 else ("flow", "temp")
            batch += [_win(start, float(b), sig) for sig in signals]
        batches.append(batch)
    for b, batch in enumerate(batches):
        store.write(WriteSet(edge_id="e1", epoch=f"ep{b}", received_at=1.0, windows=batch))
    want = _reference(batches)
    assert store.windows("s", "p1", None, None, None, 10**6) == want
    assert store.count("windows") == len(want)
    for limit in (1, 7, *range(100, len(want), 23)):
        assert store.windows("s", "p1", None, None, None, limit) == want[:limit]
    flow = [r for r in want if r.signal == "flow" and 1000.0 <= r.start < 4000.0]
    assert store.windows("s", "p1", "flow", 1000.0, 4000.0, 10**6) == flow
    assert store.windows("s", "p1", "flow", 1000.0, 4000.0, 50) == flow[:50]
    records = store.window_records(0, "s", "p1", 1000.0, 4000.0)
    assert [r[0] for r in records] == sorted({r.start for r in flow})


def test_store_retention_cuts_chunks_that_straddle_the_cutoff(store: Store) -> None:
    rows = [_win(float(t), float(t), sig) for t in range(0, 100, 10) for sig in ("flow", "temp")]
    store.write(WriteSet(edge_id="e1", epoch="ep", received_at=1.0, windows=rows))  # one chunk
    assert store.delete_before(0, 35.0) == 8  # starts 0-30, two signals each
    assert store.windows("s", "p1", None, None, None, 100) == sorted(
        rows[8:], key=lambda r: (r.start, r.signal)
    )
    assert store.count("windows") == 12
    assert store.delete_before(0, 35.0) == 0
    assert store.delete_before(0, 1000.0) == 12 and store.count("windows") == 0


def test_store_migration_7_chunks_existing_records(store_url: str) -> None:
    """A database at schema 6 (one row per window record) migrates to chunks intact."""
    from egiz.cloud.store.packing import pack_rows

    old = open_store(store_url, migrate=False)
    try:
        assert old.migrate(upto=6) == 6
        rows = [_win(float(t), float(t), sig) for t in (0, 10, 20) for sig in ("flow", "temp")]
        rows += [_win(30.0, 3.0), _win(5.0, 5.0, "temp")]
        with old._tx(old._conn()) as cur:  # type: ignore[attr-defined]
            old._many(cur, f"INSERT INTO window_records VALUES ({', '.join('?' * 7)})",  # type: ignore[attr-defined]
                      pack_rows(rows))  # fmt: skip
        assert old.migrate() == LATEST
        got = old.windows("s", "p1", None, None, None, 100)
        assert got == sorted(rows, key=lambda r: (r.start, r.signal))
        assert old.count("windows") == 8
        assert old.windows("s", "p1", "temp", 5.0, 20.0, 100) == [rows[-1], rows[3]]
    finally:
        old.close()
