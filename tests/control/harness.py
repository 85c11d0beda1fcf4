"""A whole site in one event loop for the control tests: simulator (OPC UA + MQTT), edge agent
with control enabled, and the cloud on uvicorn — which the test can take down and bring back on
the same port to cut the edge's link. Plain, or with every link secured (``tls``): HTTPS with
our CA, MQTT over TLS with credentials, OPC UA Basic256Sha256 SignAndEncrypt."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from egiz.cloud.app import create_app
from egiz.cloud.config import CloudSettings
from egiz.cloud.services.auth import add_user, issue_token
from egiz.cloud.services.edges import add_edge
from egiz.cloud.services.ledger import issue_edge_key
from egiz.cloud.store import open_store
from egiz.contracts import SiteConfig
from egiz.contracts.loader import validate_document
from egiz.edge.agent import EdgeAgent
from egiz.simulators import SimulatorService, load_scenario
from egiz.simulators.siteconfig import site_config

from ..security.tlskit import Tls, TlsProbe

SITE, EDGE = "demo", "demo-edge"
USERS = {"op": "operator", "op2": "operator", "viewer": "viewer", "eng": "engineer"}


def free_port() -> int:
    """Return a free loopback port."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LossyTransport(TlsProbe):
    """Loses the cloud's answer (after the cloud processed the batch) for the first batches
    that carry command traffic, so the edge retries the very same batch: a retried uplink.
    As a TlsProbe it also records what TLS each answer's socket negotiated."""

    def __init__(self, losses: int, **kw: Any) -> None:
        super().__init__(**kw)
        self.losses = losses
        self.lost: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        resp = await super().handle_async_request(request)  # records the TLS session
        body = await resp.aread()
        sent = gzip.decompress(request.content) if request.headers.get("content-encoding") \
            else request.content  # fmt: skip
        busy = b'"commands":[{' in body or b'"command_acks":["' in sent \
            or b'"command_result"' in sent  # fmt: skip
        if busy and len(self.lost) < self.losses:
            self.lost.append(body.decode()[:200])
            raise httpx.ReadError("test: the answer was lost on the way back")
        return httpx.Response(resp.status_code, headers=resp.headers, content=body,
                              request=request)  # fmt: skip


@dataclass
class Site:
    """Handles of the running site."""

    sim: Any
    agent: EdgeAgent
    store: Any
    url: str
    port: int
    tls: Tls | None = None
    tokens: dict[str, str] = field(default_factory=dict)
    lossy: LossyTransport | None = None
    server: Any = None
    task: Any = None

    async def cloud_up(self) -> None:
        """Serve the cloud on its port (the same store: state survives the outage)."""
        app = create_app(CloudSettings(db_url=self.store.url), store=self.store)
        cfg = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                             **(self.tls.cloud_ssl() if self.tls else {}))  # fmt: skip
        self.server = uvicorn.Server(cfg)
        self.server.install_signal_handlers = lambda: None
        self.task = asyncio.create_task(self.server.serve())
        while not self.server.started:
            assert not self.task.done(), "the cloud did not start"
            await asyncio.sleep(0.05)

    async def cloud_down(self) -> None:
        """Stop serving: the edge's uplink now fails (the link is down)."""
        self.server.should_exit = True
        await self.task

    async def api(self, method: str, path: str, who: str, body: Any = None) -> httpx.Response:
        """Call the cloud API as one of the test users."""
        verify: Any = self.tls.context() if self.tls else True
        async with httpx.AsyncClient(base_url=self.url, timeout=10, verify=verify) as c:
            return await c.request(method, "/api/v1" + path, json=body,
                                   headers={"Authorization": f"Bearer {self.tokens[who]}"})  # fmt: skip

    async def wait(self, what: str, fn: Any, within: float = 30.0) -> Any:
        """Poll ``fn`` (sync or async) until it returns something truthy."""
        deadline = time.monotonic() + within
        while True:
            got = fn()
            if asyncio.iscoroutine(got):
                got = await got
            if got:
                return got
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            await asyncio.sleep(0.2)

    async def read(self, asset: str, name: str) -> float:
        """Read a served value straight from the simulator's OPC UA address space."""
        node = self.sim.opcua.server.get_node(f"ns=2;s={SITE}.{asset}.{name}")
        dv = await node.read_data_value(raise_on_bad_status=False)
        # NaN until the simulator has served a good value (BadWaitingForInitialData at start).
        return float(dv.Value.Value) if dv.StatusCode.is_good() else float("nan")


@contextlib.asynccontextmanager
async def run_site(
    workdir: Path, trips: list[dict[str, Any]], losses: int = 0,
    models: list[dict[str, Any]] | None = None, tls: Tls | None = None,
    mqtt: bool = False,
) -> AsyncIterator[Site]:  # fmt: skip
    """Run simulator → edge (control on) → cloud; users op, op2 (operators), viewer, eng.

    ``models`` are pinned artifacts (site config ``models``) the edge scores with. ``tls``
    secures every link (see tests/security/tlskit.py); ``mqtt`` also feeds the MQTT asset (the
    machine's broker when plain, the private TLS broker with ``tls``)."""
    store = open_store(f"sqlite:///{workdir / 'cloud.db'}")
    token = add_edge(store, EDGE, site=SITE)
    key = issue_edge_key(store, EDGE)
    port = free_port()
    scheme = "https" if tls else "http"
    site = Site(sim=None, agent=None, store=store, url=f"{scheme}://127.0.0.1:{port}", port=port,  # type: ignore[arg-type]
                tls=tls)  # fmt: skip
    for name, role in USERS.items():
        add_user(store, name, f"{name}-password", {SITE: role})
        site.tokens[name] = issue_token(store, name)[0]
    await site.cloud_up()
    scen = load_scenario("demo")
    prefix = f"egiz-ctl-{uuid.uuid4().hex[:8]}"  # our own topics on a shared broker
    mqtt_url = (tls.simulator_mqtt_url() if tls else "mqtt://127.0.0.1:1883") if mqtt else None
    sim = SimulatorService(scen, opcua_port=free_port(), mqtt_url=mqtt_url, topic_prefix=prefix,
                           speed=1.0, opcua_security=tls.simulator_opcua() if tls else None)  # fmt: skip
    try:
        async with sim:
            doc = site_config(scen, opcua_endpoint=sim.opcua_endpoint or "", cloud_url=site.url,
                              edge_id=EDGE, token=token, window_s=2.0, topic_prefix=prefix,
                              mqtt_url="mqtt://127.0.0.1:1883")  # fmt: skip
            doc["sources"] = [s for s in doc["sources"] if mqtt or s["kind"] == "opcua"]
            for src in doc["sources"]:
                if tls and src["kind"] == "opcua":
                    src["security"] = tls.edge_opcua()
                elif tls:
                    src.update(tls.edge_mqtt())
                if src["kind"] == "mqtt":
                    src.update(client_id=f"{prefix}-edge", clean_start=True)
            for t in doc["asset_types"]:  # a critical action needs a second person's approval
                for c in t["commands"]:
                    c["critical"] = c["name"] == "start"
            doc["models"] = models or []
            doc["outbox"] = {"path": str(workdir / "outbox.db")}
            doc["status"] = {"port": 0}
            doc["window"]["lateness_s"] = 1.0
            doc["uplink"].update(ledger_key=key, interval_s=0.2, heartbeat_interval_s=1.0,
                                 backoff={"initial_s": 0.2, "max_s": 1.0})  # fmt: skip
            if tls:
                doc["uplink"]["ca_file"] = str(tls.ca)
            doc["control"] = {"enabled": True, "trips": trips, "trip_poll_s": 0.2,
                              "journal_path": str(workdir / "control.db"),
                              "ledger_path": str(workdir / "ledger.db")}  # fmt: skip
            config = validate_document(SiteConfig, doc, str(workdir / "site.yaml"))
            site.lossy = LossyTransport(losses, verify=tls.context() if tls else True)
            client = httpx.AsyncClient(transport=site.lossy, timeout=10)
            agent = EdgeAgent(config, base_dir=workdir, http_client=client)
            stop = asyncio.Event()
            task = asyncio.create_task(agent.run(stop))
            site.sim, site.agent = sim, agent
            try:
                yield site
            finally:
                stop.set()
                await asyncio.wait_for(task, 30)
                await client.aclose()
                if agent.control is not None:
                    agent.control.close()
    finally:
        if site.server is not None and not site.task.done():
            await site.cloud_down()
        store.close()


#: The demo pump's signals, in the asset type's order (the health model's inputs).
PUMP_SIGNALS = ["flow", "suction_pressure", "discharge_pressure", "speed", "shaft_power",
                "efficiency", "bearing_temp", "vibration", "npsh_margin", "running"]  # fmt: skip


def train_pump_health(out: Path, window_s: float = 2.0, smoothing: int = 60,
                      hours: float = 4.0, seed: int = 1) -> dict[str, str]:  # fmt: skip
    """Fit a health model for the demo's pump-1 on ``window_s`` windows of a healthy simulated
    run (another seed than the live simulator's) and save it; return its site-config pin."""
    from egiz.models.health.artifact import health_manifest, save_health
    from egiz.models.health.asset import AssetHealth
    from egiz.simulators.engine import Engine

    scen = load_scenario("demo")
    engine = Engine(scen, seed=seed)
    per = round(window_s / scen.step_s)
    block = engine.advance(round(hours * 3600 / scen.step_s))
    rows = [engine.signals.index(("pump-1", s)) for s in PUMP_SIGNALS]
    n = block.values.shape[1] // per
    M = block.values[rows, : n * per].reshape(len(rows), n, per).mean(axis=2).T
    model = AssetHealth("centrifugal_pump", PUMP_SIGNALS, {"smoothing": smoothing}).fit(M)
    doc = site_config(scen, cloud_url=None)
    units = {s["name"]: s["unit"] for t in doc["asset_types"] if t["name"] == "centrifugal_pump"
             for s in t["signals"]}  # fmt: skip
    man = health_manifest(model, name="pump-health", version=f"0.{smoothing}.{seed}",
                          window_s=window_s, units=units, training_sha256="0" * 64,
                          metrics={})  # fmt: skip
    sha = save_health(out, model, man)
    return {"asset_type": "centrifugal_pump", "artifact": str(out), "sha256": sha}
