"""The receive journal's bound is the source's ``journal_max_bytes``: filling it stops
journaling, says so once, and loses no received sample.

A Mosquitto of the test's own (the shared one drops QoS 1 messages past 1,000 queued for a
slow subscriber, which would be the broker's loss, not ours)."""

from __future__ import annotations

import asyncio
import json
import math
import uuid
from pathlib import Path

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from egiz.contracts import MqttSourceConfig
from egiz.edge.sources import SourceNote
from egiz.edge.sources.mqtt import MqttSource

from .mqtt_kit import Broker

BOUND = 1 << 20  # the smallest bound the config takes
N = 12_000  # ~125 bytes journaled each: ~1.4 MiB, past the bound


def test_journal_max_bytes_bounds_the_journal_and_the_overflow_is_reported(tmp_path: Path) -> None:
    with Broker(tmp_path) as broker:
        _bounded(tmp_path, ("127.0.0.1", broker.port))


def _bounded(tmp_path: Path, mosquitto: tuple[str, int]) -> None:
    prefix = f"jbound-{uuid.uuid4().hex[:8]}"
    cfg = MqttSourceConfig(
        name="bounded", url=f"mqtt://{mosquitto[0]}:{mosquitto[1]}", qos=1, clean_start=False,
        client_id=prefix, journal_max_bytes=BOUND,
        subscriptions=[{"topic": f"{prefix}/{{asset}}/{{signal}}"}],
    )  # fmt: skip
    notes: list[SourceNote] = []
    pub = paho.Client(CallbackAPIVersion.VERSION2, client_id=prefix + "-pub")
    pub.max_inflight_messages_set(500)
    pub.connect(*mosquitto)
    pub.loop_start()

    def publish() -> None:
        info = None
        for i in range(N):
            body = json.dumps({"value": float(i), "ts": 1.8e9 + i * 0.01, "quality": "good"})
            info = pub.publish(f"{prefix}/motor-{i % 4}/current", body, qos=1)
        assert info is not None
        info.wait_for_publish(30)

    async def receive() -> tuple[int, dict]:
        src = MqttSource(cfg, on_note=notes.append)
        src.open_journal(tmp_path / "journal", discard=True, replay_from=-math.inf)
        async with src:
            while src.state != "connected":  # noqa: ASYNC110 (set by paho's thread)
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.3)  # subscribed
            await asyncio.to_thread(publish)
            total, stream = 0, src.stream()
            async with asyncio.timeout(60):
                while total < N:
                    total += len(await anext(stream))
            return total, src.stats()

    try:
        total, stats = asyncio.run(receive())
    finally:
        pub.loop_stop()
        pub.disconnect()
    assert total == N  # the journal filling up loses nothing that was received
    journal = stats["journal"]
    assert journal["max_bytes"] == BOUND and journal["overflowed"], journal
    assert journal["bytes"] <= BOUND, journal
    full = [n for n in notes if "receive journal full" in n.message]
    assert len(full) == 1 and f"({BOUND} bytes)" in full[0].message, [n.message for n in notes]
    assert full[0].data["journal"] == "lapsed"
