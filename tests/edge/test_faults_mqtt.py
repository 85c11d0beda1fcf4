"""Fault test: a Mosquitto the test starts itself (free port, never the shared one) restarted.

Oracle: every message the broker acknowledged to the publisher (QoS 1). The agent's persistent
session (clean_start false) and the broker's persistence must deliver each of them, including
those published while the agent was still reconnecting.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import time
import uuid

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from egiz.edge.agent import EdgeAgent

T0 = 1_800_000_000.0
RESTARTS = 3


class Broker:
    """A Mosquitto child process with persistence, restartable on the same port."""

    def __init__(self, tmp_path, port: int) -> None:
        self.port = port
        self.conf = tmp_path / "mosquitto.conf"
        (tmp_path / "mq").mkdir()
        self.conf.write_text(
            f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence true\n"
            f"persistence_location {tmp_path / 'mq'}/\nmax_queued_messages 100000\n"
            "set_tcp_nodelay true\n"
            # Run as root (CI), mosquitto would drop to user mosquitto and could not save here.
            "user root\n"
        )
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        self.proc = subprocess.Popen(
            [exe, "-c", str(self.conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                import socket

                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                return
            except OSError:
                assert time.monotonic() < deadline, "mosquitto did not start"
                time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()  # SIGTERM: mosquitto writes its persistence file
            self.proc.wait(timeout=10)
            self.proc = None


@pytest.mark.slow
def test_mqtt_broker_restarted_no_window_lost_or_duplicated(tmp_path, kit):
    broker = Broker(tmp_path, kit.free_port())
    broker.start()
    try:
        asyncio.run(_run(tmp_path, kit, broker))
    finally:
        broker.stop()


async def _run(tmp_path, kit, broker: Broker) -> None:
    prefix = f"t{uuid.uuid4().hex[:8]}"
    sources = [
        {
            "kind": "mqtt",
            "name": "mq",
            "url": f"mqtt://127.0.0.1:{broker.port}",
            "clean_start": False,
            "reconnect": {"initial_s": 3.0, "max_s": 3.0},
            "subscriptions": [{"topic": f"{prefix}/{{asset}}/{{signal}}"}],
        }
    ]
    pub = paho.Client(CallbackAPIVersion.VERSION2, client_id=prefix + "-pub")
    pub.reconnect_delay_set(0.1, 0.2)
    served: dict = {}
    with kit.IngestStub() as cloud:
        agent = EdgeAgent(kit.site_config(tmp_path, sources, uplink={"url": cloud.url}))
        stop = asyncio.Event()
        run = asyncio.create_task(agent.run(stop))
        await kit.wait_until(
            lambda: agent.sources and agent.sources[0].state == "connected", 20, "agent connected"
        )
        await asyncio.sleep(0.3)
        pub.connect("127.0.0.1", broker.port)
        pub.loop_start()
        i = 0

        async def burst(n: int) -> None:
            nonlocal i
            for _ in range(n):
                ts = T0 + i * 0.1
                value = 10.0 + (i * 13) % 29
                info = pub.publish(
                    f"{prefix}/motor-1/current", json.dumps({"value": value, "ts": ts}), qos=1
                )
                await asyncio.to_thread(info.wait_for_publish, 10)  # the broker has it
                served.setdefault(("motor-1", "current"), []).append((ts, value))
                i += 1
                await asyncio.sleep(0.005)

        for _ in range(RESTARTS):
            await burst(30)
            await kit.wait_until(
                lambda t=T0 + (i - 1) * 0.1: agent.windower.watermark >= t, 20, "burst delivered"
            )
            broker.stop()
            await kit.wait_until(
                lambda: agent.sources[0].state == "reconnecting", 20, "agent notices"
            )
            broker.start()
            await kit.wait_until(pub.is_connected, 20, "publisher back")
            # Published while the agent is still backing off: queued in its persistent session.
            await burst(15)
            await kit.wait_until(
                lambda t=T0 + (i - 1) * 0.1: agent.windower.watermark >= t,
                30,
                "queued messages delivered",
            )
        await burst(10)
        last_full = T0 + (i * 0.1 // 1.0) * 1.0
        pub.publish(
            f"{prefix}/motor-1/current", json.dumps({"value": 0, "ts": T0 + i * 0.1 + 10}), qos=1
        ).wait_for_publish(10)
        want = {k: v for k, v in kit.expected_windows(served, 1.0).items() if k[1] < last_full}
        await kit.wait_until(
            lambda: set(want) <= set(kit.stored_windows(cloud.of_type("window"))),
            30,
            "every window in the cloud",
        )
        pub.loop_stop()
        pub.disconnect()
        stop.set()
        await run
    got = kit.stored_windows(cloud.of_type("window"))
    assert kit.assert_windows_match(got, want) == len(want) >= int(i * 0.1) - 1
    states = [e["data"]["state"] for e in cloud.of_type("event") if e["kind"] == "source_status"]
    assert states.count("reconnecting") == RESTARTS
