"""MQTT publisher (paho-mqtt 2.x): one topic per signal, JSON payload with value, ts, quality.

Topic: ``<prefix>/<site>/<area>/[<line>/]<asset>/<signal>`` (prefix defaults to ``egiz``).
Payload: ``{"value": 12.5, "ts": "2026-01-01T00:00:01.000Z", "quality": "good"}``; a
dropout is ``"value": null`` with quality ``bad``. Document layout: one message per asset per
step on ``<prefix>/<site>/<area>/[<line>/]<asset>`` with
``{"ts": ..., "values": {"flow": 12.5, ...}, "quality": "good"}``; values whose status is not
good still go per signal, so their status reaches the subscriber.
"""

from __future__ import annotations

import asyncio
import json
import logging
import ssl
import uuid
from pathlib import Path
from urllib.parse import urlparse

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from .errors import SimulatorError

log = logging.getLogger(__name__)


def topic(prefix: str, site: str, path: tuple[str, ...], signal: str) -> str:
    """Return the topic of one signal."""
    return "/".join((prefix, site, *path, signal))


def payload(value: float, ts: str, quality: str) -> bytes:
    """Return the JSON payload of one value (NaN becomes null)."""
    return json.dumps(
        {"value": None if value != value else value, "ts": ts, "quality": quality}
    ).encode()


def document(values: dict[str, float], ts: str) -> bytes:
    """Return one asset's per-step JSON document: ``{"ts", "values": {signal: value}, "quality"}``."""
    return json.dumps({"ts": ts, "values": values, "quality": "good"}).encode()


class MqttPublisher:
    """A paho client on its own network thread; ``publish`` is safe to call from asyncio."""

    def __init__(
        self,
        url: str,
        qos: int = 1,
        retain: bool = False,
        client_id: str | None = None,
        ca_file: str | Path | None = None,
    ):
        parsed = urlparse(url)
        if parsed.scheme not in ("mqtt", "mqtts") or not parsed.hostname:
            raise SimulatorError(f"bad MQTT URL {url!r} (fix: write mqtt://host:1883)")
        self.host = parsed.hostname
        self.port = parsed.port or (8883 if parsed.scheme == "mqtts" else 1883)
        self.qos, self.retain = qos, retain
        self.tls = parsed.scheme == "mqtts"
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id or f"egiz-sim-{uuid.uuid4().hex[:8]}",
        )
        if parsed.scheme == "mqtts":
            # A site broker's certificate is usually issued by the plant's own CA, not a public one.
            self.client.tls_set(
                ca_certs=None if ca_file is None else str(ca_file), cert_reqs=ssl.CERT_REQUIRED
            )
        elif ca_file is not None:
            raise SimulatorError(f"an MQTT CA file needs an mqtts:// URL, not {url!r}")
        if parsed.username:
            self.client.username_pw_set(parsed.username, parsed.password)
        # Bursts at high --speed: let paho queue instead of refusing publishes.
        self.client.max_inflight_messages_set(1000)
        self.client.max_queued_messages_set(0)
        self.connected = asyncio.Event()
        self.published = 0
        #: messages the broker acknowledged (QoS 1/2) or that left the socket (QoS 0)
        self.acked = 0

    async def start(self, timeout_s: float = 10.0) -> None:
        """Connect (paho reconnects by itself afterwards)."""
        loop = asyncio.get_running_loop()

        def on_connect(_c, _u, _f, reason, _p) -> None:
            if not reason.is_failure:
                loop.call_soon_threadsafe(self.connected.set)

        def on_disconnect(_c, _u, _f, _reason, _p) -> None:
            loop.call_soon_threadsafe(self.connected.clear)

        def on_publish(_c, _u, _mid, _reason, _p) -> None:
            self.acked += 1  # paho's network thread; int += is atomic enough under the GIL

        self.client.on_connect = on_connect
        self.client.on_disconnect = on_disconnect
        self.client.on_publish = on_publish
        self.client.connect_async(self.host, self.port, keepalive=30)
        self.client.loop_start()
        try:
            await asyncio.wait_for(self.connected.wait(), timeout_s)
        except TimeoutError:
            self.client.loop_stop()
            fix = "start a broker or pass another --mqtt URL"
            if self.tls:  # paho does not say why a handshake failed; name the usual cause
                fix += "; over TLS also check --mqtt-ca names the CA that issued its certificate"
            raise SimulatorError(
                f"cannot reach the MQTT broker at {self.host}:{self.port} within {timeout_s:.0f} s"
                f" (fix: {fix})"
            ) from None

    def publish(self, topic_: str, body: bytes) -> None:
        """Queue one message."""
        self.client.publish(topic_, body, qos=self.qos, retain=self.retain)
        self.published += 1

    def drop_connection(self) -> None:
        """Disconnect on purpose (communication fault); :meth:`restore_connection` undoes it."""
        self.client.disconnect()
        self.client.loop_stop()

    def restore_connection(self) -> None:
        """Reconnect after :meth:`drop_connection`."""
        self.client.connect_async(self.host, self.port, keepalive=30)
        self.client.loop_start()

    async def stop(self, drain_s: float = 5.0) -> None:
        """Wait (bounded) until queued messages are acknowledged, then disconnect."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + drain_s
        # Acks are counted on paho's thread; polling is simpler than a cross-thread Event.
        while loop.time() < deadline and self.connected.is_set() and self.acked < self.published:  # noqa: ASYNC110
            await asyncio.sleep(0.02)
        self.client.disconnect()
        self.client.loop_stop()
