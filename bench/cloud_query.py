"""Benchmark: p95 latency of the asset page API and of a 30-day history query.

Usage: .venv/bin/python bench/cloud_query.py --db sqlite:///tmp/q.db [--assets 100 --signals 20
       --days 1 --window 60]

The dataset is written straight into the store (not through HTTP ingest, which
bench/cloud_ingest.py measures), rolled up, then queried over HTTP through one uvicorn
worker with a user token, as the dashboard does.
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import subprocess
import sys
import time

import httpx
import numpy as np

from egiz.cloud.services.auth import add_user, issue_token
from egiz.cloud.services.rollup import run_rollups
from egiz.cloud.store import WriteSet, open_store
from egiz.cloud.store.base import AssetRow, AssetTypeRow, ShadowRow, SiteRow
from egiz.cloud.store.chunks import make_chunk
from egiz.cloud.store.packing import NONE, STATS


def _fill(
    url: str, assets: int, signals: int, t0: float, days: float, window: float, chunk: int
) -> int:
    """Write the dataset straight into the store, a day per transaction.

    Raw windows are stored as the ingest stores them: in chunks of ``chunk`` records of one
    asset (a 1,000-record uplink batch of 100 assets makes chunks of 10).
    """
    store = open_store(url)
    sig = [f"s{i:02d}" for i in range(signals)]
    atype = json.dumps({"name": "pump", "signals": [{"name": s, "unit": "degC"} for s in sig]})
    ws = WriteSet(edge_id="bench", epoch="e", received_at=t0)
    ws.site = SiteRow("bench", "Bench", "egiz", "bench", "0" * 64, "e", 1, t0)
    ws.asset_types = [AssetTypeRow("bench", "pump", atype)]
    ws.assets = [
        AssetRow("bench", f"a{i:03d}", "pump", f"A{i}", "x", None, "{}") for i in range(assets)
    ]
    store.write(ws)
    n_win = int(days * 86400 / window)
    per_tx = max(1, int(86400 / window))
    names = ",".join(sig)
    rows = 0
    t = time.perf_counter()
    for a in range(assets):
        asset = f"a{a:03d}"
        for k0 in range(0, n_win, per_tx):
            k = np.arange(k0, min(n_win, k0 + per_tx))
            stats = np.zeros((len(k), signals), dtype=STATS)
            stats["count"] = 60
            stats["min"], stats["max"], stats["mean"], stats["std"] = 1.0, 3.0, 2.0, 0.5
            stats["last"] = (2.0 + k % 7)[:, None] + np.arange(signals) / 100
            stats["last_ts"] = NONE
            starts = t0 + k * window
            lengths = np.full(len(k), window)
            chunks = [make_chunk("bench", asset, names, starts[i : i + chunk],
                                 lengths[i : i + chunk], stats[i : i + chunk].tobytes())
                      for i in range(0, len(k), chunk)]  # fmt: skip
            store.write(WriteSet(edge_id="bench", epoch="e", received_at=t0, chunks=chunks))
            rows += len(k) * signals
        last = t0 + (n_win - 1) * window
        shadow = [ShadowRow("bench", asset, s, last, window, 2.0, last + window, 60, 0, 0, 0)
                  for s in sig]  # fmt: skip
        store.write(WriteSet(edge_id="bench", epoch="e", received_at=t0, shadow=shadow))
    print(f"filled {rows:,} signal windows ({n_win * assets:,} records) in "
          f"{time.perf_counter() - t:.1f} s", file=sys.stderr)  # fmt: skip
    t = time.perf_counter()
    while run_rollups(store, 1000):
        pass
    print(f"rollups: {time.perf_counter() - t:.1f} s ({rows / (time.perf_counter() - t):,.0f} "
          "signal windows/s)", file=sys.stderr)  # fmt: skip
    add_user(store, "bench", "bench-password", {"*": "viewer"})
    store.close()
    return rows


def _p95(client: httpx.Client, url: str, params: dict, n: int) -> tuple[float, float]:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        r = client.get(url, params=params)
        times.append(time.perf_counter() - t)
        r.raise_for_status()
    times.sort()
    return statistics.median(times) * 1000, times[int(0.95 * (n - 1))] * 1000


def main() -> None:
    """Fill, serve, measure; print Markdown table rows."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", required=True)
    ap.add_argument("--assets", type=int, default=100)
    ap.add_argument("--signals", type=int, default=20)
    ap.add_argument("--days", type=float, default=1.0)
    ap.add_argument("--window", type=float, default=60.0)
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--chunk", type=int, default=10, help="raw records per stored chunk")
    ap.add_argument("--end", type=float, default=None, help="epoch seconds the dataset ends at")
    ap.add_argument(
        "--reuse",
        action="store_true",
        help="query a database filled by an earlier run with the same sizes",
    )
    args = ap.parse_args()
    # The dataset ends at the last full hour: the server's retention job (raw windows: 30
    # days of wall clock) then leaves it in place, as it would a live fleet's history.
    end = args.end if args.end is not None else time.time() // 3600 * 3600
    t0 = end - args.days * 86400
    if not args.reuse:
        print(f"dataset ends at {end:.0f} (pass --reuse --end {end:.0f} to query it again)",
              file=sys.stderr)  # fmt: skip
        _fill(args.db, args.assets, args.signals, t0, args.days, args.window, args.chunk)
    store = open_store(args.db)
    token, _ = issue_token(store, "bench")
    store.close()
    with socket.socket() as sock:  # a free port, as the tests do
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "egiz.cli.main", "cloud", "run", "--db",
                               args.db, "--port", str(port), "--log-level", "warning"],
                              stdout=subprocess.DEVNULL)  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}) as c:
            for _ in range(100):
                try:
                    c.get("/healthz")
                    break
                except httpx.HTTPError:
                    time.sleep(0.2)
            span = {"start": end - 30 * 86400, "end": end}
            aid = f"bench.a{min(42, args.assets - 1):03d}"
            sid = f"s{min(7, args.signals - 1):02d}"
            rng = {"start": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(span["start"])),
                   "end": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(span["end"]))}  # fmt: skip
            cases = [
                ("asset page `GET /assets/{id}`", f"/api/v1/assets/{aid}", {}),
                ("fleet `GET /assets?latest=true`", "/api/v1/assets", {"latest": True}),
                ("30-day history, 1 signal, auto (1 h)", f"/api/v1/assets/{aid}/history",
                 {**rng, "signal": sid, "resolution": "auto"}),
                ("30-day history, 1 signal, 1 min", f"/api/v1/assets/{aid}/history",
                 {**rng, "signal": sid, "resolution": "1m"}),
                ("1-day history, 1 signal, raw", f"/api/v1/assets/{aid}/history",
                 {"start": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(end - 86400)),
                  "end": rng["end"],
                  "signal": sid, "resolution": "raw"}),
            ]  # fmt: skip
            for label, path, params in cases:
                med, p95 = _p95(c, path, params, args.n)
                count = c.get(path, params=params).json().get("count")
                print(f"| {args.db.split(':', 1)[0]} | {label} | {count} | {med:.1f} | {p95:.1f} |")
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    main()
