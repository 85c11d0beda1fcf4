"""Benchmark: cloud ingest records/s end to end (HTTP, one uvicorn worker) into SQLite or PostgreSQL.

Usage: .venv/bin/python bench/cloud_ingest.py --db sqlite:///tmp/bench.db [--records 200000]
       .venv/bin/python bench/cloud_ingest.py --db postgresql://postgres@127.0.0.1:5432/egiz_bench

Bodies are built before the clock starts; the client posts 1,000-record batches from several
connections so the one server worker is never idle. A record is one window summary of one
asset with ``--signals`` signals (stored as one row with the statistics packed). Besides the
wall-clock rate it prints the server process's CPU seconds (from /proc), so a run on a busy
machine still tells what one worker costs per record.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import httpx

from egiz.cloud.services.edges import add_edge
from egiz.cloud.store import open_store

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _manifest(assets: int, signals: int) -> dict:
    return {
        "type": "manifest", "seq": 1, "site": {"id": "bench"}, "hash": "0" * 64,
        "asset_types": [{"name": "pump", "signals": [{"name": f"s{i}", "unit": "degC"}
                                                     for i in range(signals)]}],
        "assets": [{"id": f"a{i}", "type": "pump", "area": "x"} for i in range(assets)],
    }  # fmt: skip


def _bodies(n: int, batch: int, assets: int, signals: int) -> list[bytes]:
    stats = {"count": 10, "min": 1.0, "max": 2.0, "mean": 1.5, "std": 0.1, "last": 1.7}
    bodies, seq = [], 2
    for b in range(0, n, batch):
        recs = []
        for j in range(b, min(n, b + batch)):
            start = (T0 + timedelta(seconds=60 * (j // assets))).isoformat()
            recs.append({"type": "window", "seq": seq, "asset": f"a{j % assets}", "start": start,
                         "length_s": 60.0, "signals": {f"s{i}": stats for i in range(signals)}})  # fmt: skip
            seq += 1
        body = {"edge_id": "bench-edge", "epoch": "e1", "batch_id": f"b{b}",
                "sent_at": T0.isoformat(), "records": recs}  # fmt: skip
        bodies.append(json.dumps(body).encode())
    return bodies


async def _post_all(url: str, token: str, bodies: list[bytes], conns: int) -> None:
    queue = list(reversed(bodies))
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    async with httpx.AsyncClient(timeout=120) as client:

        async def worker() -> None:
            while queue:
                r = await client.post(url, content=queue.pop(), headers=headers)
                r.raise_for_status()
                assert not r.json()["rejected"], r.json()["rejected"][:2]

        await asyncio.gather(*(worker() for _ in range(conns)))


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux /proc)."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()  # noqa: SIM115
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    """Run one measurement and print it as a Markdown table row."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", required=True)
    ap.add_argument("--records", type=int, default=200_000)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--assets", type=int, default=100)
    ap.add_argument("--signals", type=int, default=1)
    ap.add_argument("--conns", type=int, default=4)
    args = ap.parse_args()

    store = open_store(args.db)
    token = add_edge(store, "bench-edge")
    store.close()
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "egiz.cli.main", "cloud", "run", "--db", args.db,
         "--port", str(port), "--log-level", "warning"],
        stdout=subprocess.DEVNULL, env={**os.environ},
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(200):
            try:
                if httpx.get(f"{base}/healthz").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        url = f"{base}/api/v1/ingest"
        first = {"edge_id": "bench-edge", "epoch": "e1", "batch_id": "m", "sent_at": T0.isoformat(),
                 "records": [_manifest(args.assets, args.signals)]}  # fmt: skip
        httpx.post(url, json=first, headers={"Authorization": f"Bearer {token}"}).raise_for_status()
        bodies = _bodies(args.records, args.batch, args.assets, args.signals)
        cpu0, t0 = _cpu_s(server.pid), time.perf_counter()
        asyncio.run(_post_all(url, token, bodies, args.conns))
        dt, cpu = time.perf_counter() - t0, _cpu_s(server.pid) - cpu0
    finally:
        server.terminate()
        server.wait(10)
    backend = args.db.split(":", 1)[0]
    print(f"| {backend} | {args.records:,} | {args.batch} | {args.signals} | {dt:.2f} s "
          f"| {args.records / dt:,.0f} | {args.records * args.signals / dt:,.0f} "
          f"| {cpu:.2f} s | {args.records / cpu:,.0f} |")  # fmt: skip


if __name__ == "__main__":
    main()
