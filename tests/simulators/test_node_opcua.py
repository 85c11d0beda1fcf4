"""An independent OPC UA client (node-opcua, from npm) against the simulator's server."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from pathlib import Path

from egiz.simulators.service import SimulatorService

from ..conftest import require

PEER = Path(__file__).resolve().parents[1] / "peers" / "node-opcua"


def _npm_ci() -> None:
    require(shutil.which("node") is not None and shutil.which("npm") is not None, "node and npm")
    if not (PEER / "node_modules" / "node-opcua-client").is_dir():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=PEER, check=True, timeout=600)


def test_node_opcua_browses_reads_subscribes_and_calls(tmp_path: Path, opcua_port: int) -> None:
    _npm_ci()

    async def main() -> dict:
        async with SimulatorService(
            "demo", opcua_port=opcua_port, truth_dir=tmp_path, speed=4.0
        ) as sim:
            proc = await asyncio.create_subprocess_exec(
                "node",
                str(PEER / "client.js"),
                sim.opcua_endpoint,
                "demo",
                "pumping",
                "feed",
                "pump-1",
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env={"EGIZ_WATCH": "flow", "PATH": "/usr/bin:/bin"},
            )
            out, err = await asyncio.wait_for(proc.communicate(), 120)
            assert proc.returncode == 0, err.decode()[-2000:]
            result = [x for x in out.decode().splitlines() if x.startswith("EGIZ-RESULT ")]
            assert result, out.decode()[-2000:]
            return json.loads(result[-1].removeprefix("EGIZ-RESULT "))

    got = asyncio.run(main())
    assert [b["nodeId"] for b in got["browse"]] == [
        "ns=2;s=demo",
        "ns=2;s=demo.pumping",
        "ns=2;s=demo.pumping.feed",
        "ns=2;s=demo.pump-1",
    ]
    flow = got["signals"]["flow"]
    assert flow["nodeId"] == "ns=2;s=demo.pump-1.flow" and flow["status"] == "Good"
    assert flow["unit"] == "m³/h" and flow["unitId"] == 5067080 and flow["range"] == [0, 10000]
    assert flow["description"].startswith("Volumetric flow")
    assert got["signals"]["bearing_temp"]["unit"] == "°C"
    assert got["signals"]["speed_setpoint"]["range"] == [0, 1800]
    served = {
        (r["ts"], r["value"])
        for r in map(json.loads, (tmp_path / "served.jsonl").read_text().splitlines())
        if r["asset"] == "demo.pump-1" and r["signal"] == "flow"
    }
    notes = [
        (n["sourceTimestamp"], n["value"]) for n in got["notifications"] if n["status"] == "Good"
    ]
    assert len(notes) >= 5 and set(notes) <= served  # what node-opcua saw is what we logged
    assert got["methods"]["Stop"] == {"status": "Good", "runningAfter": 0}
    assert got["methods"]["Start"] == {"status": "Good", "runningAfter": 1}
