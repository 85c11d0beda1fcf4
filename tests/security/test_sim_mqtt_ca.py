"""The simulator publishes to a TLS broker whose certificate a private CA issued (`--mqtt-ca`),
and refuses the broker when it is not told which CA to trust."""

from __future__ import annotations

import asyncio
import ssl
import threading
import uuid
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from egiz.simulators.errors import SimulatorError
from egiz.simulators.scenario import load_scenario
from egiz.simulators.service import SimulatorService

from .tlskit import MQTT_USERS, tls_site


def _subscriber(tls, topic: str) -> tuple[paho.Client, list[str], threading.Event]:  # type: ignore[no-untyped-def]
    got: list[str] = []
    ready = threading.Event()
    sub = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"probe-{uuid.uuid4().hex[:6]}")
    sub.tls_set(ca_certs=str(tls.ca), cert_reqs=ssl.CERT_REQUIRED)
    sub.username_pw_set("edge", MQTT_USERS["edge"])
    sub.on_connect = lambda c, *_a: (c.subscribe(topic, qos=1), ready.set())
    sub.on_message = lambda _c, _u, m: got.append(m.topic)
    sub.connect("127.0.0.1", tls.mqtt_port)
    sub.loop_start()
    assert ready.wait(10), "probe subscriber did not connect"
    return sub, got, ready


def test_simulator_publishes_over_tls_with_its_own_ca(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    with tls_site(tmp_path, monkeypatch) as tls:
        monkeypatch.delenv("SSL_CERT_FILE")  # only the explicit CA file may make this work
        prefix = f"egiz-ca-{uuid.uuid4().hex[:6]}"
        sub, got, _ready = _subscriber(tls, f"{prefix}/#")
        try:

            async def serve(ca: Path | None) -> int:
                sim = SimulatorService(load_scenario("demo"), opcua_port=None,
                                       mqtt_url=tls.simulator_mqtt_url(), mqtt_ca_file=ca,
                                       topic_prefix=prefix, speed=10.0)  # fmt: skip
                async with sim:
                    await asyncio.sleep(2.0)
                    return sim.mqtt.acked if sim.mqtt else 0

            assert asyncio.run(serve(tls.ca)) > 0
            assert got and all(t.startswith(prefix + "/") for t in got)
            # Without the CA the broker's certificate is not trusted: no connection at all.
            got.clear()
            with pytest.raises(SimulatorError, match="--mqtt-ca"):
                asyncio.run(serve(None))
            assert not got
        finally:
            sub.loop_stop()
            sub.disconnect()


def test_simulator_mqtt_ca_needs_an_mqtts_url() -> None:
    with pytest.raises(SimulatorError, match="mqtts://"):
        SimulatorService(load_scenario("demo"), opcua_port=None,
                         mqtt_url="mqtt://127.0.0.1:1883", mqtt_ca_file="ca.pem")  # fmt: skip
