"""TLS really negotiated: the cloud over HTTPS with the edge's uplink verifying a custom CA, and
MQTT over TLS with credentials into the edge's MQTT source. Each reads back the protocol and
cipher, and a plain (or unauthenticated) connection is refused."""

from __future__ import annotations

import asyncio
import getpass
import socket
import ssl
import subprocess
import time
from pathlib import Path

import httpx
import paho.mqtt.client as paho
import pytest
import uvicorn
from paho.mqtt.enums import CallbackAPIVersion

from egiz.cli.certs import create
from egiz.cloud.app import create_app
from egiz.cloud.config import CloudSettings
from egiz.cloud.services.edges import add_edge
from egiz.contracts import MqttSourceConfig, UplinkConfig
from egiz.edge.outbox import LANE_HEARTBEAT, Item, Outbox
from egiz.edge.sources import make_source
from egiz.edge.uplink import Uplink


def _handshake(port: int, ca: Path) -> tuple[str, str]:
    ctx = ssl.create_default_context(cafile=str(ca))
    with socket.create_connection(("127.0.0.1", port), 5) as raw, \
            ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:  # fmt: skip
        return s.version() or "", s.cipher()[0]


def test_tls_cloud_https_and_edge_uplink_with_custom_ca(tmp_path: Path, unused_port: int) -> None:
    ca, _ = create(tmp_path / "certs", ("cloud",))
    app = create_app(CloudSettings(db_url=f"sqlite:///{tmp_path}/c.db"))
    token = add_edge(app.state.store, "e1")
    url = f"https://127.0.0.1:{unused_port}"

    async def main() -> None:
        cfg = uvicorn.Config(app, host="127.0.0.1", port=unused_port, log_level="warning",
                             ssl_certfile=str(tmp_path / "certs/cloud.pem"),
                             ssl_keyfile=str(tmp_path / "certs/cloud.key.pem"))  # fmt: skip
        server = uvicorn.Server(cfg)
        server.install_signal_handlers = lambda: None
        task = asyncio.create_task(server.serve())
        while not server.started:  # noqa: ASYNC110 (uvicorn exposes a flag, not an event)
            await asyncio.sleep(0.05)
        try:
            version, cipher = await asyncio.to_thread(_handshake, unused_port, ca)
            assert version in ("TLSv1.2", "TLSv1.3") and cipher, (version, cipher)
            async with httpx.AsyncClient() as plain:
                with pytest.raises(httpx.HTTPError):
                    await plain.get(f"http://127.0.0.1:{unused_port}/healthz")
                with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
                    await plain.get(f"{url}/healthz")  # system trust does not know our CA
            # The edge's own uplink, configured with the custom CA, delivers over HTTPS.
            outbox = Outbox(tmp_path / "outbox.db", 1 << 20, 3600)
            body = {"type": "heartbeat", "ts": "2026-11-26T00:00:00Z", "outbox_depth": 0}
            outbox.add([Item(LANE_HEARTBEAT, body, data_ts=time.time())])
            up = Uplink(UplinkConfig(url=url, edge_id="e1", token=token, ca_file=str(ca),
                                     interval_s=0.1), outbox, token=token)  # fmt: skip
            stop = asyncio.Event()
            run = asyncio.create_task(up.run(stop))
            deadline = time.monotonic() + 20
            while up.synced < 1:
                assert time.monotonic() < deadline, up.stats()
                await asyncio.sleep(0.1)
            stop.set()
            await run
            outbox.close()
            assert app.state.store.count("heartbeats") == 1
        finally:
            server.should_exit = True
            await task

    asyncio.run(main())


@pytest.fixture
def tls_broker(tmp_path: Path, unused_port: int):  # type: ignore[no-untyped-def]
    """Our own mosquitto on a free port: TLS only, no anonymous access (never the shared one)."""
    certs = tmp_path / "certs"
    create(certs, ("mqtt",))
    pw = tmp_path / "passwd"
    subprocess.run(["mosquitto_passwd", "-c", "-b", str(pw), "edge", "s3cret-pw"], check=True,
                   capture_output=True)  # fmt: skip
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(
        # Running as root, mosquitto would switch to a user that cannot read pytest's tmp dir.
        f"user {getpass.getuser()}\n"
        f"listener {unused_port} 127.0.0.1\nallow_anonymous false\npassword_file {pw}\n"
        f"cafile {certs / 'ca.pem'}\ncertfile {certs / 'mqtt.pem'}\n"
        f"keyfile {certs / 'mqtt.key.pem'}\n"
    )
    proc = subprocess.Popen(["mosquitto", "-c", str(conf)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)  # fmt: skip
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", unused_port), 0.5).close()
            break
        except OSError:
            assert proc.poll() is None, proc.stderr.read().decode()  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "mosquitto did not listen"
            time.sleep(0.1)
    yield unused_port, certs / "ca.pem"
    proc.terminate()
    proc.wait(10)


def _paho(port: int, ca: Path | None, user: str | None, pw: str | None) -> tuple[paho.Client, int]:
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
        return c, -1
    c.loop_start()
    deadline = time.monotonic() + 5
    while not rc and time.monotonic() < deadline and c.is_connected() is not None:
        time.sleep(0.05)
    return c, rc[0] if rc else -1


def test_tls_mqtt_with_credentials_into_the_edge_source(tls_broker) -> None:  # type: ignore[no-untyped-def]
    port, ca = tls_broker
    pub, rc = _paho(port, ca, "edge", "s3cret-pw")
    assert rc == 0
    sock = pub.socket()
    assert isinstance(sock, ssl.SSLSocket) and sock.version() in ("TLSv1.2", "TLSv1.3")
    assert sock.cipher()[0]
    for args in ((None, "edge", "s3cret-pw"), (ca, "edge", "wrong"), (ca, None, None)):
        c, code = _paho(port, *args)
        assert code != 0, args  # plain, wrong password, anonymous: all refused
        c.loop_stop()
    cfg = MqttSourceConfig(name="tls", url=f"mqtts://127.0.0.1:{port}", username="edge",
                           password="s3cret-pw", ca_file=str(ca), clean_start=True,
                           subscriptions=[{"topic": "tls-test/{asset}/{signal}"}])  # fmt: skip

    async def main() -> int:
        src = make_source(cfg)
        got = 0
        async with src:

            async def publish() -> None:
                while True:
                    pub.publish("tls-test/pump-1/flow", '{"value": 12.5}', qos=1)
                    await asyncio.sleep(0.2)

            feeder = asyncio.create_task(publish())
            try:
                async with asyncio.timeout(20):
                    async for batch in src.stream():
                        got += len(batch)
                        if got:
                            break
            finally:
                feeder.cancel()
        return got

    assert asyncio.run(main()) > 0
    pub.loop_stop()
    pub.disconnect()
