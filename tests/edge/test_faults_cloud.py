"""Fault tests: the cloud down for simulated hours; the outbox cap reached while it is down.

Oracle: the simulator's served-value log (`--speed` makes hours of data time pass in a minute),
never the edge's outbox; judged is what the real cloud (egiz.cloud under uvicorn, taken down
and brought back on the same port with the same store) stored. Without a cap every window and
every alarm event arrives exactly once when the cloud returns; with a cap, the windows missing
are exactly those the data_gap events report, and nothing else is missing.
"""

from __future__ import annotations

import asyncio
import math
from datetime import datetime

import pytest

from egiz.contracts import SiteConfig
from egiz.contracts.loader import validate_document
from egiz.edge.agent import EdgeAgent

SPEED = 120.0  # an hour of data time in 30 s
WINDOW = 60.0


async def _outage(tmp_path, f, *, tls: bool, down_h: float, max_bytes: int | None) -> dict:
    certs = f.tls_certs(tmp_path) if tls else None
    cloud = f.FaultCloud(tmp_path, certs)
    await cloud.up()
    sim = f.simulator(tmp_path, certs, SPEED, history_s=4 * 3600.0)
    await f.start_simulator(sim)
    stop = asyncio.Event()
    run = None
    try:
        await sim.inject("pump-1", "spike", 5.0, "vibration")  # alarms raised and cleared
        doc = f.site_doc(tmp_path, sim, cloud, WINDOW)
        if max_bytes:
            doc["outbox"]["max_bytes"] = max_bytes
        config = validate_document(SiteConfig, doc, str(tmp_path / "site.yaml"))
        agent = EdgeAgent(config, base_dir=tmp_path)
        run = asyncio.create_task(agent.run(stop))
        await f.wait_until(lambda: cloud.ingested("window") > 0, 60, "first windows")
        t_first = sim.engine.t
        negotiated = await f.assert_tls_really_on(cloud, sim) if tls else {}
        await cloud.down()
        t_down = sim.engine.t
        await f.wait_until(lambda: sim.engine.t >= t_down + down_h * 3600, 600, "the outage")
        depth = agent.outbox.depth()
        failures = agent.uplink.failures
        await cloud.up()
        t_end = sim.engine.t
        lo = (math.floor(t_first / WINDOW) + 1) * WINDOW
        hi = (math.floor(t_end / WINDOW) - 1) * WINDOW
        samples = f.served_samples(tmp_path / "truth")
        want = f.served_windows(samples, WINDOW, lo, hi)
        in_outage = {k for k in want if k[1] >= t_down}
        await f.wait_until(lambda: agent.outbox.depth() <= 2, 120, "the backlog drained")
        await f.wait_until(lambda: max(s for _a, s, _g in cloud.windows()) >= hi, 60, "live")
        await asyncio.sleep(1.0)
        stop.set()
        await run
        want_alarms = [e for e in f.alarm_oracle(config, samples) if lo <= e[-1] < hi]
        got_alarms = [
            k
            for k in map(f.alarm_key, cloud.events("alarm_raise", "alarm_clear"))
            if lo <= k[-1] < hi
        ]
        assert sorted(got_alarms) == sorted(want_alarms)  # no event lost or duplicated
        assert len(want_alarms) >= 10, "too few alarm events to prove anything"
        assert cloud.ingested("window") == len({(a, s) for a, s, _sig in cloud.windows()})
        if not max_bytes:
            assert not cloud.events("data_gap"), "no cap: nothing may be evicted"
        got = {k: v for k, v in cloud.windows().items() if lo <= k[1] < hi}
        return {"got": got, "want": want, "in_outage": in_outage, "depth": depth,
                "failures": failures, "evicted": agent.outbox.evicted, "cloud": cloud,
                "alarm_events": len(want_alarms), "tls": negotiated}  # fmt: skip
    finally:
        stop.set()
        if run is not None:
            await asyncio.gather(run, return_exceptions=True)
        await sim.stop()
        await cloud.down()
        cloud.close()


@pytest.mark.slow
@pytest.mark.parametrize("transport", ["plain", "tls"])
def test_cloud_down_for_hours_every_window_and_event_arrives_once(tmp_path, faults, transport):
    out = asyncio.run(_outage(tmp_path, faults, tls=transport == "tls", down_h=2.0,
                              max_bytes=None))  # fmt: skip
    compared = faults.compare_windows(out["got"], out["want"])
    # Two hours of windows (2 assets x 10 signals x 120) waited in the outbox and arrived.
    assert len(out["in_outage"]) >= 2 * 10 * 115, len(out["in_outage"])
    assert out["depth"] >= 2 * 115 and out["failures"] > 0 and out["evicted"] == 0
    assert out["cloud"].ingested("heartbeat") > 0, "no heartbeat stored"
    print(f"[{transport}] compared {compared} windows, {out['alarm_events']} alarm events, "
          f"outbox depth at the end of the outage {out['depth']}, {out['tls']}")  # fmt: skip


@pytest.mark.slow
def test_outbox_cap_reached_loss_is_exactly_the_gap_events(tmp_path, faults):
    out = asyncio.run(_outage(tmp_path, faults, tls=False, down_h=1.0, max_bytes=128 * 1024))
    assert out["evicted"] > 0
    got, want = out["got"], out["want"]
    reported: set[tuple[str, float, str]] = set()
    gaps = out["cloud"].events("data_gap")
    assert gaps, "evictions without a data_gap event"
    signals = {sig for _a, _s, sig in want}
    evicted_windows = 0
    for g in gaps:
        assert g["data"]["reason"] == "outbox_full" and g["data"].get("record_type") is None, g
        start = datetime.fromisoformat(g["start"]).timestamp()
        end = datetime.fromisoformat(g["end"]).timestamp()
        n = round((end - start) / WINDOW)
        assert n == g["data"]["windows"], g
        evicted_windows += n
        for i in range(n):
            for sig in signals:
                key = (g["asset"], start + i * WINDOW, sig)
                assert key not in reported, f"{key} reported twice"
                reported.add(key)
    assert evicted_windows == out["evicted"]  # every eviction reported, with exact bounds
    assert not (reported & set(got)), "a window reported lost was stored"
    # Nothing is missing beyond what the gap events report; what arrived matches the log.
    assert set(want) - reported == set(got)
    assert {k for k in reported if k in want}, "the evictions missed the checked span"
    faults.compare_windows(got, {k: v for k, v in want.items() if k not in reported})
    print(f"evicted {out['evicted']} window records in {len(gaps)} gap events; "
          f"{len(got)} signal windows stored and compared")  # fmt: skip
