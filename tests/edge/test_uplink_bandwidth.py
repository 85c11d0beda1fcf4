"""The uplink's bandwidth cap: a satellite or metered link gets at most the bytes it was given.

A real HTTP server on loopback records when each request body arrived and how large it was;
the uplink drains an outbox backlog through it with and without a cap. The check is an upper
bound (bytes sent before each request ≤ cap × time elapsed + one batch), so a slow machine can
only make it easier to hold, never flaky; the uncapped control run shows the bound bites.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from egiz.contracts import UplinkConfig, to_ranges
from egiz.edge.outbox import LANE_SUMMARY, Item, Outbox
from egiz.edge.uplink import Uplink
from egiz.edge.window import iso


class RecordingIngest:
    """Answers every batch as stored and logs (arrival monotonic time, body bytes)."""

    def __init__(self) -> None:
        self.arrivals: list[tuple[float, int]] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_a: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                recorder.arrivals.append((time.monotonic(), len(body)))
                import gzip

                batch = json.loads(gzip.decompress(body))
                doc = {
                    "epoch": batch["epoch"],
                    "stored": to_ranges([r["seq"] for r in batch["records"]]),
                    "rejected": [],
                    "server_time": datetime.now(UTC).isoformat(),
                }
                data = json.dumps(doc).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def backlog(path: Path, n: int) -> Outbox:
    """An outbox holding ``n`` window summaries with incompressible-ish content."""
    ob = Outbox(path, 10**9, 10**9)
    rng = __import__("random").Random(7)
    items = []
    for i in range(n):
        start = 1_800_000_000.0 + 10 * i
        stats = {"count": 100, "mean": rng.random(), "std": rng.random(), "last": rng.random()}
        body = {
            "type": "window",
            "asset": "pump-1",
            "start": iso(start),
            "length_s": 10.0,
            "signals": {f"s{k}": dict(stats, min=rng.random()) for k in range(8)},
        }
        items.append(Item(LANE_SUMMARY, body, asset="pump-1", data_ts=start, span=10.0))
    ob.add(items)
    return ob


async def drain_for(ob: Outbox, url: str, cap: float | None, seconds: float) -> Uplink:
    cfg = UplinkConfig(
        url=url,
        edge_id="bw-edge",
        token="t",
        max_batch_records=20,
        interval_s=0.05,
        bandwidth_cap_bytes_s=cap,
    )
    up = Uplink(cfg, ob, token="t")
    stop = asyncio.Event()
    task = asyncio.create_task(up.run(stop))
    await asyncio.sleep(seconds)
    stop.set()
    await task
    return up


def test_bandwidth_cap_bounds_bytes_over_time(tmp_path: Path) -> None:
    cap = 8_000.0  # bytes/s of request body (gzip), a thin satellite share
    seconds = 4.0
    server = RecordingIngest()
    try:
        asyncio.run(drain_for(backlog(tmp_path / "a.db", 2_000), server.url, cap, seconds))
        capped = list(server.arrivals)
        server.arrivals.clear()
        asyncio.run(drain_for(backlog(tmp_path / "b.db", 2_000), server.url, None, seconds))
        free = list(server.arrivals)
    finally:
        server.close()
    assert len(capped) >= 3, capped  # the cap slows the link, it does not stop it
    biggest = max(n for _t, n in capped)
    t0 = capped[0][0]
    sent_before = 0
    for t, n in capped:
        # Everything sent before this request fits in the budget the cap allowed until now.
        assert sent_before <= cap * (t - t0) + biggest, (sent_before, t - t0)
        sent_before += n
    total_capped = sum(n for _t, n in capped)
    total_free = sum(n for _t, n in free)
    # Capped: about cap × duration (the stop's last drain adds at most a few batches).
    assert total_capped <= cap * (seconds + 5.0) + biggest
    # The control run moves far more, so the bound above is the cap's doing.
    assert total_free > 3 * total_capped, (total_free, total_capped)
