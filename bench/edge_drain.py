"""Backlog drain after a 24 h outage: how much faster than real time the uplink catches up.

Fills an outbox with 24 h of 10 s window summaries, then lets the uplink drain it into a real
HTTP ingest endpoint on loopback (stdlib server that validates every record with the
contracts and answers the stored ranges, like the cloud).

    .venv/bin/python bench/edge_drain.py [--assets 10] [--signals 5]
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import tempfile
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from egiz.contracts import RECORD_ADAPTER, UplinkBatch, UplinkConfig, to_ranges
from egiz.edge.outbox import LANE_SUMMARY, Item, Outbox
from egiz.edge.uplink import Uplink
from egiz.edge.window import iso

T0 = 1_800_000_000.0


class Ingest(BaseHTTPRequestHandler):
    def log_message(self, *_a: object) -> None:
        pass

    def do_POST(self) -> None:
        body = gzip.decompress(self.rfile.read(int(self.headers["Content-Length"])))
        batch = UplinkBatch.model_validate_json(body)
        for rec in batch.records:
            RECORD_ADAPTER.validate_python(rec)
        data = json.dumps(
            {
                "epoch": batch.epoch,
                "stored": to_ranges([r["seq"] for r in batch.records]),
                "server_time": datetime.now(UTC).isoformat(),
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--assets", type=int, default=10)
    p.add_argument("--signals", type=int, default=5)
    p.add_argument("--hours", type=float, default=24.0)
    p.add_argument("--batch", type=int, default=1000)
    a = p.parse_args()
    tmp = Path(tempfile.mkdtemp())
    ob = Outbox(tmp / "ob.db", 2**34, 10**9)
    windows = int(a.hours * 360)
    sig = {
        f"s{j}": {
            "count": 100,
            "bad": 0,
            "uncertain": 0,
            "out_of_range": 0,
            "min": 1.5,
            "max": 9.25,
            "mean": 5.125,
            "std": 1.0625,
            "last": 7.5,
            "last_ts": "2027-01-15T08:00:09.900000Z",
        }
        for j in range(a.signals)
    }
    t = time.perf_counter()
    for w0 in range(0, windows, 500):  # what the agent commits over hours, in few transactions
        ob.add(
            Item(
                LANE_SUMMARY,
                {
                    "type": "window",
                    "asset": f"a{i}",
                    "start": iso(T0 + w * 10),
                    "length_s": 10.0,
                    "signals": sig,
                },
                asset=f"a{i}",
                data_ts=T0 + w * 10,
                span=10.0,
            )
            for w in range(w0, min(windows, w0 + 500))
            for i in range(a.assets)
        )
    fill = time.perf_counter() - t
    depth = ob.depth()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Ingest)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    cfg = UplinkConfig(
        url=f"http://127.0.0.1:{server.server_port}",
        edge_id="bench",
        max_batch_records=a.batch,
        heartbeat_interval_s=30,
    )
    up = Uplink(cfg, ob, token="x")

    async def drain() -> float:
        stop = asyncio.Event()
        task = asyncio.create_task(up.run(stop))
        t0 = time.perf_counter()
        while ob.depth() > 0:  # noqa: ASYNC110 (the outbox is a database, not an event)
            await asyncio.sleep(0.05)
        took = time.perf_counter() - t0
        stop.set()
        await task
        return took

    took = asyncio.run(drain())
    server.shutdown()
    print(
        f"{depth:,} records ({a.assets} assets × {windows:,} windows of {a.signals} signals, "
        f"{a.hours:g} h) filled in {fill:.1f} s, drained in {took:.1f} s: "
        f"{depth / took:,.0f} records/s, {a.hours * 3600 / took:,.0f}× real time; "
        f"{up.bytes_sent / 1e6:.1f} MB sent (gzip)"
    )


if __name__ == "__main__":
    main()
