"""OPC UA values/s received and processed (normalize → window → outbox) by one EdgeAgent.

The server is node-opcua (tests/peers/node-opcua/server.js) in its own process, minimum
sampling interval 0 (every write reported) and minimum publishing interval 5 ms; it writes all
``--nodes`` variables every ``--period-ms``. The agent runs offline (outbox only, no uplink).
``--raw`` measures instead a bare asyncua client draining the same subscriptions with
``async for`` (the reference ceiling of the client library).

    (cd tests/peers/node-opcua && npm ci)
    .venv/bin/python bench/edge_opcua_node.py [--nodes 2000] [--period-ms 10] [--seconds 15]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import tempfile
import time
from pathlib import Path

from asyncua import Client, ua

from egiz.contracts import SiteConfig
from egiz.edge.agent import EdgeAgent

PEER = Path(__file__).resolve().parents[1] / "tests" / "peers" / "node-opcua"
PER_ASSET = 100


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process (Linux /proc)."""
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()  # noqa: SIM115
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def site(endpoint: str, n: int, tmp: Path, pub_ms: float) -> SiteConfig:
    assets = (n + PER_ASSET - 1) // PER_ASSET
    signals = [{"name": f"s{j}", "unit": "m3/h"} for j in range(PER_ASSET)]
    nodes = [
        {"node": f"ns=1;s=sig-{i}", "asset": f"a{i // PER_ASSET}", "signal": f"s{i % PER_ASSET}"}
        for i in range(n)
    ]
    return SiteConfig.model_validate(
        {
            "site": {"id": "bench"},
            "asset_types": [{"name": "cell", "signals": signals}],
            "assets": [{"id": f"a{k}", "type": "cell", "area": "x"} for k in range(assets)],
            "sources": [
                {
                    "kind": "opcua",
                    "name": "node",
                    "endpoint": endpoint,
                    "backfill": False,
                    "subscription": {"publishing_interval_ms": pub_ms, "queue_size": 1000},
                    "nodes": nodes,
                }
            ],
            "window": {"length_s": 1.0, "lateness_s": 1.0},
            "uplink": {"url": None, "edge_id": "bench", "token": "x"},
            "outbox": {"path": str(tmp / "outbox.db")},
            "status": {"port": 0},
        }
    )


async def run_agent(endpoint: str, a: argparse.Namespace, tmp: Path) -> tuple[int, int, float]:
    agent = EdgeAgent(site(endpoint, a.nodes, tmp, a.pub_ms), base_dir=tmp)
    stop = asyncio.Event()
    task = asyncio.create_task(agent.run(stop))
    for _ in range(600):
        if agent.sources and agent.sources[0].state == "connected":
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(a.warmup)

    def processed() -> int:
        return int(sum(agent._counts.values()))  # samples past normalize, into the windower

    s0, p0, w0, t0 = (
        agent.sources[0].samples,
        processed(),
        agent.stats()["windows_made"],
        time.time(),
    )
    c0 = time.process_time()
    await asyncio.sleep(a.seconds)
    dt = time.time() - t0
    s1, p1, w1 = agent.sources[0].samples, processed(), agent.stats()["windows_made"]
    cpu = time.process_time() - c0
    print(f"agent: windows made {w1 - w0}, python CPU {cpu / dt:.0%} of one core")
    stop.set()
    await task
    return s1 - s0, p1 - p0, dt


async def run_raw(endpoint: str, a: argparse.Namespace) -> tuple[int, int, float]:
    async with Client(endpoint, timeout=10) as c:
        count = 0
        subs = []
        for lo in range(0, a.nodes, 1000):
            params = ua.CreateSubscriptionParameters(
                RequestedPublishingInterval=a.pub_ms, MaxNotificationsPerPublish=10_000
            )
            sub = await c.create_subscription(params, queue_maxsize=200_000)
            nodes = [c.get_node(f"ns=1;s=sig-{i}") for i in range(lo, min(a.nodes, lo + 1000))]
            await sub.subscribe_data_change(nodes, queuesize=1000, sampling_interval=0)
            subs.append(sub)

        async def drain(sub) -> None:
            nonlocal count
            async for _ev in sub:
                count += 1

        tasks = [asyncio.create_task(drain(s)) for s in subs]
        await asyncio.sleep(a.warmup)
        c0, t0 = count, time.time()
        await asyncio.sleep(a.seconds)
        n, dt = count - c0, time.time() - t0
        for t in tasks:
            t.cancel()
        return n, n, dt


async def tick(endpoint: str) -> float:
    """The server's current tick: the value of sig-0 (value = i * 1000 + tick)."""
    async with Client(endpoint, timeout=10) as c:
        return float(await c.get_node("ns=1;s=sig-0").read_value())


async def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--nodes", type=int, default=2000)
    p.add_argument("--period-ms", type=int, default=10)
    p.add_argument("--burst", type=int, default=1, help="ticks written per server timer callback")
    p.add_argument("--pub-ms", type=float, default=20.0, help="requested publishing interval")
    p.add_argument("--seconds", type=float, default=15.0)
    p.add_argument("--warmup", type=float, default=3.0)
    p.add_argument("--raw", action="store_true", help="bare asyncua `async for`, no agent")
    a = p.parse_args()
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        "node",
        str(PEER / "server.js"),
        str(port),
        str(a.nodes),
        str(a.period_ms),
        str(a.burst),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        while not (line := await asyncio.wait_for(proc.stdout.readline(), 60)).startswith(
            b"EGIZ-READY"
        ):
            assert line, "server exited"
        endpoint = f"opc.tcp://127.0.0.1:{port}/egiz"
        offered = a.nodes * 1000 / a.period_ms
        n0, p0 = cpu_s(proc.pid), time.process_time()
        k0, tk0 = await tick(endpoint), time.time()
        with tempfile.TemporaryDirectory() as tmp:
            if a.raw:
                got, done, dt = await run_raw(endpoint, a)
            else:
                got, done, dt = await run_agent(endpoint, a, Path(tmp))
        produced = (await tick(endpoint) - k0) * a.nodes / (time.time() - tk0)
        node_cpu = (cpu_s(proc.pid) - n0) / (dt + a.warmup)
        py_cpu = (time.process_time() - p0) / (dt + a.warmup)
        print(
            f"{'asyncua async-for' if a.raw else 'EdgeAgent'}: {a.nodes} nodes every "
            f"{a.period_ms} ms (offered {offered:,.0f}/s, produced {produced:,.0f}/s), {dt:.1f} s measured: "
            f"received {got / dt:,.0f}/s, processed {done / dt:,.0f}/s; "
            f"CPU (share of one core) node server ~{node_cpu:.0%}, "
            f"python ~{py_cpu:.0%}; load average {os.getloadavg()[0]:.1f}"
        )
    finally:
        proc.kill()
        await proc.wait()


if __name__ == "__main__":
    asyncio.run(main())
