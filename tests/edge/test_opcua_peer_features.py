"""OPC UA source features against the independent node-opcua server (tests/peers/node-opcua).

User name and password against a server that enforces them (a wrong password is an explicit
auth_failed event, not a silent reconnect loop), nodes chosen by browse path, one bad node that
stops nothing, and the polling mode — each judged by the exact values the server writes
(``i * 1000 + tick`` with source timestamp ``base + tick * period``).
"""

from __future__ import annotations

import asyncio
import math
from typing import Any

from egiz.contracts import OpcUaSourceConfig
from egiz.edge.sources import make_source
from egiz.edge.sources.base import SourceNote
from egiz.edge.status import render

from .test_peer_node_opcua import npm_ci, start_server

N = 6
PERIOD_MS = 50


def _cfg(endpoint: str, nodes: list[dict[str, str]], **over: Any) -> OpcUaSourceConfig:
    return OpcUaSourceConfig.model_validate(
        {
            "name": "peer",
            "endpoint": endpoint,
            "backfill": False,  # the peer keeps no history
            "reconnect": {"initial_s": 0.2, "max_s": 0.5},
            "subscription": {"publishing_interval_ms": 20},
            "nodes": [{"asset": "cell-1", "signal": f"s{i}", **n} for i, n in enumerate(nodes)],
            **over,
        }
    )


async def _values(src: Any, refs: set[int], per_ref: int, limit_s: float = 20.0) -> dict:
    """Collect (ts, value) per ref until every ref in ``refs`` has ``per_ref`` of them."""
    got: dict[int, list[tuple[float, float]]] = {}
    stream = src.stream()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit_s
    while not all(len(got.get(r, [])) >= per_ref for r in refs):
        assert loop.time() < deadline, {r: len(v) for r, v in got.items()}
        batch = await asyncio.wait_for(anext(stream), limit_s)
        for r, t, v in zip(batch.ref.tolist(), batch.ts.tolist(), batch.value.tolist(),
                           strict=True):  # fmt: skip
            got.setdefault(r, []).append((t, v))
    return got


def _assert_exact(got: dict, index_of_ref: dict[int, int], ready: dict) -> None:
    """Every value is the server's i * 1000 + k, stamped base + k * period, each k once."""
    for ref, rows in got.items():
        i = index_of_ref[ref]
        ticks = []
        for ts, value in rows:
            k = round(value) - i * 1000
            assert 0 <= k < 100_000, (ref, value)
            assert round(ts * 1000) == ready["base"] + k * PERIOD_MS, (ref, ts, value)
            ticks.append(k)
        assert ticks == sorted(set(ticks)), f"ref {ref}: ticks repeated or reordered"


def test_opcua_username_password_enforced_by_node_opcua(kit):
    npm_ci()

    async def go() -> tuple[dict, dict, list[SourceNote], dict, list[SourceNote]]:
        port = kit.free_port()
        proc, ready = await start_server(port, N, PERIOD_MS, 1, "operator:s3cret pw")
        try:
            nodes = [{"node": f"ns=1;s=sig-{i}"} for i in range(2)]
            good_notes: list[SourceNote] = []
            cfg = _cfg(ready["endpoint"], nodes, username="operator", password="s3cret pw")
            async with make_source(cfg, on_note=good_notes.append) as src:
                got = await _values(src, {0, 1}, 5)
                good = src.stats()
            bad_notes: list[SourceNote] = []
            cfg = _cfg(ready["endpoint"], nodes, username="operator", password="wrong")
            async with make_source(cfg, on_note=bad_notes.append) as src:
                consumer = asyncio.create_task(anext(src.stream()))
                await kit.wait_until(lambda: src.reconnects >= 3, 30, "3 refused attempts")
                bad = src.stats()
                consumer.cancel()
            return got, good, good_notes, bad, bad_notes
        finally:
            proc.kill()
            await proc.wait()

    got, good, good_notes, bad, bad_notes = asyncio.run(go())
    assert good["state"] == "connected" and good["last_error"] is None
    assert not [n for n in good_notes if n.data.get("state") == "auth_failed"]
    assert set(got) == {0, 1}
    # The wrong password: the state says reconnecting, the status page and one event say why.
    assert bad["state"] == "reconnecting" and bad["samples"] == 0
    assert "BadUserAccessDenied" in bad["last_error"] and "password" in bad["last_error"]
    refused = [n for n in bad_notes if n.data.get("state") == "auth_failed"]
    assert len(refused) == 1, [n.message for n in bad_notes]  # once, not once per retry
    assert refused[0].data["code"] == "BadUserAccessDenied"
    assert "user 'operator'" in refused[0].message and "wrong" not in refused[0].message
    page = render({"sources": {"peer": bad}})  # what `egiz edge status` prints on site
    assert "source peer (opcua): reconnecting (" in page and "BadUserAccessDenied" in page


def test_opcua_anonymous_refused_by_a_server_that_wants_a_user(kit):
    npm_ci()

    async def go() -> tuple[dict, list[SourceNote]]:
        port = kit.free_port()
        proc, ready = await start_server(port, 1, PERIOD_MS, 1, "operator:x")
        try:
            notes: list[SourceNote] = []
            cfg = _cfg(ready["endpoint"], [{"node": "ns=1;s=sig-0"}])
            async with make_source(cfg, on_note=notes.append) as src:
                consumer = asyncio.create_task(anext(src.stream()))
                await kit.wait_until(lambda: src.reconnects >= 2, 30, "2 refused attempts")
                consumer.cancel()
                return src.stats(), notes
        finally:
            proc.kill()
            await proc.wait()

    stats, notes = asyncio.run(go())
    refused = [n for n in notes if n.data.get("state") == "auth_failed"]
    assert len(refused) == 1 and "anonymous" in refused[0].message
    assert stats["last_error"] == refused[0].message


def test_opcua_browse_paths_and_a_bad_node_among_good_ones(kit):
    npm_ci()

    async def go() -> tuple[dict, dict, dict, list[SourceNote]]:
        port = kit.free_port()
        proc, ready = await start_server(port, N, PERIOD_MS)
        try:
            nodes = [
                {"browse_path": "1:Egiz/1:sig-4"},
                {"node": "ns=1;s=no-such-node"},  # a typo in the config
                {"browse_path": "/1:Egiz/1:sig-0"},
                {"browse_path": "1:Egiz/1:sig-missing"},  # not in the address space
                {"node": "ns=1;s=sig-5"},
            ]
            notes: list[SourceNote] = []
            async with make_source(_cfg(ready["endpoint"], nodes), on_note=notes.append) as src:
                got = await _values(src, {0, 2, 4}, 10)
                return got, src.stats(), ready, notes
        finally:
            proc.kill()
            await proc.wait()

    got, stats, ready, notes = asyncio.run(go())
    assert set(got) == {0, 2, 4}
    _assert_exact(got, {0: 4, 2: 0, 4: 5}, ready)  # browse paths resolved to the right nodes
    assert set(stats["bad_nodes"]) == {"ns=1;s=no-such-node", "1:Egiz/1:sig-missing"}
    assert stats["state"] == "connected"
    assert sum("skipped" in n.message for n in notes) == 2


def test_opcua_poll_mode_against_node_opcua(kit):
    npm_ci()

    async def go() -> tuple[dict, dict]:
        port = kit.free_port()
        proc, ready = await start_server(port, N, PERIOD_MS)
        try:
            nodes = [{"node": "ns=1;s=sig-1"}, {"node": "ns=1;s=gone"}, {"node": "ns=1;s=sig-3"}]
            cfg = _cfg(ready["endpoint"], nodes, mode="poll", poll_interval_s=0.1)
            async with make_source(cfg) as src:
                got = await _values(src, {0, 2}, 5)
                return got, ready
        finally:
            proc.kill()
            await proc.wait()

    got, ready = asyncio.run(go())
    # Polling reads the current value: every read is a real sample of the server, in order
    # (the same tick read twice is one sample: windows count a timestamp once); the node that
    # does not exist reads as no number every time and never stops the others.
    good = {r: sorted(set(rows)) for r, rows in got.items() if r in (0, 2)}
    _assert_exact(good, {0: 1, 2: 3}, ready)
    assert all(len(rows) >= 3 for rows in good.values())
    assert got.get(1) and all(math.isnan(v) for _t, v in got[1])
