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
import contextlib
import json
import logging
import ssl
import threading
import uuid
from collections import deque
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
    """A paho client on a network thread of our own; ``publish`` is safe to call from asyncio.

    Why not paho's ``loop_start``: paho-mqtt 2.2 sends a message published between a
    reconnect's socket and its CONNACK at once, ahead of the backlog it resends only after the
    CONNACK. After every broker restart a subscriber then saw newer values before older ones and
    a windowing edge dropped the older ones as late (the TLS handshake widens that gap). Here a
    message waits in our queue until the connection is up and paho has resent what it had in
    flight, then leaves in publish order. ``window`` bounds what is in flight (unacknowledged);
    ``max_pending`` bounds the queue: when full, the oldest message is dropped, counted in
    ``dropped`` and logged.
    """

    def __init__(
        self,
        url: str,
        qos: int = 1,
        retain: bool = False,
        client_id: str | None = None,
        ca_file: str | Path | None = None,
        *,
        window: int = 1000,
        max_pending: int = 1_000_000,
        reconnect_s: tuple[float, float] = (0.5, 30.0),
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
        # paho must never hold a message back (it would reorder it): our window bounds it.
        self.client.max_inflight_messages_set(0)
        self.client.max_queued_messages_set(0)
        self.window, self.max_pending = window, max_pending
        self.reconnect_s = reconnect_s
        self.connected = asyncio.Event()
        self.published = 0
        #: messages the broker acknowledged (QoS 1/2) or that left the socket (QoS 0)
        self.acked = 0
        #: oldest messages dropped because the queue was full
        self.dropped = 0
        self._pending: deque[tuple[str, bytes]] = deque()
        self._sent = 0
        self._closing = threading.Event()
        self._down = threading.Event()  # a communication fault holds the connection down
        self._thread: threading.Thread | None = None

    async def start(self, timeout_s: float = 10.0) -> None:
        """Connect (the network thread reconnects by itself afterwards)."""
        loop = asyncio.get_running_loop()

        def on_connect(_c, _u, _f, reason, _p) -> None:
            if not reason.is_failure:
                loop.call_soon_threadsafe(self.connected.set)

        def on_disconnect(_c, _u, _f, _reason, _p) -> None:
            loop.call_soon_threadsafe(self.connected.clear)

        def on_publish(_c, _u, _mid, _reason, _p) -> None:
            self.acked += 1  # the network thread's own counter

        self.client.on_connect = on_connect
        self.client.on_disconnect = on_disconnect
        self.client.on_publish = on_publish
        self._closing.clear()
        self._thread = threading.Thread(target=self._run, name="sim-mqtt", daemon=True)
        self._thread.start()
        try:
            await asyncio.wait_for(self.connected.wait(), timeout_s)
        except TimeoutError:
            await self._join()
            fix = "start a broker or pass another --mqtt URL"
            if self.tls:  # paho does not say why a handshake failed; name the usual cause
                fix += "; over TLS also check --mqtt-ca names the CA that issued its certificate"
            raise SimulatorError(
                f"cannot reach the MQTT broker at {self.host}:{self.port} within {timeout_s:.0f} s"
                f" (fix: {fix})"
            ) from None

    def publish(self, topic_: str, body: bytes) -> None:
        """Queue one message (any thread); the network thread sends it in order."""
        if len(self._pending) >= self.max_pending:
            self._pending.popleft()
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 10_000 == 0:
                log.warning(
                    "MQTT publish queue full (%d messages, broker %s:%d unreachable?): "
                    "dropped the oldest, %d so far",
                    self.max_pending, self.host, self.port, self.dropped,
                )  # fmt: skip
        self._pending.append((topic_, body))
        self.published += 1

    def drop_connection(self) -> None:
        """Disconnect on purpose (communication fault); :meth:`restore_connection` undoes it."""
        self._down.set()

    def restore_connection(self) -> None:
        """Reconnect after :meth:`drop_connection`."""
        self._down.clear()

    async def stop(self, drain_s: float = 5.0) -> None:
        """Wait (bounded) until queued messages are acknowledged, then disconnect."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + drain_s
        # Acks are counted on the network thread; polling is simpler than a cross-thread Event.
        while (  # noqa: ASYNC110
            loop.time() < deadline
            and self.connected.is_set()
            and self.acked + self.dropped < self.published
        ):
            await asyncio.sleep(0.02)
        await self._join()

    async def _join(self) -> None:
        self._closing.set()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, 10.0)
            self._thread = None

    # -- the network thread ----------------------------------------------------------------

    def _run(self) -> None:
        try:
            self._connections()
        except Exception:
            log.exception("MQTT publisher to %s:%d stopped", self.host, self.port)
        finally:
            with contextlib.suppress(Exception):
                self.client.disconnect()
                self.client.loop(0.01)

    def _connections(self) -> None:
        """Connect, serve the connection until it drops, back off, repeat until closed."""
        delay = first = self.reconnect_s[0]
        fresh = True
        while not self._closing.is_set():
            if self._down.is_set():
                self._closing.wait(0.02)
                continue
            try:
                if fresh:
                    self.client.connect(self.host, self.port, keepalive=30)
                    fresh = False
                else:
                    self.client.reconnect()
            except OSError as err:  # refused, unreachable, TLS handshake failed
                log.debug("MQTT connect to %s:%d failed: %r", self.host, self.port, err)
            else:
                if self._serve():
                    delay = first
            if not self._closing.is_set() and not self._down.is_set():
                self._closing.wait(delay)
                delay = min(delay * 2, self.reconnect_s[1])

    def _serve(self) -> bool:
        """Run one connection; True when it was up (CONNACK received) at some point."""
        client, up = self.client, False
        while not self._closing.is_set():
            if self._down.is_set():
                client.disconnect()
                client.loop(0.01)
                return up
            if client.loop(0.01) != mqtt.MQTT_ERR_SUCCESS:
                return up
            if client.is_connected():
                up = True  # paho resent its backlog while it handled the CONNACK
                self._drain()
        return up

    def _drain(self) -> None:
        pending, client = self._pending, self.client
        while pending and self._sent - self.acked < self.window:
            topic_, body = pending.popleft()
            info = client.publish(topic_, body, qos=self.qos, retain=self.retain)
            if info.rc != mqtt.MQTT_ERR_SUCCESS and self.qos == 0:
                pending.appendleft((topic_, body))  # QoS 0 is not kept by paho: try again later
                return
            self._sent += 1  # QoS 1/2: paho keeps it and resends it after a reconnect
