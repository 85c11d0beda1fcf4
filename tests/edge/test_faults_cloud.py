"""Fault tests: the cloud down for simulated hours; the outbox cap reached while it is down.

Oracle: the values the PLC served. Without a cap every window arrives exactly once when the
cloud returns; with a cap, what is missing is exactly what the data_gap events report.
"""

from __future__ import annotations

import asyncio
from datetime import datetime

import pytest

from egiz.edge.agent import EdgeAgent

T0 = 1_800_000_000.0
WINDOW = 10.0


async def _outage(tmp_path, kit, hours: float, max_bytes: int | None):
    port = kit.free_port()
    names = ["test.pump-1.flow", "test.pump-1.bearing_temp"]
    plant = kit.PlantServer(port, names)
    await plant.start()
    sources = [
        {
            "kind": "opcua",
            "name": "plc",
            "endpoint": f"opc.tcp://127.0.0.1:{port}/egiz/",
            "subscription": {"publishing_interval_ms": 50, "queue_size": 1000},
            "nodes": [
                {"node": f"ns=2;s={names[0]}", "asset": "pump-1", "signal": "flow"},
                {"node": f"ns=2;s={names[1]}", "asset": "pump-1", "signal": "bearing_temp"},
            ],
        }
    ]
    over = {"window": {"length_s": WINDOW, "lateness_s": 2.0}}
    if max_bytes:
        over["outbox"] = {"path": str(tmp_path / "outbox.db"), "max_bytes": max_bytes}
    with kit.IngestStub() as cloud:
        cloud.down = True
        agent = EdgeAgent(kit.site_config(tmp_path, sources, uplink={"url": cloud.url}, **over))
        stop = asyncio.Event()
        run = asyncio.create_task(agent.run(stop))
        await kit.wait_until(
            lambda: agent.sources and agent.sources[0].state == "connected", 30, "connected"
        )
        await asyncio.sleep(0.3)
        steps = int(hours * 3600)  # one sample per node per data second
        for i in range(steps):
            ts = T0 + i
            await plant.write(names[0], 100.0 + (i * 7) % 23, ts)
            await plant.write(names[1], 40.0 + (i * 5) % 13, ts)
            if i % 200 == 0:
                await asyncio.sleep(0.02)  # let the agent drain its subscription queue
        await plant.write(names[0], 0.0, T0 + steps + 60)
        await plant.write(names[1], 0.0, T0 + steps + 60)
        windows = int(steps // WINDOW)
        await kit.wait_until(lambda: agent.windower.made >= windows, 60, "windows made")
        # The cloud was down the whole time: nothing is stored, the outbox holds it all.
        assert not cloud.records and agent.stats()["uplink"]["failures"] > 0
        depth_before = agent.outbox.depth()
        cloud.down = False
        served = {}
        short = {names[0]: "flow", names[1]: "bearing_temp"}
        for name, ts, v in plant.served:
            if ts < T0 + windows * WINDOW:
                served.setdefault(("pump-1", short[name]), []).append((ts, v))
        want = kit.expected_windows(served, WINDOW)
        await kit.wait_until(lambda: agent.outbox.depth() <= 1, 120, "the backlog drained")
        stop.set()
        await run
        await plant.stop()
    return cloud, want, depth_before, agent


@pytest.mark.slow
def test_cloud_down_for_hours_every_window_arrives_once(tmp_path, kit):
    cloud, want, depth, agent = asyncio.run(_outage(tmp_path, kit, hours=2.0, max_bytes=None))
    got = kit.stored_windows(cloud.of_type("window"))
    assert kit.assert_windows_match(got, want) == len(want) == 2 * 720
    assert depth >= 720 and agent.outbox.evicted == 0
    beats = cloud.of_type("heartbeat")
    assert beats and max(b["oldest_unsent_s"] or 0 for b in beats) > 0


@pytest.mark.slow
def test_outbox_cap_reached_loss_is_exactly_the_gap_events(tmp_path, kit):
    cloud, want, _depth, agent = asyncio.run(_outage(tmp_path, kit, hours=0.5, max_bytes=64 * 1024))
    assert agent.outbox.evicted > 0
    got = kit.stored_windows(cloud.of_type("window"))
    gaps = [e for e in cloud.of_type("event") if e["kind"] == "data_gap"]
    missing = set()
    for g in gaps:
        start = datetime.fromisoformat(g["start"]).timestamp()
        end = datetime.fromisoformat(g["end"]).timestamp()
        t = start
        while t < end:
            for sig in ("flow", "bearing_temp"):
                key = (g["asset"], t, sig)
                assert key not in missing, f"{key} reported twice"
                missing.add(key)
            t += WINDOW
    wanted = set(want)
    # Nothing is lost beyond what the gap events report, nothing reported is also stored.
    assert wanted - missing <= set(got)
    assert not (missing & set(got))
    # (the PLC's power-on value carries the wall clock's time: its window is not in the log)
    assert {k for k in missing if k[1] >= T0} <= wanted
    assert kit.assert_windows_match(got, want, keys=wanted - missing) == len(wanted - missing)
    assert sum(g["data"]["windows"] for g in gaps) == agent.outbox.evicted
