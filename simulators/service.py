"""SimulatorService: run a scenario in (accelerated) real time, serving OPC UA and MQTT.

Usage inside an asyncio loop::

    async with SimulatorService(load_scenario("demo"), opcua_port=4840,
                                mqtt_url="mqtt://127.0.0.1:1883", truth_dir=Path("var/sim")) as sim:
        print(sim.opcua_endpoint)
        await asyncio.sleep(60)

Simulated time advances ``speed`` times faster than the wall clock. At most
``max_serve_rate_hz`` simulated steps are served per wall second; faster runs serve every
k-th step (each value still carries its own data time), the physics still computes every step.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from .control import ControlServer
from .engine import STATUS_NAMES, Engine, iso
from .mqtt import MqttPublisher, document, payload, topic
from .opcua import OpcUaServer
from .scenario import Scenario, load_scenario
from .servedlog import ServedLog, served_line

log = logging.getLogger(__name__)

#: a stalled loop never computes more than this many steps in one tick
_MAX_STEPS_PER_TICK = 86400
#: at most this many values are served per tick; older due steps are skipped
_MAX_VALUES_PER_TICK = 20000
#: MQTT layouts: one message per signal, or one JSON document per asset per step (values with
#: good status; others still go per signal so their status is not lost)
MQTT_LAYOUTS = ("signal", "document")
#: faults of the communication, handled here rather than in the engine
COMM_FAULTS = ("server_restart", "disconnect", "publish_pause")


class SimulatorService:
    """A running simulated site: engine, OPC UA server, MQTT publisher, logs."""

    def __init__(
        self,
        scenario: Scenario | str | Path,
        *,
        opcua_host: str = "127.0.0.1",
        opcua_port: int | None = 4840,
        mqtt_url: str | None = None,
        topic_prefix: str = "egiz",
        mqtt_qos: int = 1,
        mqtt_retain: bool = False,
        mqtt_layout: str = "signal",
        mqtt_ca_file: str | Path | None = None,
        speed: float = 1.0,
        truth_dir: Path | None = None,
        start: datetime | None = None,
        seed: int | None = None,
        max_serve_rate_hz: float = 20.0,
        control_port: int | None = None,
        history_s: float = 3600.0,
        opcua_security: dict[str, str] | None = None,
    ) -> None:
        self.scenario = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
        if speed <= 0:
            raise ValueError("speed must be > 0")
        self.speed = speed
        self.max_serve_rate_hz = max_serve_rate_hz
        self.topic_prefix = topic_prefix
        begin = start or self.scenario.start or datetime.now(UTC)
        self.engine = Engine(self.scenario, start=begin, seed=seed)
        has = {a.protocol for a in self.scenario.assets}
        self.opcua = (
            OpcUaServer(
                self.scenario, opcua_host, opcua_port, self._command, history_s, opcua_security
            )
            if "opcua" in has and opcua_port is not None
            else None
        )
        self.mqtt = (
            MqttPublisher(mqtt_url, mqtt_qos, mqtt_retain, ca_file=mqtt_ca_file)
            if "mqtt" in has and mqtt_url
            else None
        )
        if mqtt_layout not in MQTT_LAYOUTS:
            raise ValueError(f"mqtt_layout must be one of {', '.join(MQTT_LAYOUTS)}")
        self.mqtt_layout = mqtt_layout
        #: document layout: asset -> topic of its per-tick document
        self._doc_topic = {
            a.id: "/".join((topic_prefix, self.scenario.site, *a.path()))
            for a in self.scenario.assets
            if a.protocol == "mqtt"
        }
        self.log = ServedLog(truth_dir) if truth_dir else None
        self.counts = {"opcua": 0, "mqtt": 0}
        self.steps = 0
        self._task: asyncio.Task | None = None
        self._plan = self._serving_plan()
        self.control = (
            ControlServer(self._handle, "127.0.0.1", control_port)
            if control_port is not None
            else None
        )
        self._paused = {"opcua": -math.inf, "mqtt": -math.inf}
        self.comm_faults: list[dict] = []
        self._background: set[asyncio.Task] = set()
        self._wall0 = 0.0

    @property
    def opcua_endpoint(self) -> str | None:
        """The OPC UA endpoint URL, or None when nothing is served over OPC UA."""
        return self.opcua.endpoint if self.opcua else None

    def _serving_plan(self) -> list[tuple[int, str, str, str, str, str | None]]:
        """Per engine signal row: (row, asset id, signal, global id, protocol, topic)."""
        plan = []
        for row, (asset_id, signal) in enumerate(self.engine.signals):
            a = self.scenario.asset(asset_id)
            if a.protocol == "opcua" and self.opcua is None:
                continue
            if a.protocol == "mqtt" and self.mqtt is None:
                continue
            t = (
                topic(self.topic_prefix, self.scenario.site, a.path(), signal)
                if a.protocol == "mqtt"
                else None
            )
            plan.append((row, asset_id, signal, f"{self.scenario.site}.{asset_id}", a.protocol, t))
        return plan

    async def __aenter__(self) -> SimulatorService:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        """Start the servers and the simulation loop."""
        try:
            if self.opcua:
                sp = {a.id: self.engine.setpoints(a.id) for a in self.scenario.assets}
                await self.opcua.start(sp)
            if self.mqtt:
                await self.mqtt.start()
            if self.control:
                await self.control.start()
        except BaseException:
            await self.stop()
            raise
        self._task = asyncio.create_task(self._run(), name="egiz-sim")

    @property
    def control_url(self) -> str | None:
        """The local HTTP control endpoint, or None when disabled."""
        return self.control.url if self.control else None

    async def stop(self) -> None:
        """Stop the loop, the servers and close the logs (idempotent)."""
        for task in list(self._background):
            task.cancel()
        if self.control:
            await self.control.stop()
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self.mqtt:
            with contextlib.suppress(Exception):
                await self.mqtt.stop()
        if self.opcua:
            with contextlib.suppress(Exception):
                await self.opcua.stop()
        if self.log:
            self.log.close()
            self.log = None

    async def _command(self, asset_id: str, action: str) -> None:
        self.engine.command(asset_id, action)

    def command(self, asset_id: str, action: str) -> None:
        """Run start, stop or reset on an asset."""
        self.engine.command(asset_id, action)

    async def set_setpoint(self, asset_id: str, name: str, value: float) -> float:
        """Change a setpoint; returns the applied (clamped) value, also shown over OPC UA."""
        applied = self.engine.set_setpoint(asset_id, name, value)
        if self.opcua and (asset_id, name) in self.opcua.setpoint_nodes:
            await self.opcua.confirm_setpoint(asset_id, name, applied)
        return applied

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        dt = self.engine.dt
        wall0 = self._wall0 = loop.time()
        steps_per_s = self.speed / dt
        stride = max(1, math.ceil(steps_per_s / self.max_serve_rate_hz))
        tick = max(dt / self.speed, 1.0 / self.max_serve_rate_hz)
        while True:
            due = min(int((loop.time() - wall0) * steps_per_s) - self.steps, _MAX_STEPS_PER_TICK)
            if due > 0:
                first = self.steps + 1
                block = self.engine.advance(due)
                self.steps += due
                # Serve every stride-th global step so the served grid does not depend on ticks.
                idx = np.nonzero((np.arange(first, first + due) % stride) == 0)[0]
                # Behind the wall clock (serving slower than demanded): serve the newest steps
                # only, so the lag cannot grow without bound; skipped steps are not logged.
                cap = max(1, _MAX_VALUES_PER_TICK // max(1, len(self._plan)))
                await self._serve(block, idx[-cap:])
            if self.opcua:
                for asset_id, name, value in self.opcua.written_setpoints():
                    await self.set_setpoint(asset_id, name, value)
            next_wall = wall0 + (self.steps + 1) / steps_per_s
            await asyncio.sleep(max(next_wall - loop.time(), 0.0) if stride == 1 else tick)

    async def _serve(self, block, idx: np.ndarray) -> None:
        lines: list[str] = []
        documents = self.mqtt_layout == "document"
        for k in idx:
            t = float(block.times[k])
            ts, when = iso(t), datetime.fromtimestamp(t, UTC)
            docs: dict[str, dict[str, float]] = {}
            for row, asset_id, signal, gid, proto, t_ in self._plan:
                if t <= self._paused[proto]:
                    continue  # nothing served is nothing logged
                value = float(block.values[row, k])
                status = int(block.status[row, k])
                q = STATUS_NAMES[status]
                if proto == "opcua":
                    await self.opcua.write(asset_id, signal, value, status, when)
                elif documents and status == 0:
                    docs.setdefault(asset_id, {})[signal] = value
                else:
                    self.mqtt.publish(t_, payload(value, ts, q))
                self.counts[proto] += 1
                lines.append(served_line(gid, signal, ts, value, q, proto))
            for asset_id, values in docs.items():
                self.mqtt.publish(self._doc_topic[asset_id], document(values, ts))
        if self.log:
            self.log.served(lines)
            if len(idx):
                self.log.truth(self.engine.truth())
            self.log.flush()

    async def inject(
        self,
        asset: str | None,
        fault: str,
        severity: float = 1.0,
        signal: str | None = None,
        duration_s: float | None = None,
        protocol: str | None = None,
    ) -> dict:
        """Inject a machine, sensor or communication fault; durations are in simulated seconds."""
        if fault not in COMM_FAULTS:
            if not asset:
                raise ValueError(f"fault {fault!r} needs an asset")
            return self.engine.inject(asset, fault, severity, signal, duration_s)
        default = {"server_restart": "opcua", "disconnect": "mqtt"}.get(fault)
        protocols = [protocol] if protocol else ([default] if default else ["opcua", "mqtt"])
        for proto in protocols:
            if proto not in self._paused:
                raise ValueError(f"unknown protocol {proto!r}; use opcua or mqtt")
        duration = duration_s if duration_s is not None else 5.0 * self.engine.dt
        until = self.engine.t + duration
        record = {
            "mode": fault,
            "kind": "comm",
            "protocols": protocols,
            "onset": iso(self.engine.t),
            "until": iso(until),
        }
        self.comm_faults.append(record)
        for proto in protocols:
            self._paused[proto] = max(self._paused[proto], until)
        if fault == "server_restart" and self.opcua:
            self._spawn(self._restart_opcua(duration / self.speed))
        elif fault == "disconnect" and self.mqtt:
            self.mqtt.drop_connection()
            self._spawn(self._later(duration / self.speed, self.mqtt.restore_connection))
        return record

    def _spawn(self, coro) -> None:
        task = asyncio.create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _later(self, wall_s: float, fn) -> None:
        await asyncio.sleep(wall_s)
        fn()

    async def _restart_opcua(self, wall_s: float) -> None:
        self._paused["opcua"] = math.inf
        await self.opcua.stop()  # every client session drops, as when a PLC reboots
        await asyncio.sleep(wall_s)
        await self.opcua.resume()
        # Steps that fall due while we were down are computed late; they were not served.
        self._paused["opcua"] = self._sim_now()

    def _sim_now(self) -> float:
        """The data time the wall clock corresponds to now."""
        loop = asyncio.get_running_loop()
        return self.engine.t0 + (loop.time() - self._wall0) * self.speed

    def status(self) -> dict:
        """Return what `egiz sim status` shows."""
        return {
            "scenario": self.scenario.name,
            "site": self.scenario.site,
            "data_time": iso(self.engine.t),
            "steps": self.steps,
            "speed": self.speed,
            "served": dict(self.counts),
            "opcua_endpoint": self.opcua_endpoint,
            "active_faults": [
                self.engine._describe(a) | {"asset": a.asset} for a in self.engine.active
            ],
            "comm_faults": self.comm_faults[-20:],
            "truth": self.engine.truth(),
        }

    async def _handle(self, method: str, path: str, body: dict) -> tuple[int, object]:
        if method == "GET" and path == "/status":
            return 200, self.status()
        if method != "POST":
            return 404, {"error": f"no route {method} {path}"}
        if path == "/inject":
            return 200, await self.inject(
                body.get("asset"),
                body["fault"],
                float(body.get("severity", 1.0)),
                body.get("signal"),
                body.get("duration_s"),
                body.get("protocol"),
            )
        if path == "/clear":
            return 200, {"cleared": self.engine.clear(body["asset"], body.get("fault"))}
        if path == "/command":
            self.command(body["asset"], body["action"])
            return 200, {"ok": True}
        if path == "/setpoint":
            applied = await self.set_setpoint(body["asset"], body["name"], float(body["value"]))
            return 200, {"applied": applied}
        return 404, {"error": f"no route {method} {path}"}
