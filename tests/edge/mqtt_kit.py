"""Shared pieces of the MQTT fault tests: our own Mosquitto (plain or TLS with a password file),
the simulator publishing to it, an agent in a child process, and the served-log oracle.

Every broker here is a child process on a free port, never the machine's shared one.
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import json
import math
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import yaml

from egiz.cli.certs import create
from egiz.simulators import SimulatorService, load_scenario
from egiz.simulators.siteconfig import site_config

MQTT_USER, MQTT_PASSWORD = "edge", "s3cret-pw"


@dataclass(frozen=True)
class Tls:
    """What a client needs for our TLS listener: the CA and a login."""

    ca: Path
    username: str = MQTT_USER
    password: str = MQTT_PASSWORD


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Broker:
    """A Mosquitto child process with persistence, restartable on the same port.

    ``tls=True``: the listener speaks only TLS (certificates from ``egiz certs``) and refuses
    anonymous clients (password file with ``MQTT_USER``).
    """

    def __init__(self, workdir: Path, *, tls: bool = False) -> None:
        self.port = free_port()
        self.dir = workdir / f"mosquitto-{self.port}"
        (self.dir / "data").mkdir(parents=True)
        self.tls: Tls | None = None
        lines = [
            f"listener {self.port} 127.0.0.1",
            "persistence true",
            f"persistence_location {self.dir / 'data'}/",
            "max_queued_messages 1000000",
            # Nagle off: a client waiting for each window of QoS 1 acks stalls ~40 ms otherwise.
            "set_tcp_nodelay true",
            # Run as root (CI), mosquitto would switch to user mosquitto and could not save here.
            f"user {getpass.getuser()}",
        ]
        if tls:
            certs = self.dir / "certs"
            create(certs, ("mqtt",))
            pw = self.dir / "passwd"
            subprocess.run(
                ["mosquitto_passwd", "-c", "-b", str(pw), MQTT_USER, MQTT_PASSWORD],
                check=True,
                capture_output=True,
            )
            lines += [
                "allow_anonymous false",
                f"password_file {pw}",
                f"cafile {certs / 'ca.pem'}",
                f"certfile {certs / 'mqtt.pem'}",
                f"keyfile {certs / 'mqtt.key.pem'}",
            ]
            self.tls = Tls(certs / "ca.pem")
        else:
            lines.append("allow_anonymous true")
        self.conf = self.dir / "mosquitto.conf"
        self.conf.write_text("\n".join(lines) + "\n")
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def url(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://127.0.0.1:{self.port}"

    def start(self) -> None:
        exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        self.proc = subprocess.Popen(
            [exe, "-c", str(self.conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        self.starts += 1
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                return
            except OSError:
                if self.proc.poll() is not None:
                    err = self.proc.stderr.read()  # type: ignore[union-attr]
                    raise AssertionError(f"mosquitto exited: {err!r}") from None
                assert time.monotonic() < deadline, "mosquitto did not start"
                time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()  # SIGTERM: mosquitto writes its persistence file
            self.proc.wait(timeout=10)
            self.proc = None

    def __enter__(self) -> Broker:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def tls_handshake(port: int, tls: Tls) -> tuple[str, str]:
    """(protocol version, cipher) the listener negotiates with a verifying client."""
    ctx = ssl.create_default_context(cafile=str(tls.ca))
    with (
        socket.create_connection(("127.0.0.1", port), 5) as raw,
        ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s,
    ):
        cipher = s.cipher()
        return s.version() or "", cipher[0] if cipher else ""


def plain_connect_refused(port: int) -> bool:
    """True when a plain MQTT CONNECT to the TLS listener gets no CONNACK (it must not)."""
    # CONNECT, MQTT 3.1.1, clean session, keepalive 10, client id "plain"
    packet = bytes([0x10, 17, 0, 4]) + b"MQTT" + bytes([4, 2, 0, 10, 0, 5]) + b"plain"
    with socket.create_connection(("127.0.0.1", port), 5) as s:
        s.settimeout(5)
        try:
            s.sendall(packet)
            answer = s.recv(4)
        except (ConnectionResetError, BrokenPipeError, TimeoutError):
            return True
        return not answer.startswith(b"\x20")  # 0x20 = CONNACK


# -- the simulator and the oracle ------------------------------------------------------------


def start_simulator(
    broker: Broker, scenario: str, prefix: str, truth: Path, speed: float
) -> SimulatorService:
    """The simulator serving only its MQTT assets to ``broker`` (QoS 1), logging what it served."""
    url = broker.url.replace("mqtts://", "mqtt://")
    if broker.tls:  # the simulator is just another client of the TLS listener
        url = url.replace("://", f"://{broker.tls.username}:{broker.tls.password}@")
    sim = SimulatorService(
        load_scenario(scenario),
        opcua_port=None,
        mqtt_url=url,
        topic_prefix=prefix,
        speed=speed,
        truth_dir=truth,
    )
    assert sim.mqtt is not None
    if broker.tls:
        sim.mqtt.client.tls_set(ca_certs=str(broker.tls.ca))
    return sim


def edge_site(
    broker: Broker,
    scenario: str,
    prefix: str,
    workdir: Path,
    *,
    cloud_url: str,
    token: str,
    window_s: float,
    lateness_s: float,
) -> dict[str, Any]:
    """The site config (dict) the simulator's generator writes, with only its MQTT source."""
    doc = site_config(
        load_scenario(scenario),
        mqtt_url=broker.url,
        cloud_url=cloud_url,
        topic_prefix=prefix,
        token=token,
        window_s=window_s,
    )
    doc["sources"] = [s for s in doc["sources"] if s["kind"] == "mqtt"]
    (src,) = doc["sources"]
    src["clean_start"] = False  # persistent session: the broker queues while we are away
    src["reconnect"] = {"initial_s": 0.2, "max_s": 1.0}
    if broker.tls:
        src |= {
            "ca_file": str(broker.tls.ca),
            "username": broker.tls.username,
            "password": broker.tls.password,
        }
    doc["window"]["lateness_s"] = lateness_s
    doc["outbox"] = {"path": str(workdir / "outbox.db")}
    doc["status"] = {"port": 0}
    doc["uplink"] |= {"interval_s": 0.2, "heartbeat_interval_s": 1.0,
                      "backoff": {"initial_s": 0.1, "max_s": 0.5}}  # fmt: skip
    return doc


def _ts(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC).timestamp()


def served_windows(
    path: Path, site: str, length: float, until: float
) -> dict[tuple[str, float, str], dict[str, float]]:
    """Per (asset, window start, signal): the statistics of docs/edge.md recomputed from the
    simulator's served-value log, for every window that ends at or before ``until``."""
    rows: dict[tuple[str, str], list[tuple[float, float | None, str]]] = defaultdict(list)
    for line in path.read_text().splitlines():
        if line.strip():
            r = json.loads(line)
            asset = r["asset"].removeprefix(f"{site}.")
            rows[(asset, r["signal"])].append((_ts(r["ts"]), r["value"], r["status"]))
    out: dict[tuple[str, float, str], dict[str, float]] = {}
    for (asset, sig), samples in rows.items():
        by_k: dict[int, dict[float, tuple[float | None, str]]] = defaultdict(dict)
        for ts, v, st in samples:
            by_k[math.floor(ts / length)][ts] = (v, st)  # a timestamp counts once
        for k, by_ts in by_k.items():
            if (k + 1) * length > until:
                continue
            good = [(t, v) for t, (v, st) in sorted(by_ts.items()) if st != "bad" and v is not None]
            stats: dict[str, float] = {
                "count": len(by_ts),
                # a value that is not a number is a bad sample at the edge, whatever its status
                "bad": sum(1 for v, st in by_ts.values() if st == "bad" or v is None),
            }
            if good:
                vals = np.array([v for _, v in good], dtype=float)
                stats |= {
                    "min": float(vals.min()),
                    "max": float(vals.max()),
                    "mean": float(vals.mean()),
                    "std": float(vals.std(ddof=0)),
                    "last": float(good[-1][1]),
                }
            out[(asset, k * length, sig)] = stats
    return out


def newest_served(path: Path) -> float:
    """The newest data time in a served-value log."""
    return max(_ts(json.loads(line)["ts"]) for line in path.read_text().splitlines() if line)


def stored_windows(records: list[dict[str, Any]]) -> dict[tuple[str, float, str], dict]:
    """Index stored window records by (asset, start, signal); a duplicate fails the test."""
    got: dict[tuple[str, float, str], dict] = {}
    for rec in records:
        start = _ts(rec["start"])
        for sig, st in rec["signals"].items():
            key = (rec["asset"], start, sig)
            assert key not in got, f"window {key} stored twice"
            got[key] = st
    return got


def assert_match(got: dict, want: dict) -> int:
    """Every window the log says must exist is stored, with the log's statistics."""
    missing = sorted(k for k in want if k not in got)
    assert not missing, f"{len(missing)} of {len(want)} windows lost, first: {missing[:5]}"
    for key, w in want.items():
        g = got[key]
        assert (g["count"], g.get("bad", 0)) == (w["count"], w["bad"]), (key, g, w)
        for f in ("min", "max", "mean", "last"):
            if f in w:
                assert math.isclose(g[f], w[f], rel_tol=1e-9, abs_tol=1e-12), (key, f, g, w)
        if "std" in w:
            assert math.isclose(g["std"], w["std"], rel_tol=1e-6, abs_tol=1e-9), (key, g, w)
    return len(want)


def assert_events_once(events: list[dict[str, Any]]) -> None:
    """No event stored twice (the same kind, time and message under two sequence numbers)."""
    seen: set[tuple[str, str, str]] = set()
    for e in events:
        key = (e["kind"], e["ts"], e["message"])
        assert key not in seen, f"event stored twice: {e}"
        seen.add(key)


# -- an agent in a child process ---------------------------------------------------------------


class AgentProcess:
    """``egiz edge run`` in a child process, killable with SIGKILL; reaped even on failure."""

    def __init__(self, site_yaml: Path) -> None:
        self.site_yaml = site_yaml
        self.proc: asyncio.subprocess.Process | None = None
        self.status_url = ""
        self.pids: list[int] = []

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "egiz.cli.main", "edge", "run", "--config", str(self.site_yaml),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )  # fmt: skip
        self.pids.append(self.proc.pid)
        assert self.proc.stdout is not None
        line = (await asyncio.wait_for(self.proc.stdout.readline(), 60)).decode()
        m = re.search(r"(http://\S+/status)", line)
        assert m, f"agent did not start: {line!r}"
        self.status_url = m.group(1)

    async def status(self) -> dict[str, Any]:
        async with httpx.AsyncClient(timeout=5) as http:
            return (await http.get(self.status_url)).json()

    async def wait_connected(self, limit_s: float = 30) -> dict[str, Any]:
        deadline = time.monotonic() + limit_s
        while True:
            with contextlib.suppress(httpx.HTTPError):
                st = await self.status()
                if all(s["state"] == "connected" for s in st["sources"].values()):
                    return st
            assert time.monotonic() < deadline, "the agent's MQTT source did not connect"
            await asyncio.sleep(0.1)

    async def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        await self.proc.wait()

    async def terminate(self) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return await asyncio.wait_for(self.proc.wait(), 60)

    def reap(self) -> None:
        """Kill whatever is still running (a failed test must leave no agent behind)."""
        for pid in self.pids:
            with contextlib.suppress(ProcessLookupError, ChildProcessError):
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)


def write_site(doc: dict[str, Any], path: Path) -> Path:
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path
