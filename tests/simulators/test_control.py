"""The HTTP control endpoint: inject machine, sensor and communication faults into a live plant."""

from __future__ import annotations

import asyncio
import itertools
import json
from pathlib import Path

from asyncua import Client

from egiz.cli.main import main as egiz
from egiz.simulators.service import SimulatorService


def _log(path: Path) -> list[dict]:
    return [json.loads(x) for x in (path / "served.jsonl").read_text().splitlines()]


def _seconds(path: Path, proto: str, asset: str) -> list[int]:
    ts = sorted({r["ts"] for r in _log(path) if r["protocol"] == proto and r["asset"] == asset})
    return [int(t[11:13]) * 3600 + int(t[14:16]) * 60 + int(t[17:19]) for t in ts]


def _gap(path: Path, proto: str, asset: str) -> int:
    secs = _seconds(path, proto, asset)
    return max((b - a for a, b in itertools.pairwise(secs)), default=0)


def test_control_inject_sensor_machine_and_comm_faults(
    tmp_path: Path, opcua_port: int, topic_prefix: str, mosquitto, capsys
) -> None:
    async def main() -> dict:
        async with SimulatorService(
            "demo",
            opcua_port=opcua_port,
            mqtt_url="mqtt://127.0.0.1:1883",
            topic_prefix=topic_prefix,
            truth_dir=tmp_path,
            speed=5.0,
            control_port=0,
        ) as sim:
            url = sim.control_url
            cli = lambda *a: asyncio.to_thread(egiz, ["sim", *a, "--control", url])  # noqa: E731
            await asyncio.sleep(1.0)
            assert (
                await cli(
                    "inject",
                    "--asset",
                    "pump-2",
                    "--fault",
                    "dropout",
                    "--signal",
                    "flow",
                    "--duration",
                    "5",
                )
                == 0
            )
            assert await cli("inject", "--asset", "pump-1", "--fault", "blocked_line") == 0
            assert (
                await cli(
                    "inject", "--fault", "publish_pause", "--protocol", "mqtt", "--duration", "10"
                )
                == 0
            )
            assert await cli("inject", "--asset", "pump-1", "--fault", "warp_core_breach") == 1
            await asyncio.sleep(3.0)
            assert await cli("inject", "--fault", "server_restart", "--duration", "5") == 0
            for _ in range(300):  # until OPC UA values flow again after the restart's gap
                await asyncio.sleep(0.1)
                if _gap(tmp_path, "opcua", "demo.pump-1") >= 5 and sim.opcua_endpoint:
                    secs = _seconds(tmp_path, "opcua", "demo.pump-1")
                    if secs[-1] - max(b for a, b in itertools.pairwise(secs) if b - a >= 5) >= 2:
                        break
            async with Client(sim.opcua_endpoint) as client:  # it is back
                assert await client.get_node("ns=2;s=demo.pump-1.running").read_value() == 1.0
            assert await cli("status") == 0
            return sim.status()

    status = asyncio.run(main())
    _out, err = capsys.readouterr()
    assert "has no fault 'warp_core_breach'" in err
    assert {f["mode"] for f in status["active_faults"]} == {"blocked_line"}  # dropout expired
    assert {f["mode"] for f in status["comm_faults"]} == {"publish_pause", "server_restart"}
    log = _log(tmp_path)
    flow2 = [r for r in log if (r["asset"], r["signal"]) == ("demo.pump-2", "flow")]
    bad = [r for r in flow2 if r["status"] == "bad"]
    assert 4 <= len(bad) <= 5 and all(r["value"] is None for r in bad)  # 5 s of dropout
    assert flow2[-1]["status"] == "good"
    flow1 = [r["value"] for r in log if (r["asset"], r["signal"]) == ("demo.pump-1", "flow")]
    assert flow1[-1] < 0.5 * flow1[0]  # the blocked line throttles the pump
    # publish pause and server restart leave gaps: nothing served, nothing logged
    assert _gap(tmp_path, "mqtt", "demo.motor-1") >= 5
    assert _gap(tmp_path, "opcua", "demo.pump-1") >= 5


def test_control_mqtt_disconnect_drops_and_restores(
    tmp_path: Path, topic_prefix: str, mosquitto
) -> None:
    async def main() -> tuple[int, int]:
        async with SimulatorService(
            "demo",
            opcua_port=None,
            mqtt_url="mqtt://127.0.0.1:1883",
            topic_prefix=topic_prefix,
            truth_dir=tmp_path,
            speed=5.0,
        ) as sim:
            await asyncio.sleep(1.0)
            await sim.inject(None, "disconnect", duration_s=10)
            await asyncio.sleep(0.5)
            down = sim.mqtt.connected.is_set()
            for _ in range(100):
                await asyncio.sleep(0.1)
                if sim.mqtt.connected.is_set() and _gap(tmp_path, "mqtt", "demo.motor-1") >= 10:
                    break
            await asyncio.sleep(1.0)
            return down, sim.mqtt.connected.is_set()

    was_up_during, up_after = asyncio.run(main())
    assert not was_up_during and up_after
    secs = _seconds(tmp_path, "mqtt", "demo.motor-1")
    assert _gap(tmp_path, "mqtt", "demo.motor-1") >= 10 and secs[-1] - secs[0] > 15
