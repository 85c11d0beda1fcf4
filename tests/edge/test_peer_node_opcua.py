"""The edge agent against an independent OPC UA server: node-opcua from npm, in a child process.

The server (tests/peers/node-opcua/server.js) writes value ``i * 1000 + k`` to ``ns=1;s=sig-<i>``
at tick k with source timestamp ``base + k * period``, so every window the agent makes has
exactly known statistics: a lost, duplicated, reordered or mis-timestamped value changes them.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from datetime import datetime
from pathlib import Path
from typing import Any

from egiz.edge.agent import EdgeAgent

from ..conftest import require

PEER = Path(__file__).resolve().parents[1] / "peers" / "node-opcua"
N = 12  # variables
PERIOD_MS = 50  # 20 values per signal per 1 s window


def npm_ci() -> None:
    """Install the peer's pinned node modules unless present; no node under CI=true fails."""
    require(shutil.which("node") is not None and shutil.which("npm") is not None, "node and npm")
    if not (PEER / "node_modules" / "node-opcua-server").is_dir():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=PEER, check=True, timeout=600)


async def start_server(
    port: int, n: int, period_ms: int, burst: int = 1, credentials: str = ""
) -> tuple[Any, dict]:
    """Start server.js (optionally enforcing ``user:password``); return process, ready doc."""
    args = [str(port), str(n), str(period_ms), str(burst), *([credentials] if credentials else [])]
    proc = await asyncio.create_subprocess_exec(
        "node", str(PEER / "server.js"), *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        while True:
            line = await asyncio.wait_for(proc.stdout.readline(), 60)
            assert line, f"node-opcua server exited ({await proc.wait()}) before ready"
            if line.startswith(b"EGIZ-READY "):
                return proc, json.loads(line.removeprefix(b"EGIZ-READY "))
    except BaseException:
        proc.kill()
        await proc.wait()
        raise


def _config(kit: Any, tmp_path: Path, endpoint: str, url: str | None) -> Any:
    signals = [{"name": f"s{i}", "unit": "m3/h", "kind": "flow"} for i in range(N)]
    source = {
        "kind": "opcua",
        "name": "node-plc",
        "endpoint": endpoint,
        "backfill": False,  # the peer keeps no history
        "subscription": {"publishing_interval_ms": 20, "queue_size": 1000},
        "nodes": [
            {"node": f"ns=1;s=sig-{i}", "asset": "cell-1", "signal": f"s{i}"} for i in range(N)
        ],
    }
    return kit.site_config(
        tmp_path,
        [source],
        asset_types=[{"name": "cell", "signals": signals}],
        assets=[{"id": "cell-1", "type": "cell", "area": "a"}],
        uplink={"url": url},
    )


def test_peer_node_opcua_windows_have_exact_values_and_source_timestamps(tmp_path, kit):
    npm_ci()
    got, stats, ready = asyncio.run(_run(tmp_path, kit))
    assert stats["sources"]["node-plc"]["state"] == "connected"
    assert stats["sources"]["node-plc"]["bad_nodes"] == {}
    windows = sorted(got, key=lambda r: r["start"])
    starts = [datetime.fromisoformat(r["start"]).timestamp() for r in windows]
    assert len(starts) == len(set(starts)), "a window was stored twice"
    # The first window may have begun before the subscription did; every later one is full.
    full = windows[1:]
    assert len(full) >= 3
    per = int(1000 / PERIOD_MS)
    for rec, start in zip(full, starts[1:], strict=True):
        assert rec["asset"] == "cell-1"
        # Ticks whose source timestamp falls in [start, start + 1 s): from k0 on, `per` of them.
        k0 = (round(start * 1000) - ready["base"]) // PERIOD_MS
        assert set(rec["signals"]) == {f"s{i}" for i in range(N)}
        for i in range(N):
            st = rec["signals"][f"s{i}"]
            lo = i * 1000 + k0
            assert st["count"] == per, (start, i, st)
            assert (st["min"], st["max"], st["last"]) == (lo, lo + per - 1, lo + per - 1), st
            assert st["mean"] == lo + (per - 1) / 2, st
            assert st.get("bad", 0) == 0 and st.get("uncertain", 0) == 0, st
            last_ts = datetime.fromisoformat(st["last_ts"]).timestamp()
            assert round(last_ts * 1000) == ready["base"] + (k0 + per - 1) * PERIOD_MS, st


async def _run(tmp_path: Path, kit: Any) -> tuple[list[dict], dict, dict]:
    port = kit.free_port()
    proc, ready = await start_server(port, N, PERIOD_MS)
    try:
        with kit.IngestStub() as cloud:
            agent = EdgeAgent(
                _config(kit, tmp_path, ready["endpoint"], cloud.url), base_dir=tmp_path
            )
            stop = asyncio.Event()
            run = asyncio.create_task(agent.run(stop))
            try:
                await kit.wait_until(
                    lambda: len(cloud.of_type("window")) >= 5 or run.done(), 25, "5 windows stored"
                )
                stats = agent.stats()
            finally:
                stop.set()
                await asyncio.wait_for(run, 15)
            return cloud.of_type("window"), stats, ready
    finally:
        proc.kill()  # by the PID we started, whatever happened above
        await proc.wait()
