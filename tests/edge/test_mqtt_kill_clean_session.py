"""Fault test: an agent fed by an MQTT *clean* session killed with SIGKILL. Without a
persistent session the broker drops what arrives while the agent is down, so there is no
receive journal and nothing can make the kill lossless: the loss must be exactly what a
data_gap event reports: [first unemitted window, first new sample). (The same path serves a
journal that overflowed or predates a reboot; the persistent-session case, which loses
nothing, is tests/edge/test_faults_kill_mqtt.py.)

Oracle: the messages the broker acknowledged. Windows wholly outside the reported gap must
match the log exactly; none may be stored twice.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import uuid
from datetime import datetime

import paho.mqtt.client as paho
import pytest
import yaml
from paho.mqtt.enums import CallbackAPIVersion

T0 = 1_800_000_000.0


@pytest.mark.slow
def test_mqtt_clean_session_kill_loss_is_exactly_the_gap_event(tmp_path, kit, mosquitto):
    asyncio.run(_run(tmp_path, kit, mosquitto))


async def _run(tmp_path, kit, mosquitto) -> None:
    prefix = f"egiz-kill-{uuid.uuid4().hex[:8]}"
    sources = [
        {
            "kind": "mqtt",
            "name": "mq",
            "url": f"mqtt://{mosquitto[0]}:{mosquitto[1]}",
            "clean_start": True,
            "client_id": prefix,
            "subscriptions": [{"topic": f"{prefix}/{{asset}}/{{signal}}"}],
        }
    ]
    pub = paho.Client(CallbackAPIVersion.VERSION2, client_id=prefix + "-pub")
    pub.connect(*mosquitto)
    pub.loop_start()
    served: dict = {}
    i = 0

    async def burst(n: int) -> None:
        nonlocal i
        for _ in range(n):
            ts, value = T0 + i * 0.1, 10.0 + (i * 7) % 19
            info = pub.publish(
                f"{prefix}/motor-1/current", json.dumps({"value": value, "ts": ts}), qos=1
            )
            await asyncio.to_thread(info.wait_for_publish, 10)
            served.setdefault(("motor-1", "current"), []).append((ts, value))
            i += 1
            await asyncio.sleep(0.01)

    with kit.IngestStub() as cloud:
        cfg = kit.site_config(tmp_path, sources, uplink={"url": cloud.url})
        doc = cfg.model_dump(mode="json", by_alias=True, exclude_none=True)
        doc["uplink"]["token"] = kit.TOKEN
        (tmp_path / "site.yaml").write_text(yaml.safe_dump(doc))

        async def start():
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "egiz.cli.main",
                "edge",
                "run",
                "--config",
                str(tmp_path / "site.yaml"),
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.DEVNULL,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
            assert b"/status" in await asyncio.wait_for(proc.stdout.readline(), 60)
            await asyncio.sleep(1.0)  # subscribed
            return proc

        proc = await start()
        await burst(45)  # windows 0..2 close, windows 3 and 4 are open at the kill
        await asyncio.sleep(1.0)
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
        await burst(10)  # published while the agent is dead (clean session: never delivered)
        proc = await start()
        await burst(40)
        pub.publish(
            f"{prefix}/motor-1/current", json.dumps({"value": 0, "ts": T0 + i * 0.1 + 10}), qos=1
        ).wait_for_publish(10)
        last_full = T0 + (i * 0.1 // 1.0) * 1.0
        await kit.wait_until(
            lambda: (
                any(e["kind"] == "data_gap" for e in cloud.of_type("event"))
                and kit.stored_windows(cloud.of_type("window")).keys()
                >= {("motor-1", last_full - 1.0, "current")}
            ),
            30,
            "gap and windows",
        )
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 30) == 0
    pub.loop_stop()
    (gap,) = [e for e in cloud.of_type("event") if e["kind"] == "data_gap"]
    g0 = datetime.fromisoformat(gap["start"]).timestamp()
    g1 = datetime.fromisoformat(gap["end"]).timestamp()
    assert gap["data"]["reason"] == "agent_killed" and gap["data"]["assets"] == ["motor-1"]
    # last sample before the kill: T0 + 4.4; with 0.5 s lateness windows before T0 + 3 closed
    assert g0 == T0 + 3.0  # the first window not emitted before the kill
    assert g0 < g1 <= T0 + 6.0  # up to the first sample the restarted agent received
    want = {k: v for k, v in kit.expected_windows(served, 1.0).items() if k[1] < last_full}
    got = kit.stored_windows(cloud.of_type("window"))  # fails on a duplicate
    outside = {k for k in want if k[1] + 1.0 <= g0 or k[1] >= g1}
    assert kit.assert_windows_match(got, want, keys=outside) == len(outside) >= 6
