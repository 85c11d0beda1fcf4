"""The site of `egiz demo` (simulator → OPC UA/MQTT → edge → cloud) with every link secured:
the cloud over HTTPS (our CA), MQTT over TLS with credentials (a private mosquitto), OPC UA
Basic256Sha256 SignAndEncrypt with certificates from `egiz certs`. Same parts and settings as
``egiz.cli.demo.run_site``; the uplink's transport is a TLS probe."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from egiz.cloud.app import create_app
from egiz.cloud.config import CloudSettings
from egiz.cloud.services.auth import add_user, issue_token
from egiz.cloud.services.edges import add_edge
from egiz.contracts import SiteConfig
from egiz.contracts.loader import validate_document
from egiz.edge.agent import EdgeAgent
from egiz.simulators import SimulatorService, load_scenario
from egiz.simulators.siteconfig import site_config

from ..security.tlskit import Tls, TlsProbe


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class TlsSite:
    """What the e2e test needs of a running site (the fields of the demo's DemoSite it uses)."""

    sim: Any
    agent: EdgeAgent
    store: Any
    url: str
    port: int
    workdir: Path
    api_token: str
    probe: TlsProbe
    tls: Tls


@contextlib.asynccontextmanager
async def run_tls_site(
    tls: Tls, *, workdir: Path, speed: float, window_s: float, scenario: str = "demo"
) -> AsyncIterator[TlsSite]:
    """Run simulator → edge → cloud with every link secured; stop everything on exit."""
    workdir = workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    scen = load_scenario(scenario)
    app = create_app(CloudSettings(db_url=f"sqlite:///{workdir / 'cloud.db'}"))
    store = app.state.store
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           **tls.cloud_ssl()))  # fmt: skip
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    serving = asyncio.create_task(server.serve())
    while not server.started:
        assert not serving.done(), "the cloud did not start"
        await asyncio.sleep(0.05)
    url = f"https://127.0.0.1:{port}"
    edge_id = f"{scen.site}-edge"
    token = add_edge(store, edge_id, site=scen.site)
    add_user(store, "admin", secrets.token_urlsafe(12), {"*": "admin"})
    api_token, _ = issue_token(store, "admin")
    prefix = f"egiz-tls-{secrets.token_hex(4)}"
    sim = SimulatorService(scen, opcua_port=_free_port(), mqtt_url=tls.simulator_mqtt_url(),
                           topic_prefix=prefix, speed=speed, truth_dir=workdir / "truth",
                           opcua_security=tls.simulator_opcua())  # fmt: skip
    probe = TlsProbe(verify=tls.context())
    client = httpx.AsyncClient(transport=probe, timeout=10)
    try:
        await sim.start()
        doc = site_config(scen, opcua_endpoint=sim.opcua_endpoint or "", cloud_url=url,
                          edge_id=edge_id, topic_prefix=prefix, token=token, window_s=window_s)  # fmt: skip
        for src in doc["sources"]:
            if src["kind"] == "opcua":
                src["security"] = tls.edge_opcua()
            else:
                src.update(tls.edge_mqtt())
        doc["uplink"]["ca_file"] = str(tls.ca)
        doc["outbox"] = {"path": str(workdir / "outbox.db")}
        doc["status"] = {"port": 0}
        doc["window"]["lateness_s"] = min(5.0, window_s / 2)
        config = validate_document(SiteConfig, doc, str(workdir / "site.yaml"))
        agent = EdgeAgent(config, base_dir=workdir, http_client=client)
        stop = asyncio.Event()
        running = asyncio.create_task(agent.run(stop))
        try:
            yield TlsSite(sim=sim, agent=agent, store=store, url=url, port=port, workdir=workdir,
                          api_token=api_token, probe=probe, tls=tls)  # fmt: skip
        finally:
            stop.set()
            await asyncio.wait_for(running, 30)
    finally:
        await client.aclose()
        await asyncio.wait_for(sim.stop(), 20)
        server.should_exit = True
        await asyncio.wait_for(serving, 15)
