"""TLS for the end-to-end tests: certificates from `egiz certs`, a private TLS-only mosquitto
with credentials, a probe on the edge's uplink socket, and checks that what was negotiated is
what we asked for and that plain clients are refused on every secured endpoint."""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as paho
from asyncua import Client, ua
from paho.mqtt.enums import CallbackAPIVersion

from egiz.cli.certs import create as create_certs

#: MQTT users of the TLS broker: the edge reads, the simulator (the plant side) publishes.
MQTT_USERS = {"edge": "edge-mqtt-pw", "sim": "sim-mqtt-pw"}
CERT_NAMES = ("edge", "simulator", "cloud", "mqtt")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Tls:
    """Certificates of one test run and the private TLS broker's port."""

    certs: Path
    mqtt_port: int = 0

    @property
    def ca(self) -> Path:
        """The custom CA every peer is verified against."""
        return self.certs / "ca.pem"

    def context(self) -> ssl.SSLContext:
        """A client context trusting only our CA."""
        return ssl.create_default_context(cafile=str(self.ca))

    def cloud_ssl(self) -> dict[str, str]:
        """uvicorn.Config keyword arguments for HTTPS."""
        return {"ssl_certfile": str(self.certs / "cloud.pem"),
                "ssl_keyfile": str(self.certs / "cloud.key.pem")}  # fmt: skip

    def simulator_opcua(self) -> dict[str, str]:
        """SimulatorService(opcua_security=...): SignAndEncrypt only, trusting our CA."""
        trusted = self.certs / "trusted"
        if not trusted.exists():
            trusted.mkdir()
            (trusted / "ca.pem").write_bytes(self.ca.read_bytes())
        return {"certificate": str(self.certs / "simulator.pem"),
                "private_key": str(self.certs / "simulator.key.pem"), "ca_dir": str(trusted)}  # fmt: skip

    def edge_opcua(self) -> dict[str, str]:
        """The edge OPC UA source's ``security``."""
        return {"policy": "Basic256Sha256", "mode": "SignAndEncrypt",
                "certificate": str(self.certs / "edge.pem"),
                "private_key": str(self.certs / "edge.key.pem"),
                "server_certificate": str(self.certs / "simulator.pem")}  # fmt: skip

    def edge_mqtt(self) -> dict[str, Any]:
        """The edge MQTT source's url and credentials."""
        return {"url": f"mqtts://127.0.0.1:{self.mqtt_port}", "username": "edge",
                "password": MQTT_USERS["edge"], "ca_file": str(self.ca)}  # fmt: skip

    def simulator_mqtt_url(self) -> str:
        """The simulator's publisher: TLS with credentials (it trusts SSL_CERT_FILE = our CA)."""
        return f"mqtts://sim:{MQTT_USERS['sim']}@127.0.0.1:{self.mqtt_port}"


@contextlib.contextmanager
def tls_site(workdir: Path, monkeypatch: Any) -> Iterator[Tls]:
    """Certificates (`egiz certs`) and a private mosquitto: TLS only, no anonymous access.

    The simulator's MQTT publisher verifies against the system trust store; SSL_CERT_FILE
    points that store at our CA for this test only (monkeypatch restores it)."""
    tls = Tls(workdir / "certs")
    create_certs(tls.certs, CERT_NAMES)
    monkeypatch.setenv("SSL_CERT_FILE", str(tls.ca))
    pw = workdir / "mosquitto.passwd"
    for i, (user, secret) in enumerate(MQTT_USERS.items()):
        subprocess.run(["mosquitto_passwd", *(["-c"] if i == 0 else []), "-b", str(pw), user,
                        secret], check=True, capture_output=True)  # fmt: skip
    tls.mqtt_port = _free_port()
    conf = workdir / "mosquitto.conf"
    conf.write_text(
        # Running as root, mosquitto would switch to a user that cannot read pytest's tmp dir.
        f"user {getpass.getuser()}\n"
        f"listener {tls.mqtt_port} 127.0.0.1\nallow_anonymous false\npassword_file {pw}\n"
        f"cafile {tls.ca}\ncertfile {tls.certs / 'mqtt.pem'}\n"
        f"keyfile {tls.certs / 'mqtt.key.pem'}\n"
    )
    proc = subprocess.Popen(["mosquitto", "-c", str(conf)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)  # fmt: skip
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", tls.mqtt_port), 0.5).close()
                break
            except OSError:
                assert proc.poll() is None, proc.stderr.read().decode()  # type: ignore[union-attr]
                assert time.monotonic() < deadline, "mosquitto did not listen"
                time.sleep(0.1)
        yield tls
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


class TlsProbe(httpx.AsyncHTTPTransport):
    """The edge uplink's transport: records the TLS version and cipher of the very socket each
    answer came in on (None for plain HTTP)."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.negotiated: list[tuple[str, str] | None] = []

    def record(self, resp: httpx.Response) -> None:
        """Read the TLS session back from the response's network stream."""
        stream = resp.extensions.get("network_stream")
        obj = stream.get_extra_info("ssl_object") if stream is not None else None
        self.negotiated.append(None if obj is None else (obj.version(), obj.cipher()[0]))

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        resp = await super().handle_async_request(request)
        self.record(resp)
        return resp


@dataclass
class Negotiated:
    """What each link negotiated, read back from the live sockets and sessions."""

    uplink: set[tuple[str, str] | None] = field(default_factory=set)
    mqtt: dict[str, Any] | None = None
    opcua: set[tuple[str, Any]] = field(default_factory=set)


def negotiated(agent: Any, probe: TlsProbe, sim: Any) -> Negotiated:
    """Read back the uplink's TLS (probe), the MQTT source's socket, the OPC UA sessions."""
    mqtt = [s for s in agent.sources if s.config.kind == "mqtt"]
    chans = [p.processor._connection.security_policy for p in sim.opcua.server.bserver.clients]
    return Negotiated(
        uplink=set(probe.negotiated),
        mqtt=mqtt[0].tls if mqtt else None,
        opcua={(c.URI.rsplit("#", 1)[-1], c.Mode) for c in chans},
    )


def assert_tls_negotiated(got: Negotiated) -> None:
    """Every link encrypted: TLS 1.2+ with a cipher on the uplink and MQTT sockets, and
    Basic256Sha256 SignAndEncrypt on every OPC UA session of the simulator."""
    assert got.uplink and None not in got.uplink, got.uplink
    assert {v for v, _ in got.uplink} <= {"TLSv1.2", "TLSv1.3"} and all(c for _, c in got.uplink)  # type: ignore[misc]
    assert got.mqtt and got.mqtt["version"] in ("TLSv1.2", "TLSv1.3") and got.mqtt["cipher"], got.mqtt
    assert got.opcua == {("Basic256Sha256", ua.MessageSecurityMode.SignAndEncrypt)}, got.opcua


def assert_plain(got: Negotiated) -> None:
    """The plain variant really is plain (so the TLS variant is the one proving something)."""
    assert got.uplink == {None}, got.uplink
    assert got.mqtt is None, got.mqtt
    assert got.opcua == {("None", ua.MessageSecurityMode.None_)}, got.opcua


def _mqtt_rc(port: int, ca: Path | None, user: str | None, pw: str | None) -> int:
    c = paho.Client(CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
    if user:
        c.username_pw_set(user, pw)
    if ca:
        c.tls_set(ca_certs=str(ca))
    rc: list[int] = []
    c.on_connect = lambda _c, _u, _f, reason, _p: rc.append(reason.value)
    try:
        c.connect("127.0.0.1", port, keepalive=10)
    except (OSError, ssl.SSLError):
        return -1
    c.loop_start()
    deadline = time.monotonic() + 5
    while not rc and time.monotonic() < deadline:
        time.sleep(0.05)
    c.loop_stop()
    c.disconnect()
    return rc[0] if rc else -1


async def assert_plain_refused(tls: Tls, cloud_port: int, opcua_endpoint: str) -> None:
    """A plain client is refused by each secured endpoint: HTTPS cloud, TLS broker (also
    without or with wrong credentials), SignAndEncrypt-only OPC UA server."""
    async with httpx.AsyncClient() as c:
        try:
            await c.get(f"http://127.0.0.1:{cloud_port}/healthz")
        except httpx.HTTPError:
            pass
        else:
            raise AssertionError("plain HTTP was answered by the HTTPS cloud")
    for args in ((None, "edge", MQTT_USERS["edge"]), (tls.ca, "edge", "wrong"),
                 (tls.ca, None, None)):  # fmt: skip
        code = await asyncio.to_thread(_mqtt_rc, tls.mqtt_port, *args)
        assert code != 0, ("MQTT accepted", args)
    assert await asyncio.to_thread(_mqtt_rc, tls.mqtt_port, tls.ca, "edge",
                                   MQTT_USERS["edge"]) == 0  # the control case connects
    plain = Client(opcua_endpoint, timeout=5)
    try:
        async with plain:
            await plain.get_namespace_array()
    except (ua.UaError, OSError, TimeoutError):
        pass
    else:
        raise AssertionError("OPC UA security None was accepted")
