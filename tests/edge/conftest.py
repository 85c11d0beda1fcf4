"""Peers for edge tests: a real asyncua server, a real HTTP ingest endpoint, site configs.

The ingest endpoint here is a deliberately tiny *real* HTTP server (stdlib, own thread) that
follows the uplink contract; it stands in for `egiz.cloud` until the cloud's ingest lands,
after which the end-to-end tests run against uvicorn + egiz.cloud.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
import math
import socket
import threading
import time
import types
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from asyncua import Server, ua
from pydantic import ValidationError

from egiz.contracts import RECORD_ADAPTER, SiteConfig, UplinkBatch, to_ranges

TOKEN = "test-edge-token"


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class IngestStub:
    """A real HTTP ingest endpoint: validates each record, stores by (epoch, seq), answers."""

    def __init__(self, reject: Callable[[dict[str, Any]], str | None] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.records: dict[tuple[str, int], dict[str, Any]] = {}
        self.batches = 0
        self.down = False
        self.delay_s = 0.0  # answer this much later (to catch a killed agent mid-upload)
        self.inflight = 0
        self.reject = reject
        self.lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_a: Any) -> None:
                pass

            def do_POST(self) -> None:
                with stub.lock:
                    stub.inflight += 1
                try:
                    self._post()
                finally:
                    with stub.lock:
                        stub.inflight -= 1

            def _post(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if stub.delay_s:
                    time.sleep(stub.delay_s)
                if stub.down:
                    return self._send(503, {"detail": "down"})
                if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                    return self._send(401, {"detail": "bad token"})
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                try:
                    batch = UplinkBatch.model_validate_json(body)
                except ValidationError as err:
                    return self._send(422, {"detail": str(err)})
                stored, rejected = [], []
                with stub.lock:
                    stub.batches += 1
                    for i, rec in enumerate(batch.records):
                        why = stub.reject(rec) if stub.reject else None
                        if why is None:
                            try:
                                RECORD_ADAPTER.validate_python(rec)
                            except ValidationError as err:
                                why = str(err.errors()[0]["msg"])
                        if why:
                            rejected.append({"index": i, "seq": rec.get("seq"), "reason": why})
                            continue
                        stub.records.setdefault((batch.epoch, rec["seq"]), rec)
                        stored.append(rec["seq"])
                self._send(
                    200,
                    {
                        "epoch": batch.epoch,
                        "stored": to_ranges(stored),
                        "rejected": rejected,
                        "server_time": datetime.now(UTC).isoformat(),
                    },
                )

            def _send(self, code: int, doc: dict[str, Any]) -> None:
                data = json.dumps(doc).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        """Return the stored records of one type, by seq."""
        with self.lock:
            return [r for _k, r in sorted(self.records.items()) if r["type"] == kind]

    def __enter__(self) -> IngestStub:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def ingest() -> Any:
    """A running ingest stub."""
    with IngestStub() as stub:
        yield stub


@contextlib.asynccontextmanager
async def opcua_server(port: int, names: list[str], history: bool = False) -> AsyncIterator[Any]:
    """A real asyncua server with Double variables ``ns=2;s=<name>`` under Objects."""
    server = Server()
    await server.init()
    server.set_endpoint(f"opc.tcp://127.0.0.1:{port}/egiz/")
    idx = await server.register_namespace("urn:egiz:test")
    nodes = {}
    for name in names:
        nodes[name] = await server.nodes.objects.add_variable(
            ua.NodeId(name, idx), ua.QualifiedName(name, idx), 0.0, ua.VariantType.Double
        )
    async with server:
        if history:
            for n in nodes.values():
                await server.historize_node_data_change(n, period=None, count=100_000)
        yield server, nodes


class PlantServer:
    """An asyncua server that can be stopped and started again on the same port (a PLC reboot).

    ``served`` logs every (name, ts, value) written while the server was up: the oracle.
    """

    def __init__(self, port: int, names: list[str]) -> None:
        self.port = port
        self.names = names
        self.server: Server | None = None
        self.nodes: dict[str, Any] = {}
        self.last: dict[str, tuple[float, float]] = {}
        self.served: list[tuple[str, float, float]] = []

    async def start(self) -> None:
        server = Server()
        await server.init()
        server.set_endpoint(f"opc.tcp://127.0.0.1:{self.port}/egiz/")
        idx = await server.register_namespace("urn:egiz:test")
        for name in self.names:
            self.nodes[name] = await server.nodes.objects.add_variable(
                ua.NodeId(name, idx), ua.QualifiedName(name, idx), 0.0, ua.VariantType.Double
            )
            if name in self.last:  # a rebooted PLC serves its last value, not a fresh zero
                ts, value = self.last[name]
                await write(self.nodes[name], value, ts)
        await server.start()
        # The PLC keeps history of what it served (in memory: a reboot starts it afresh).
        await server.historize_node_data_change(
            list(self.nodes.values()), period=timedelta(days=3650), count=1_000_000
        )
        self.server = server

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.stop()
            self.server = None

    async def write(self, name: str, value: float, ts: float) -> None:
        await write(self.nodes[name], value, ts)
        self.last[name] = (ts, value)
        self.served.append((name, ts, value))


async def write(node: Any, value: float, ts: float, status: int = ua.StatusCodes.Good) -> None:
    """Write a value with its source timestamp and status, as a PLC would."""
    dt = datetime.fromtimestamp(ts, UTC)
    await node.write_value(
        ua.DataValue(
            ua.Variant(value, ua.VariantType.Double),
            ua.StatusCode(status),
            SourceTimestamp=dt,
            ServerTimestamp=dt,
        )
    )


PUMP = {
    "name": "pump",
    "signals": [
        {"name": "flow", "unit": "m3/h", "kind": "flow", "range": [0, 500]},
        {
            "name": "bearing_temp",
            "unit": "degC",
            "kind": "temperature",
            "range": [-40, 200],
            "limits": {"hi": 120, "deadband": 5},
        },
    ],
}
MOTOR = {
    "name": "motor",
    "signals": [
        {"name": "current", "unit": "A", "range": [0, 400]},
        {"name": "winding_temp", "unit": "degC", "range": [-40, 220]},
    ],
}


def site_config(tmp_path: Any, sources: list[dict[str, Any]], **over: Any) -> SiteConfig:
    """A two-asset site (pump-1 over OPC UA, motor-1 over MQTT) with the given sources."""
    doc: dict[str, Any] = {
        "site": {"id": "test"},
        "asset_types": [PUMP, MOTOR],
        "assets": [
            {"id": "pump-1", "type": "pump", "area": "pumping"},
            {"id": "motor-1", "type": "motor", "area": "pumping"},
        ],
        "sources": sources,
        "window": {"length_s": 1.0, "lateness_s": 0.5},
        "uplink": {
            "url": None,
            "edge_id": "test-edge",
            "token": TOKEN,
            "interval_s": 0.2,
            "heartbeat_interval_s": 1.0,
            "backoff": {"initial_s": 0.1, "max_s": 0.5},
        },
        "outbox": {"path": str(tmp_path / "outbox.db")},
        "status": {"port": 0},
    }
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(doc.get(key), dict):
            doc[key] = {**doc[key], **value}
        else:
            doc[key] = value
    return SiteConfig.model_validate(doc)


def expected_windows(
    served: dict[tuple[str, str], list[tuple[float, float]]], length: float
) -> dict[tuple[str, float, str], dict[str, float]]:
    """Per (asset, window start, signal): docs/edge.md's statistics recomputed from a log."""
    groups: dict[tuple[str, float, str], dict[float, float]] = {}
    for (asset, signal), rows in served.items():
        for ts, v in rows:
            k = math.floor(ts / length)
            groups.setdefault((asset, k * length, signal), {})[ts] = v  # same ts: last wins
    out = {}
    for key, by_ts in groups.items():
        vals = [by_ts[t] for t in sorted(by_ts)]
        mean = sum(vals) / len(vals)
        out[key] = {
            "count": len(vals),
            "min": min(vals),
            "max": max(vals),
            "mean": mean,
            "std": math.sqrt(sum((v - mean) ** 2 for v in vals) / len(vals)),
            "last": vals[-1],
        }
    return out


def stored_windows(records: list[dict[str, Any]]) -> dict[tuple[str, float, str], dict]:
    """Index stored window records by (asset, start, signal); a duplicate fails the test."""
    got: dict[tuple[str, float, str], dict] = {}
    for rec in records:
        start = datetime.fromisoformat(rec["start"]).timestamp()
        for sig, st in rec["signals"].items():
            key = (rec["asset"], start, sig)
            assert key not in got, f"window {key} stored twice"
            got[key] = st
    return got


def assert_windows_match(got: dict, want: dict, keys: Any = None) -> int:
    """Every wanted window is stored with the same statistics; returns how many compared."""
    n = 0
    for key in sorted(want if keys is None else keys):
        assert key in got, f"window {key} missing"
        g, w = got[key], want[key]
        assert g["count"] == w["count"], (key, g["count"], w["count"])
        for f in ("min", "max", "mean", "std", "last"):
            assert math.isclose(g[f], w[f], rel_tol=1e-9, abs_tol=1e-9), (key, f, g[f], w[f])
        n += 1
    return n


async def wait_until(cond: Callable[[], Any], limit_s: float, what: str) -> float:
    """Poll ``cond`` until true; fail after ``limit_s``; return the seconds it took."""
    t0 = time.monotonic()
    while not cond():
        if time.monotonic() - t0 > limit_s:
            raise AssertionError(f"timed out after {limit_s} s waiting for {what}")
        await asyncio.sleep(0.02)
    return time.monotonic() - t0


@pytest.fixture
def kit() -> types.SimpleNamespace:
    """The helpers above (importlib mode cannot import conftest from a test module)."""
    return types.SimpleNamespace(
        IngestStub=IngestStub,
        opcua_server=opcua_server,
        PlantServer=PlantServer,
        write=write,
        site_config=site_config,
        free_port=free_port,
        TOKEN=TOKEN,
        expected_windows=expected_windows,
        stored_windows=stored_windows,
        assert_windows_match=assert_windows_match,
        wait_until=wait_until,
    )
