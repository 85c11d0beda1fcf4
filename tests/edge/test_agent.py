"""The agent end to end: a real asyncua server and Mosquitto in, a real HTTP ingest out."""

from __future__ import annotations

import asyncio
import json
import math
import time
import urllib.request
import uuid
from datetime import datetime

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from egiz.contracts import RECORD_ADAPTER
from egiz.edge.agent import EdgeAgent

T0 = 1_800_000_000.0  # data time of the first sample: a multiple of the 1 s window


async def wait_for(cond, limit_s: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + limit_s
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def expected(samples):
    """Per (asset, window start, signal): the statistics docs/edge.md defines, recomputed."""
    out = {}
    for (asset, signal), rows in samples.items():
        for ts, v in rows:
            k = math.floor(ts)
            out.setdefault((asset, float(k), signal), []).append((ts, v))
    stats = {}
    for key, rows in out.items():
        vals = [v for _, v in sorted(rows)]
        mean = sum(vals) / len(vals)
        stats[key] = {
            "count": len(vals),
            "min": min(vals),
            "max": max(vals),
            "mean": mean,
            "std": math.sqrt(sum((v - mean) ** 2 for v in vals) / len(vals)),
            "last": vals[-1],
        }
    return stats


def test_agent_opcua_and_mqtt_windows_reach_the_cloud(tmp_path, kit, mosquitto):
    asyncio.run(_agent_end_to_end(tmp_path, kit, mosquitto))


async def _agent_end_to_end(tmp_path, kit, mosquitto):
    port = kit.free_port()
    prefix = f"egiz-test-{uuid.uuid4().hex[:8]}"
    names = ["test.pump-1.flow", "test.pump-1.bearing_temp"]
    sources = [
        {
            "kind": "opcua",
            "name": "plc",
            "endpoint": f"opc.tcp://127.0.0.1:{port}/egiz/",
            "subscription": {"publishing_interval_ms": 50},
            "nodes": [
                {"node": f"ns=2;s={names[0]}", "asset": "pump-1", "signal": "flow"},
                {
                    "node": f"ns=2;s={names[1]}",
                    "asset": "pump-1",
                    "signal": "bearing_temp",
                    "unit": "degF",
                },
            ],
        },
        {
            "kind": "mqtt",
            "name": "broker",
            "url": f"mqtt://{mosquitto[0]}:{mosquitto[1]}",
            "client_id": prefix,
            "clean_start": True,
            "subscriptions": [{"topic": f"{prefix}/pumping/{{asset}}/{{signal}}"}],
        },
    ]
    with kit.IngestStub() as cloud:
        cfg = kit.site_config(tmp_path, sources, uplink={"url": cloud.url})
        agent = EdgeAgent(cfg)
        stop = asyncio.Event()
        async with kit.opcua_server(port, names) as (_server, nodes):
            run = asyncio.create_task(agent.run(stop))
            await wait_for(
                lambda: all(s.state == "connected" for s in agent.sources), 20, "sources connected"
            )
            await asyncio.sleep(0.5)  # the MQTT SUBACK and the first publish cycle
            pub = paho.Client(CallbackAPIVersion.VERSION2, client_id=prefix + "-pub")
            pub.connect(*mosquitto)
            pub.loop_start()
            sent: dict[tuple[str, str], list[tuple[float, float]]] = {}
            for i in range(40):  # 4 s of data time at 10 Hz, written faster than real time
                ts = T0 + i * 0.1
                flow, temp_f, current = 100 + i, 212.0 + i, 10 + (i % 7)
                await kit.write(nodes[names[0]], flow, ts)
                await kit.write(nodes[names[1]], temp_f, ts)
                sent.setdefault(("pump-1", "flow"), []).append((ts, flow))
                sent.setdefault(("pump-1", "bearing_temp"), []).append((ts, (temp_f - 32) / 1.8))
                pub.publish(
                    f"{prefix}/pumping/motor-1/current",
                    json.dumps({"value": current, "ts": ts, "quality": "good"}),
                    qos=1,
                )
                sent.setdefault(("motor-1", "current"), []).append((ts, current))
                await asyncio.sleep(0.03)
            pub.publish(f"{prefix}/pumping/motor-1/current", b"{not json", qos=1)
            # one sample far ahead per source moves the watermark past every window above
            await kit.write(nodes[names[0]], 100, T0 + 10)
            pub.publish(
                f"{prefix}/pumping/motor-1/current", json.dumps({"value": 1, "ts": T0 + 10}), qos=1
            ).wait_for_publish(5)
            want = expected(sent)
            await wait_for(
                lambda: len({(r["asset"], r["start"]) for r in cloud.of_type("window")}) >= 8,
                30,
                "8 windows stored in the cloud",
            )
            status = json.loads(
                await asyncio.to_thread(
                    lambda: urllib.request.urlopen(
                        f"http://127.0.0.1:{agent.status_port}/status", timeout=5
                    ).read()
                )
            )
            await wait_for(lambda: cloud.of_type("heartbeat"), 10, "a heartbeat")
            await wait_for(
                lambda: any(e["kind"] == "malformed_input" for e in cloud.of_type("event")),
                15,
                "malformed event",
            )
            active = agent.stats()["alarms"]
            await wait_for(
                lambda: any(e["kind"] == "alarm_raise" for e in cloud.of_type("event")),
                10,
                "the alarm event",
            )
            stop.set()
            await run
            pub.loop_stop()
    got = {}
    for rec in cloud.of_type("window"):
        RECORD_ADAPTER.validate_python(rec)
        start = datetime.fromisoformat(rec["start"]).timestamp()
        for sig, s in rec["signals"].items():
            key = (rec["asset"], start, sig)
            assert key not in got, f"window {key} stored twice"
            got[key] = s
    for key, s in want.items():
        g = got[key]
        assert g["count"] == s["count"], key
        for f in ("min", "max", "mean", "std", "last"):
            assert math.isclose(g[f], s[f], rel_tol=1e-9, abs_tol=1e-9), (key, f)
    assert set(want) <= set(got)
    assert len(cloud.of_type("manifest")) == 1
    # (212 + i - 32) / 1.8 > 120 from i = 37: raised at that sample's data time, still active
    (alarm,) = [e for e in cloud.of_type("event") if e["kind"].startswith("alarm")]
    assert (alarm["asset"], alarm["signal"], alarm["data"]["limit"]) == (
        "pump-1",
        "bearing_temp",
        "hi",
    )
    assert math.isclose(datetime.fromisoformat(alarm["ts"]).timestamp(), T0 + 3.7, abs_tol=1e-6)
    assert [a["alarm_id"] for a in active] == [alarm["alarm_id"]]
    assert status["sources"]["plc"]["state"] == "connected"
    assert status["windows_made"] >= 8 and status["samples"]["opcua"] >= 80
    assert {epoch for epoch, _seq in cloud.records} == {status["outbox"]["epoch"]}
