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

import numpy as np
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


# -- the real simulator and the real cloud: peers of the fault tests ----------------------------
#
# The fault tests run `egiz.simulators.SimulatorService` (which logs every value it serves to
# truth/served.jsonl: the oracle) and `egiz.cloud` under uvicorn (what it stored is what is
# judged), optionally both over TLS: HTTPS with a custom CA and OPC UA Basic256Sha256
# SignAndEncrypt, with certificates from `egiz certs create`.

FAULT_SITE, FAULT_EDGE = "faults", "faults-edge"
B256 = "http://opcfoundation.org/UA/SecurityPolicy#Basic256Sha256"
_QUALITY = {"good": 0, "uncertain": 1, "bad": 2}

# Two OPC UA pumps at 1 Hz; a spiking vibration sensor on pump-1 and a noisy bearing probe on
# pump-2 raise and clear limit alarms all through a run (alarm events to account for).
FAULT_SCENARIO = """\
version: 1
name: faults
description: Two pumps over OPC UA for the edge fault tests.
site: {id: faults, name: Fault site, enterprise: egiz}
seed: 11
step_s: 1.0
assets:
  - id: pump-1
    type: centrifugal_pump
    area: pumping
    protocol: opcua
    params: {rated_flow: 120, rated_head: 50, speed_setpoint: 1480, valve_setpoint: 85}
    profile: {kind: batch, period_s: 600, on_fraction: 0.7, on_level: 1.0, off_level: 0.7}
  - id: pump-2
    type: centrifugal_pump
    area: pumping
    protocol: opcua
    params: {rated_flow: 120, rated_head: 50, speed_setpoint: 1450, valve_setpoint: 80}
"""


def fault_scenario(workdir: Any) -> Any:
    """Write the fault tests' scenario YAML into ``workdir``; return its path."""
    path = workdir / "faults.yaml"
    path.write_text(FAULT_SCENARIO)
    return path


class FaultCloud:
    """`egiz.cloud` under uvicorn on one port that ``down()``/``up()`` cut and restore."""

    def __init__(self, workdir: Any, certs: Any | None) -> None:
        from egiz.cloud.services.edges import add_edge
        from egiz.cloud.store import open_store

        self.db = workdir / "cloud.db"
        self.store = open_store(f"sqlite:///{self.db}")
        self.token = add_edge(self.store, FAULT_EDGE, site=FAULT_SITE)
        self.certs = certs
        self.port = free_port()
        self.url = f"{'https' if certs else 'http'}://127.0.0.1:{self.port}"
        self.server: Any = None
        self.task: asyncio.Task | None = None

    async def up(self) -> None:
        import uvicorn

        from egiz.cloud.app import create_app
        from egiz.cloud.config import CloudSettings

        app = create_app(CloudSettings(db_url=self.store.url), store=self.store)
        tls = {}
        if self.certs:
            tls = {"ssl_certfile": str(self.certs / "cloud.pem"),
                   "ssl_keyfile": str(self.certs / "cloud.key.pem")}  # fmt: skip
        cfg = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", **tls)
        self.server = uvicorn.Server(cfg)
        self.server.capture_signals = contextlib.nullcontext  # the test owns the signals
        self.task = asyncio.create_task(self.server.serve())
        while not self.server.started:
            assert not self.task.done(), "the cloud did not start"
            await asyncio.sleep(0.05)

    async def down(self) -> None:
        if self.task is not None and not self.task.done():
            self.server.should_exit = True
            done, _ = await asyncio.wait({self.task}, timeout=10)
            if not done:
                self.server.force_exit = True
                await self.task
        self.task = None

    def _rows(self, sql: str, args: tuple = ()) -> list[tuple]:
        import sqlite3

        with contextlib.closing(sqlite3.connect(f"file:{self.db}?mode=ro", uri=True)) as db:
            return db.execute(sql, args).fetchall()

    def windows(self) -> dict[tuple[str, float, str], dict[str, float]]:
        """Every raw window the cloud stored: (asset, start, signal) -> statistics (read
        through the store's own query, whatever its table layout)."""
        out = {}
        for asset in ("pump-1", "pump-2"):
            for r in self.store.windows(FAULT_SITE, asset, None, None, None, 10**7):
                out[(r.asset, r.start, r.signal)] = {
                    "count": r.count, "bad": r.bad, "min": r.min, "max": r.max,
                    "mean": r.mean, "std": r.std, "last": r.last,
                }  # fmt: skip
        return out

    def ingested(self, kind: str) -> int:
        """How many records of ``kind`` the cloud accepted as new (one per (epoch, seq))."""
        rows = self._rows(
            "SELECT COALESCE(SUM(hi - lo + 1), 0) FROM ingested_ranges WHERE kind = ?", (kind,)
        )
        return int(rows[0][0])

    def epochs(self) -> set[str]:
        """The outbox epochs the cloud has seen records of."""
        return {r[0] for r in self._rows("SELECT DISTINCT epoch FROM ingested_ranges")}

    def events(self, *kinds: str) -> list[dict[str, Any]]:
        """Stored event bodies of the given kinds (one per stored record)."""
        rows = [r for k in kinds for r in self.store.events(FAULT_SITE, None, 10**7, k)]
        return [json.loads(r.body) for r in sorted(rows, key=lambda r: (r.epoch, r.seq))]

    def close(self) -> None:
        self.store.close()


def tls_certs(workdir: Any) -> Any:
    """`egiz certs create` for the edge, the simulator and the cloud, plus a trust dir."""
    from egiz.cli.certs import create

    certs = workdir / "certs"
    create(certs, ("edge", "simulator", "cloud"))
    (certs / "trusted").mkdir()
    (certs / "trusted" / "ca.pem").write_bytes((certs / "ca.pem").read_bytes())
    return certs


def simulator(workdir: Any, certs: Any | None, speed: float, **kw: Any) -> Any:
    """The fault scenario's SimulatorService (not started), logging to ``workdir/truth``."""
    from egiz.simulators import SimulatorService, load_scenario

    security = None
    if certs:
        security = {"certificate": str(certs / "simulator.pem"),
                    "private_key": str(certs / "simulator.key.pem"),
                    "ca_dir": str(certs / "trusted")}  # fmt: skip
    return SimulatorService(
        load_scenario(fault_scenario(workdir)),
        opcua_port=free_port(),
        mqtt_url=None,
        speed=speed,
        truth_dir=workdir / "truth",
        opcua_security=security,
        **kw,
    )


def fault_site_doc(
    workdir: Any, sim: Any, cloud: FaultCloud, window_s: float, **uplink: Any
) -> dict[str, Any]:
    """The edge's site.yaml document for the fault scenario (TLS on when the cloud has certs)."""
    from egiz.simulators.siteconfig import site_config as sim_site_config

    doc = sim_site_config(
        sim.scenario,
        opcua_endpoint=sim.opcua_endpoint,
        cloud_url=cloud.url,
        edge_id=FAULT_EDGE,
        token=cloud.token,
        window_s=window_s,
    )
    (src,) = doc["sources"]
    src["subscription"] = {"publishing_interval_ms": 100, "queue_size": 2000}
    certs = cloud.certs
    if certs:
        src["security"] = {"policy": "Basic256Sha256", "mode": "SignAndEncrypt",
                           "certificate": str(certs / "edge.pem"),
                           "private_key": str(certs / "edge.key.pem"),
                           "server_certificate": str(certs / "simulator.pem")}  # fmt: skip
        doc["uplink"]["ca_file"] = str(certs / "ca.pem")
    doc["window"]["lateness_s"] = min(2.0, window_s / 2)
    doc["outbox"] = {"path": str(workdir / "outbox.db")}
    doc["status"] = {"port": 0}
    backoff = {"initial_s": 0.2, "max_s": 2.0}
    doc["uplink"].update({"interval_s": 0.2, "heartbeat_interval_s": 1.0, "backoff": backoff})
    doc["uplink"].update(uplink)
    return doc


def served_samples(truth_dir: Any) -> dict[tuple[str, str], list[tuple[float, float, int]]]:
    """The simulator's served-value log: (asset, signal) -> [(ts, value, quality)] as served."""
    out: dict[tuple[str, str], list[tuple[float, float, int]]] = {}
    prefix = FAULT_SITE + "."
    with open(truth_dir / "served.jsonl", encoding="utf-8") as fh:
        for line in fh:
            try:
                row = json.loads(line)
            except ValueError:  # the line the simulator is writing right now
                continue
            ts = datetime.fromisoformat(row["ts"].replace("Z", "+00:00")).timestamp()
            value = math.nan if row["value"] is None else float(row["value"])
            out.setdefault((row["asset"].removeprefix(prefix), row["signal"]), []).append(
                (ts, value, _QUALITY[row["status"]])
            )
    return out


def served_windows(
    samples: dict[tuple[str, str], list[tuple[float, float, int]]],
    length: float,
    lo: float,
    hi: float,
) -> dict[tuple[str, float, str], dict[str, float]]:
    """The windows that must exist in [lo, hi), with docs/edge.md's statistics, from the log."""
    out = {}
    for (asset, signal), rows in samples.items():
        arr = np.array(rows, dtype=float).reshape(-1, 3)
        ts, val, q = arr[:, 0], arr[:, 1], arr[:, 2]
        keep = (ts >= lo) & (ts < hi)
        ts, val, q = ts[keep], val[keep], q[keep]
        k = np.floor(ts / length)
        for kk in np.unique(k):
            m = k == kk
            good = m & (q != 2) & ~np.isnan(val)
            stats: dict[str, float] = {"count": int(m.sum()), "bad": int((m & (q == 2)).sum())}
            if good.any():
                v = val[good]
                stats |= {"min": float(v.min()), "max": float(v.max()), "mean": float(v.mean()),
                          "std": float(v.std()), "last": float(v[np.argmax(ts[good])])}  # fmt: skip
            out[(asset, float(kk * length), signal)] = stats
    return out


async def wait_stored(cloud: FaultCloud, want: dict, limit_s: float) -> None:
    """Wait until the cloud holds every wanted window; on timeout, name what is missing."""
    try:
        await wait_until(lambda: set(want) <= set(cloud.windows()), limit_s, "every window")
    except AssertionError:
        missing = sorted(set(want) - set(cloud.windows()))
        starts = sorted({(a, s) for a, s, _g in missing})
        raise AssertionError(
            f"{len(missing)} signal windows never reached the cloud in {limit_s} s; "
            f"(asset, start) {starts[:8]}{' ...' if len(starts) > 8 else ''}"
        ) from None


def compare_windows(got: dict, want: dict) -> int:
    """Every wanted window stored with the log's statistics, nothing stored beyond them."""
    missing = sorted(set(want) - set(got))
    assert not missing, f"{len(missing)} windows lost, first {missing[:5]}"
    extra = sorted(set(got) - set(want))
    assert not extra, f"{len(extra)} windows stored that the log does not have: {extra[:5]}"
    wrong = []
    for key, w in sorted(want.items()):
        g = got[key]
        same = (g["count"], g["bad"]) == (w["count"], w["bad"])
        same = same and all(
            math.isclose(g[f], w[f], rel_tol=1e-9, abs_tol=1e-9)
            for f in ("min", "max", "mean", "last")
            if f in w
        )
        if "std" in w:
            same = same and math.isclose(g["std"], w["std"], rel_tol=1e-6, abs_tol=1e-9)
        if not same:
            wrong.append((key, {k: g[k] for k in ("count", "bad", "mean")},
                          {k: w.get(k) for k in ("count", "bad", "mean")}))  # fmt: skip
    assert not wrong, f"{len(wrong)} windows differ from the log (got, want): {wrong[:4]}"
    return len(want)


def alarm_oracle(
    config: SiteConfig, samples: dict[tuple[str, str], list[tuple[float, float, int]]]
) -> list[tuple[str, str, str, str, float]]:
    """The alarm raise/clear events the site's limits give on the served log (edge/alarms.py's
    pure evaluation over every served sample): (kind, asset, signal, limit, ts), by time."""
    from egiz.edge.alarms import AlarmEngine
    from egiz.edge.normalize import Catalog, Normalized

    catalog = Catalog.from_site(config)
    engine = AlarmEngine(config, catalog)
    cols: list[list[float]] = [[], [], [], []]
    for (asset, signal), rows in samples.items():
        sid = catalog.index.get((asset, signal))
        if sid is None:
            continue
        for ts, v, q in rows:
            for col, x in zip(cols, (sid, ts, v, q), strict=True):
                col.append(x)
    batch = Normalized(
        np.array(cols[0], dtype=np.int32),
        np.array(cols[1], dtype=np.float64),
        np.array(cols[2], dtype=np.float64),
        np.array(cols[3], dtype=np.uint8),
        np.zeros(len(cols[0]), dtype=bool),
    )
    return sorted((alarm_key(e) for e in engine.update(batch)), key=lambda e: e[-1])


def alarm_key(body: dict[str, Any]) -> tuple[str, str, str, str, float]:
    """What identifies an alarm event independently of the edge (its alarm_id is random)."""
    ts = datetime.fromisoformat(body["ts"].replace("Z", "+00:00")).timestamp()
    return (body["kind"], body["asset"], body["signal"], body["data"]["limit"], ts)


def cloud_tls(cloud: FaultCloud) -> tuple[str, str]:
    """Handshake with the cloud trusting only our CA; return (TLS version, cipher)."""
    import ssl

    ctx = ssl.create_default_context(cafile=str(cloud.certs / "ca.pem"))
    with socket.create_connection(("127.0.0.1", cloud.port), 5) as raw, \
            ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:  # fmt: skip
        return s.version() or "", s.cipher()[0]


async def start_simulator(sim: Any) -> None:
    """Start ``sim`` and wait until it has served a value: a node that never had one answers
    a new subscription with BadWaitingForInitialData stamped with the server's *wall clock*,
    which is not data time at ``--speed`` > 1 (see the note in docs/edge.md)."""
    await sim.start()
    await wait_until(lambda: sim.counts["opcua"] > 0, 30, "the simulator's first values")


async def assert_tls_really_on(cloud: FaultCloud, sim: Any) -> dict[str, str]:
    """TLS negotiated on both links (read back), plain connections refused; returns what was
    negotiated, for the test's log."""
    import httpx
    from asyncua import Client

    version, cipher = await asyncio.to_thread(cloud_tls, cloud)
    assert version in ("TLSv1.2", "TLSv1.3") and cipher, (version, cipher)
    async with httpx.AsyncClient(timeout=5) as plain:
        with pytest.raises(httpx.HTTPError):
            await plain.get(f"http://127.0.0.1:{cloud.port}/healthz")
    # The simulator's side of every secure channel (the edge's among them).
    chans = [p.processor._connection.security_policy for p in sim.opcua.server.bserver.clients]
    assert chans, "the simulator sees no OPC UA client"
    assert {c.URI for c in chans} == {B256}, [c.URI for c in chans]
    assert {c.Mode for c in chans} == {ua.MessageSecurityMode.SignAndEncrypt}
    plain_ua = Client(sim.opcua_endpoint, timeout=5)
    with pytest.raises((ua.UaError, OSError, asyncio.TimeoutError)):
        async with plain_ua:
            await plain_ua.get_namespace_index("urn:egiz:test")
    return {"https": f"{version} {cipher}", "opcua": f"{B256.rsplit('#')[-1]} SignAndEncrypt"}


@pytest.fixture
def faults() -> types.SimpleNamespace:
    """The real-simulator / real-cloud helpers of the fault tests."""
    return types.SimpleNamespace(
        SITE=FAULT_SITE,
        EDGE=FAULT_EDGE,
        FaultCloud=FaultCloud,
        tls_certs=tls_certs,
        simulator=simulator,
        start_simulator=start_simulator,
        site_doc=fault_site_doc,
        served_samples=served_samples,
        served_windows=served_windows,
        compare_windows=compare_windows,
        wait_stored=wait_stored,
        alarm_oracle=alarm_oracle,
        alarm_key=alarm_key,
        assert_tls_really_on=assert_tls_really_on,
        wait_until=wait_until,
    )
