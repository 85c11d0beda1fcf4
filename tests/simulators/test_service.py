"""SimulatorService over real peers: an asyncua client and the machine's Mosquitto."""

from __future__ import annotations

import asyncio
import json
import queue
from datetime import UTC
from pathlib import Path

import paho.mqtt.client as mqtt
from asyncua import Client, ua
from paho.mqtt.enums import CallbackAPIVersion

from egiz.simulators.engine import iso
from egiz.simulators.scenario import parse_scenario
from egiz.simulators.service import SimulatorService


def _served(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _subscriber(prefix: str) -> tuple[mqtt.Client, queue.Queue]:
    got: queue.Queue = queue.Queue()
    c = mqtt.Client(CallbackAPIVersion.VERSION2)
    c.on_message = lambda _c, _u, m: got.put((m.topic, json.loads(m.payload)))
    c.connect("127.0.0.1", 1883)
    c.subscribe(f"{prefix}/#", qos=1)
    c.loop_start()
    return c, got


class _Handler:
    def __init__(self) -> None:
        self.values: list[ua.DataValue] = []

    def datachange_notification(self, _node, _val, data) -> None:
        self.values.append(data.monitored_item.Value)


def test_service_serves_what_it_logs(
    tmp_path: Path, opcua_port: int, topic_prefix: str, mosquitto
) -> None:
    sub, got = _subscriber(topic_prefix)

    async def main() -> None:
        async with (
            SimulatorService(
                "demo",
                opcua_port=opcua_port,
                mqtt_url="mqtt://127.0.0.1:1883",
                topic_prefix=topic_prefix,
                truth_dir=tmp_path,
                speed=4.0,
            ) as sim,
            Client(sim.opcua_endpoint) as client,
        ):
            root = client.nodes.objects
            flow = await root.get_child(["2:demo", "2:pumping", "2:feed", "2:pump-1", "2:flow"])
            assert flow.nodeid.to_string() == "ns=2;s=demo.pump-1.flow"
            eu = await (await flow.get_child("0:EngineeringUnits")).read_value()
            rng = await (await flow.get_child("0:EURange")).read_value()
            assert eu.DisplayName.Text == "m³/h" and (rng.Low, rng.High) == (0.0, 10000.0)
            assert (await flow.read_description()).Text.startswith("Volumetric flow")
            handler = _Handler()
            subscription = await client.create_subscription(50, handler)
            await subscription.subscribe_data_change(flow, queuesize=100)
            await asyncio.sleep(4.0)
            await subscription.delete()
        return handler.values

    seen = asyncio.run(main())
    sub.loop_stop()
    sub.disconnect()
    log = _served(tmp_path / "served.jsonl")
    index = {(r["asset"], r["signal"], r["ts"]): r for r in log}
    assert {r["protocol"] for r in log} == {"opcua", "mqtt"}
    # Every OPC UA notification equals a logged value at its source timestamp.
    good = [dv for dv in seen if dv.StatusCode.is_good()]
    assert len(good) >= 10
    for dv in good:
        ts = iso(dv.SourceTimestamp.replace(tzinfo=UTC).timestamp())
        assert index[("demo.pump-1", "flow", ts)]["value"] == dv.Value.Value
    # Every MQTT message equals a logged value; topic mirrors the ISA-95 path.
    messages = []
    while not got.empty():
        messages.append(got.get())
    assert len(messages) >= 10 * 10
    for topic, body in messages:
        prefix, site, area, asset, signal = topic.split("/")
        assert (prefix, site, area) == (topic_prefix, "demo", "conveying")
        rec = index[(f"demo.{asset}", signal, body["ts"])]
        assert (rec["value"], rec["status"], rec["protocol"]) == (
            body["value"],
            body["quality"],
            "mqtt",
        )
        assert body["ts"].endswith("Z")
    truth = [json.loads(x) for x in (tmp_path / "truth.jsonl").read_text().splitlines()]
    assert {t["asset"] for t in truth} == {"demo.pump-1", "demo.pump-2", "demo.motor-1"}


#: constant demand, so only the setpoint moves the operating point
STEADY = parse_scenario(
    """\
version: 1
site: {id: demo}
assets:
  - {id: pump-1, type: centrifugal_pump, area: pumping, line: feed, protocol: opcua}
""",
    "steady.yaml",
)


def test_service_setpoint_and_methods_change_physics(tmp_path: Path, opcua_port: int) -> None:
    async def read(client: Client, name: str) -> float:
        return await client.get_node(f"ns=2;s=demo.pump-1.{name}").read_value()

    async def settle() -> None:
        await asyncio.sleep(1.0)

    async def main() -> None:
        async with (
            SimulatorService(STEADY, opcua_port=opcua_port, truth_dir=tmp_path, speed=10.0) as sim,
            Client(sim.opcua_endpoint) as client,
        ):
            await settle()
            flow0, power0 = await read(client, "flow"), await read(client, "shaft_power")
            sp = client.get_node("ns=2;s=demo.pump-1.speed_setpoint")
            await sp.write_value(ua.DataValue(ua.Variant(1100.0, ua.VariantType.Double)))
            await settle()
            flow1, power1 = await read(client, "flow"), await read(client, "shaft_power")
            assert flow1 < 0.85 * flow0 and power1 < 0.7 * power0
            assert abs(await read(client, "speed") - 1100.0) < 10
            # Out-of-range writes are clamped; the variable shows what is in effect.
            await sp.write_value(ua.DataValue(ua.Variant(9999.0, ua.VariantType.Double)))
            await settle()
            assert await sp.read_value() == 1800.0
            pump = client.get_node("ns=2;s=demo.pump-1")
            await pump.call_method("2:Stop")
            await settle()
            assert await read(client, "running") == 0.0 and await read(client, "shaft_power") < 1.0
            await pump.call_method("2:Start")
            await settle()
            assert await read(client, "running") == 1.0 and await read(client, "flow") > 50

    asyncio.run(main())


def test_service_mqtt_document_layout(tmp_path: Path, topic_prefix: str, mosquitto) -> None:
    sub, got = _subscriber(topic_prefix)

    async def main() -> None:
        async with SimulatorService(
            "demo",
            opcua_port=None,
            mqtt_url="mqtt://127.0.0.1:1883",
            topic_prefix=topic_prefix,
            mqtt_layout="document",
            truth_dir=tmp_path,
            speed=4.0,
        ) as sim:
            await asyncio.sleep(1.0)
            await sim.inject("motor-1", "dropout", signal="current", duration_s=4)
            await asyncio.sleep(2.0)

    asyncio.run(main())
    sub.loop_stop()
    sub.disconnect()
    log = {(r["signal"], r["ts"]): r for r in _served(tmp_path / "served.jsonl")}
    docs, singles = [], []
    while not got.empty():
        topic, body = got.get()
        (docs if topic == f"{topic_prefix}/demo/conveying/motor-1" else singles).append(
            (topic, body)
        )
    assert len(docs) >= 10
    for _, body in docs:
        assert body["quality"] == "good"
        for signal, value in body["values"].items():
            assert log[(signal, body["ts"])]["value"] == value
    # the dropped-out signal leaves the document and goes alone, with its bad status
    assert singles and all(t.endswith("/motor-1/current") for t, _ in singles)
    assert all(b["value"] is None and b["quality"] == "bad" for _, b in singles)
    assert any("current" not in b["values"] for _, b in docs)
