"""An MQTT broker for the demo: the machine's when one answers, else an embedded one."""

from __future__ import annotations

import contextlib
import logging
import socket
from collections.abc import AsyncIterator

log = logging.getLogger(__name__)


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.asynccontextmanager
async def mqtt_broker(url: str | None) -> AsyncIterator[tuple[str, bool]]:
    """Yield ``(broker_url, embedded)``: the given/local broker, or an embedded amqtt one.

    An explicit ``url`` is used as is. Otherwise 127.0.0.1:1883 is used when it answers;
    if not, an embedded amqtt broker (about a third of Mosquitto's speed, plenty for a
    demo) is started on a free loopback port and stopped on exit.
    """
    if url:
        yield url, False
        return
    if _answers("127.0.0.1", 1883):
        yield "mqtt://127.0.0.1:1883", False
        return
    from amqtt.broker import Broker  # only needed on machines without a broker

    port = _free_port()
    broker = Broker(
        {
            "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{port}"}},
            "sys_interval": 0,
            "auth": {"allow-anonymous": True},
            "topic-check": {"enabled": False},
        }
    )
    await broker.start()
    log.info("no broker at 127.0.0.1:1883; embedded amqtt broker on port %d", port)
    try:
        yield f"mqtt://127.0.0.1:{port}", True
    finally:
        await broker.shutdown()
