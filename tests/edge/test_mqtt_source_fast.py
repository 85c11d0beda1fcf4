"""The MQTT source's fast path against a real Mosquitto: buffered reads and coalesced PUBACKs
deliver every message once, acknowledge every one (nothing comes back on reconnect), and
survive a packet larger than the read buffer."""

from __future__ import annotations

import asyncio
import json
import uuid

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from egiz.contracts import MqttSourceConfig
from egiz.edge.sources.mqtt import MqttSource, _BufferedClient, _client_class

N = 3000
BIG = 20_000  # values in one document: ~400 kB, several reads of the 64 KiB buffer


def test_the_installed_paho_gets_the_buffered_client() -> None:
    # If a paho release renames the internals it overrides, the source silently falls back to
    # the stock client (correct, ~40 % slower): this test says so.
    assert _client_class(paho.MQTTv311) is _BufferedClient
    assert _client_class(paho.MQTTv5) is paho.Client


async def _receive(cfg: MqttSourceConfig, want: int, publish) -> tuple[dict, dict]:  # type: ignore[no-untyped-def]
    got: dict[int, list[tuple[float, float]]] = {}
    async with MqttSource(cfg) as src:
        while src.state != "connected":  # noqa: ASYNC110 (set by paho's thread)
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)  # subscribed
        await asyncio.to_thread(publish)
        stream = src.stream()
        total = 0
        async with asyncio.timeout(60):
            while total < want:
                batch = await anext(stream)
                for r, t, v in zip(batch.ref.tolist(), batch.ts.tolist(), batch.value.tolist(),
                                   strict=True):  # fmt: skip
                    got.setdefault(r, []).append((t, v))
                total += len(batch)
        await asyncio.sleep(0.5)  # PUBACKs of the last read leave
        return got, src.stats()


def test_every_message_once_and_acknowledged(mosquitto) -> None:  # type: ignore[no-untyped-def]
    prefix = f"fast-{uuid.uuid4().hex[:8]}"
    cfg = MqttSourceConfig(
        name="fast", url=f"mqtt://{mosquitto[0]}:{mosquitto[1]}", qos=1, clean_start=False,
        client_id=prefix,
        subscriptions=[
            {"topic": f"{prefix}/{{asset}}/{{signal}}"},
            {"topic": f"{prefix}/{{asset}}", "payload": {"format": "document"}},
        ],
    )  # fmt: skip
    pub = paho.Client(CallbackAPIVersion.VERSION2, client_id=prefix + "-pub")
    pub.max_inflight_messages_set(500)
    pub.connect(*mosquitto)
    pub.loop_start()

    def publish() -> None:
        info = None
        for i in range(N):
            body = json.dumps({"value": float(i), "ts": 1.8e9 + i * 0.01})
            info = pub.publish(f"{prefix}/m{i % 3}/current", body, qos=1)
        big = {"ts": 1.9e9, "values": {f"s{j}": float(j) for j in range(BIG)}}
        info = pub.publish(f"{prefix}/big", json.dumps(big), qos=1)
        info.wait_for_publish(30)

    try:
        got, stats = asyncio.run(_receive(cfg, N + BIG, publish))
        assert stats["malformed"] == 0 and stats["messages"] == N + 1
        singles = sorted(tv for tvs in got.values() for tv in tvs if tv[0] < 1.9e9)
        assert singles == [(1.8e9 + i * 0.01, float(i)) for i in range(N)]  # each once, in full
        bigs = [tv for tvs in got.values() for tv in tvs if tv[0] == 1.9e9]
        assert sorted(v for _t, v in bigs) == [float(j) for j in range(BIG)]

        # Same persistent session again: had any PUBACK been lost, the broker would resend.
        async def again() -> int:
            async with MqttSource(cfg) as src:
                stream = src.stream()
                try:
                    async with asyncio.timeout(3):
                        return len(await anext(stream))
                except TimeoutError:
                    return 0

        assert asyncio.run(again()) == 0
    finally:
        pub.loop_stop()
        pub.disconnect()
        # leave no persistent session behind on the shared broker
        c = paho.Client(CallbackAPIVersion.VERSION2, client_id=prefix, clean_session=True)
        c.connect(*mosquitto)
        c.disconnect()
