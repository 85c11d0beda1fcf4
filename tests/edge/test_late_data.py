"""Samples that arrive after their window closed are in no window: the agent says so.

A real Mosquitto in, a real HTTP ingest out. The publisher moves data time past a window, then
sends samples for it: they must not change the stored window, and a ``late_data`` event must
count them (rate-limited per source, counts accumulating between reports).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import datetime

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from egiz.edge import agent as agent_module
from egiz.edge.agent import EdgeAgent

T0 = 1_800_000_000.0  # a multiple of the 1 s window


def test_late_samples_are_reported_not_windowed(
    tmp_path, kit, mosquitto, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(agent_module, "LATE_NOTE_EVERY_S", 1.5)
    asyncio.run(_late(tmp_path, kit, mosquitto))


async def _late(tmp_path, kit, mosquitto) -> None:  # type: ignore[no-untyped-def]
    prefix = f"egiz-late-{uuid.uuid4().hex[:8]}"
    source = {
        "kind": "mqtt",
        "name": "broker",
        "url": f"mqtt://{mosquitto[0]}:{mosquitto[1]}",
        "client_id": prefix,
        "clean_start": True,
        "subscriptions": [{"topic": f"{prefix}/pumping/{{asset}}/{{signal}}"}],
    }
    topic = f"{prefix}/pumping/motor-1/current"
    pub = paho.Client(CallbackAPIVersion.VERSION2, client_id=prefix + "-pub")
    pub.connect(*mosquitto)
    pub.loop_start()

    def send(ts: float, value: float) -> None:
        body = json.dumps({"value": value, "ts": ts, "quality": "good"})
        pub.publish(topic, body, qos=1).wait_for_publish(5)

    def late_events() -> list[dict]:
        return [e for e in cloud.of_type("event") if e["kind"] == "late_data"]

    with kit.IngestStub() as cloud:
        agent = EdgeAgent(kit.site_config(tmp_path, [source], uplink={"url": cloud.url}))
        stop = asyncio.Event()
        run = asyncio.create_task(agent.run(stop))
        try:
            await kit.wait_until(
                lambda: agent.sources and agent.sources[0].state == "connected", 20, "connected"
            )
            await asyncio.sleep(0.5)  # the SUBACK
            for i in range(5):
                send(T0 + i * 0.2, 10.0 + i)
            send(T0 + 5, 1.0)  # data time moves past window T0 and its lateness
            await kit.wait_until(lambda: _window(cloud, T0), 15, "window T0 stored")
            for v in (99.0, 98.0, 97.0):
                send(T0 + 0.1, v)  # for the closed window T0
            await kit.wait_until(late_events, 15, "a late_data event")
            send(T0 + 0.3, 96.0)
            send(T0 + 0.7, 95.0)
            await kit.wait_until(lambda: len(late_events()) >= 2, 15, "the second report")
            assert agent.stats()["late_samples"] == 5
        finally:
            stop.set()
            await run
            pub.loop_stop()
    one, two = late_events()
    assert one["severity"] == "low"
    assert (one["data"]["count"], one["data"]["total"]) == (3, 3), one
    assert (two["data"]["count"], two["data"]["total"]) == (2, 5), two
    assert one["data"]["source"] == "broker" and one["data"]["lateness_s"] == 0.5
    assert "window.lateness_s" in one["message"]
    # the window kept what it had when it closed: the five on-time samples
    assert _window(cloud, T0)["signals"]["current"]["count"] == 5


def _window(cloud, start: float) -> dict | None:  # type: ignore[no-untyped-def]
    for rec in cloud.of_type("window"):
        if rec["asset"] == "motor-1" and datetime.fromisoformat(rec["start"]).timestamp() == start:
            return rec
    return None
