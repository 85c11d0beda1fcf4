"""HistoryRead: a client that was away reads the missed values back, equal to the served log."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from asyncua import Client

from egiz.simulators.engine import iso
from egiz.simulators.service import SimulatorService

NODES = ("pump-1.flow", "pump-2.vibration", "pump-2.bearing_temp")


def test_history_backfill_equals_served_log(tmp_path: Path, opcua_port: int) -> None:
    async def main() -> tuple[datetime, datetime, dict]:
        async with SimulatorService(
            "demo", opcua_port=opcua_port, truth_dir=tmp_path, speed=5.0, history_s=600
        ) as sim:
            await asyncio.sleep(1.5)
            async with Client(sim.opcua_endpoint) as client:
                last = await client.get_node(f"ns=2;s=demo.{NODES[0]}").read_data_value()
            seen_until = last.SourceTimestamp
            await asyncio.sleep(3.0)  # the client is away: ~15 simulated seconds
            async with Client(sim.opcua_endpoint) as client:
                now = await client.get_node(f"ns=2;s=demo.{NODES[0]}").read_data_value()
                got = {}
                for n in NODES:
                    node = client.get_node(f"ns=2;s=demo.{n}")
                    got[n] = await node.read_raw_history(
                        seen_until + timedelta(milliseconds=1), now.SourceTimestamp
                    )
        return seen_until, now.SourceTimestamp, got

    start, end, got = asyncio.run(main())
    log = [json.loads(x) for x in (tmp_path / "served.jsonl").read_text().splitlines()]
    lo, hi = iso(start.replace(tzinfo=UTC).timestamp()), iso(end.replace(tzinfo=UTC).timestamp())
    for n in NODES:
        asset, signal = n.split(".")
        want = [
            (r["ts"], r["value"])
            for r in log
            if r["asset"] == f"demo.{asset}" and r["signal"] == signal and lo < r["ts"] <= hi
        ]
        have = [
            (iso(dv.SourceTimestamp.replace(tzinfo=UTC).timestamp()), dv.Value.Value)
            for dv in got[n]
        ]
        assert len(want) >= 10
        assert have == want, n
