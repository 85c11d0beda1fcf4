"""`egiz demo`: a whole simulated site on one machine — simulator, edge agent, cloud, dashboard."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import secrets
import shutil
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from egiz.contracts import SiteConfig
from egiz.contracts.errors import EgizError
from egiz.contracts.loader import validate_document

from .broker import mqtt_broker

log = logging.getLogger("egiz.demo")
DEMO_USER = "admin"


def register(sub: argparse._SubParsersAction) -> None:
    """Add `egiz demo` to the command tree."""
    p = sub.add_parser(
        "demo",
        help="run a whole simulated site on one machine",
        description=(
            "Run a simulated site (OPC UA and MQTT assets), an edge agent, the cloud service "
            "and its dashboard in one process, with no servers to install: SQLite, and the "
            "machine's MQTT broker or an embedded one. Ctrl-C stops everything."
        ),
    )
    p.add_argument("--scenario", default="demo", help="built-in scenario name or YAML file")
    p.add_argument("--duration", type=float, default=None, metavar="S", help="stop after S seconds")
    p.add_argument(
        "--speed", type=float, default=1.0, metavar="X", help="simulated time X times faster"
    )
    p.add_argument(
        "--port", type=int, default=8000, help="cloud/dashboard port on 127.0.0.1 (0 = any free)"
    )
    p.add_argument(
        "--mqtt",
        default=None,
        metavar="URL",
        help="MQTT broker (default: 127.0.0.1:1883 or embedded)",
    )
    p.add_argument(
        "--workdir", default="var/demo", help="where the demo keeps its databases and logs"
    )
    p.add_argument(
        "--window", type=float, default=10.0, metavar="S", help="window length in data seconds"
    )
    p.add_argument(
        "--models",
        type=Path,
        default=None,
        metavar="FILE",
        help="pin the models listed in FILE (the models.yaml `egiz model train-sim --scenario "
        "demo` writes): window summaries then carry health, anomaly and RUL (1 h model "
        "windows: --speed 3600 scores one per second, RUL after 12)",
    )
    p.add_argument(
        "--status-every", type=float, default=2.0, metavar="S", help="status line period"
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the demo until --duration or Ctrl-C; exit 0 when data flowed end to end."""
    return asyncio.run(_main(args))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class DemoSite:
    """Handles of the running parts, for the status line and the final summary."""

    sim: Any
    agent: Any
    store: Any
    url: str
    workdir: Path
    username: str
    password: str
    api_token: str


async def _bounded(aw: Any, seconds: float, what: str) -> None:
    """Await ``aw`` for at most ``seconds``; a step that hangs is named and left behind.

    Shutdown must finish even when one part misbehaves (a stuck socket, a thread that does not
    join); plain ``wait_for`` would itself hang waiting for a task that ignores cancellation.
    """
    task = asyncio.ensure_future(aw)
    done, _ = await asyncio.wait({task}, timeout=seconds)
    if not done:
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=2.0)
        log.error("shutdown: %s did not finish within %.0f s; moving on", what, seconds)
        return
    if not task.cancelled() and task.exception() is not None:
        log.error("shutdown: %s failed: %s", what, task.exception())


@contextlib.asynccontextmanager
async def _cloud(workdir: Path, port: int) -> AsyncIterator[tuple[str, Any, Any]]:
    import uvicorn

    from egiz.cloud.app import create_app
    from egiz.cloud.config import CloudSettings

    settings = CloudSettings(db_url=f"sqlite:///{workdir / 'cloud.db'}")
    app = create_app(settings)
    port = port or _free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    # The demo owns Ctrl-C. uvicorn's serve() otherwise captures SIGINT/SIGTERM for itself:
    # the first Ctrl-C would silently stop only the cloud and leave the rest running.
    server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign]
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
            raise EgizError(f"the cloud service did not start on 127.0.0.1:{port}")
        await asyncio.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", app, settings
    finally:
        server.should_exit = True
        done, _ = await asyncio.wait({task}, timeout=10)
        if not done:  # open keep-alive or SSE connections: close them
            server.force_exit = True
            await _bounded(task, 10, "the cloud service")


@contextlib.asynccontextmanager
async def run_site(
    *,
    scenario: str = "demo",
    workdir: Path,
    port: int = 0,
    mqtt_url: str | None = None,
    speed: float = 1.0,
    window_s: float = 10.0,
    models: list[dict] | None = None,
) -> AsyncIterator[DemoSite]:
    """Run simulator → edge → cloud in this event loop; used by `egiz demo` and the e2e tests."""
    from egiz.cloud.services.auth import add_user, issue_token
    from egiz.cloud.services.edges import add_edge
    from egiz.edge.agent import EdgeAgent
    from egiz.simulators import SimulatorService, load_scenario
    from egiz.simulators.siteconfig import site_config

    # Absolute, because the agent resolves relative paths against its own base directory.
    workdir = workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    scen = load_scenario(scenario)
    async with (
        mqtt_broker(mqtt_url) as (broker_url, _embedded),
        _cloud(workdir, port) as (url, app, _),
    ):
        store = app.state.store
        edge_id = f"{scen.site}-edge"
        token = add_edge(store, edge_id, site=scen.site)
        # Every endpoint but /healthz needs a token: the demo creates its own admin.
        password = secrets.token_urlsafe(12)
        add_user(store, DEMO_USER, password, {"*": "admin"})
        api_token, _ = issue_token(store, DEMO_USER)
        # A unique topic prefix keeps two demos on one shared broker apart.
        prefix = f"egiz-demo-{int(time.time() * 1000) % 10**9}"
        sim = SimulatorService(
            scen,
            opcua_port=_free_port(),
            mqtt_url=broker_url,
            topic_prefix=prefix,
            speed=speed,
            truth_dir=workdir / "truth",
        )
        await sim.start()
        try:
            doc = site_config(
                scen,
                opcua_endpoint=sim.opcua_endpoint or "opc.tcp://127.0.0.1:4840",
                mqtt_url=broker_url,
                cloud_url=url,
                edge_id=edge_id,
                topic_prefix=prefix,
                token=token,
                window_s=window_s,
            )
            doc["outbox"] = {"path": str(workdir / "outbox.db")}
            doc["status"] = {"port": 0}
            doc["window"]["lateness_s"] = min(5.0, window_s / 2)
            if models:  # pinned artifacts (optional): scores with health, anomaly and RUL
                doc["models"] = models
            site_yaml = workdir / "site.yaml"
            site_yaml.write_text(yaml.safe_dump(doc, sort_keys=False))
            config = validate_document(SiteConfig, doc, str(site_yaml))
            agent = EdgeAgent(config, base_dir=workdir)
            stop = asyncio.Event()
            agent_task = asyncio.create_task(agent.run(stop))
            try:
                yield DemoSite(
                    sim=sim,
                    agent=agent,
                    store=store,
                    url=url,
                    workdir=workdir,
                    username=DEMO_USER,
                    password=password,
                    api_token=api_token,
                )
            finally:
                stop.set()
                await _bounded(agent_task, 30, "the edge agent")
        finally:
            await _bounded(sim.stop(), 20, "the simulator")


def _status_line(site: DemoSite) -> str:
    st = site.agent.stats()
    rates = st.get("samples_per_s", {})
    outbox = st.get("outbox", {})
    return (
        f"opcua {rates.get('opcua', 0.0):7.1f}/s  mqtt {rates.get('mqtt', 0.0):7.1f}/s  "
        f"windows {st.get('windows_made', 0):5d}  synced {st.get('records_synced', 0):6d}  "
        f"outbox {outbox.get('depth', 0):5d}"
    )


def summary(site: DemoSite) -> dict[str, int]:
    """Return the end-of-run counts: samples per protocol, windows, records synced and stored."""
    st = site.agent.stats()
    samples = st.get("samples", {})
    return {
        "opcua_samples": int(samples.get("opcua", 0)),
        "mqtt_samples": int(samples.get("mqtt", 0)),
        "windows_made": int(st.get("windows_made", 0)),
        "records_synced": int(st.get("records_synced", 0)),
        "signal_windows_in_cloud": int(site.store.count("windows")),
        "assets_in_cloud": len(site.store.assets()),
    }


def _read_pins(path: Path) -> list[dict]:
    """The `models:` list of a pins file (what `egiz model train-sim` writes)."""
    try:
        doc = yaml.safe_load(path.read_text("utf-8"))
        return list(doc["models"])
    except (OSError, yaml.YAMLError, KeyError, TypeError) as err:
        raise EgizError(
            f"{path}: not a models file: {err} (fix: the models.yaml "
            "`egiz model train-sim --scenario demo --out DIR` writes)"
        ) from None


async def _main(args: argparse.Namespace) -> int:
    workdir = Path(args.workdir)
    if workdir.exists():
        shutil.rmtree(workdir)  # each demo starts from an empty site
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def on_signal() -> None:
        if stop.is_set():  # a second Ctrl-C: the operator wants out now
            print("egiz demo: stopping at once", file=sys.stderr, flush=True)
            os._exit(130)
        print("egiz demo: stopping (Ctrl-C again to force)", file=sys.stderr, flush=True)
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)
    models = _read_pins(args.models) if args.models else None
    async with run_site(
        scenario=args.scenario,
        workdir=workdir,
        port=args.port,
        mqtt_url=args.mqtt,
        speed=args.speed,
        window_s=args.window,
        models=models,
    ) as site:
        print(
            f"Egiz demo: dashboard {site.url}/   API {site.url}/api/v1/assets   docs {site.url}/docs"
        )
        print(f"  log in as {site.username} / {site.password}  (created for this demo run)")
        creds = workdir / "credentials.txt"
        creds.touch(mode=0o600)
        creds.write_text(
            f"user {site.username}\npassword {site.password}\napi_token {site.api_token}\n"
        )
        print(f"  site config {workdir / 'site.yaml'}, served-value log {workdir / 'truth'}")
        print(
            "  Ctrl-C stops the demo."
            if args.duration is None
            else f"  running for {args.duration:g} s"
        )
        sys.stdout.flush()
        deadline = None if args.duration is None else time.monotonic() + args.duration
        finished = False
        while not stop.is_set():
            timeout = args.status_every
            if deadline is not None:
                timeout = min(timeout, max(0.0, deadline - time.monotonic()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout)
            if deadline is not None and time.monotonic() >= deadline and not stop.is_set():
                finished = True
                stop.set()
            print(_status_line(site), flush=True)
        # Give the uplink a moment to ship the last closed windows before the summary.
        await asyncio.sleep(min(3.0, args.window))
        result = summary(site)
    print("Summary: " + ", ".join(f"{k} {v}" for k, v in result.items()), flush=True)
    if not finished:
        return 130  # stopped by the operator; the summary says how far it got
    ok = (
        result["opcua_samples"] > 0
        and result["mqtt_samples"] > 0
        and result["signal_windows_in_cloud"] > 0
    )
    if not ok:
        print(
            "egiz: error: the demo did not get data end to end (see the summary above)",
            file=sys.stderr,
        )
        return 1
    return 0
