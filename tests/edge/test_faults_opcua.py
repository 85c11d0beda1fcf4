"""Fault test: the simulator's OPC UA server restarted 10 times under the running agent.

Oracle: the simulator's served-value log (truth/served.jsonl), never the edge's outbox. What
the cloud (egiz.cloud under uvicorn) stored is judged: every window the log implies exists once
with the log's statistics, and every alarm raise/clear the site's limits give on the log arrived
exactly once. While the server is down the simulator serves (and logs) nothing; values served
after it is back but before the agent has reconnected come back through HistoryRead backfill.
Runs plain and with TLS on (HTTPS with a custom CA, OPC UA Basic256Sha256 SignAndEncrypt).
"""

from __future__ import annotations

import asyncio
import math
import time

import pytest

from egiz.contracts import SiteConfig
from egiz.contracts.loader import validate_document
from egiz.edge.agent import EdgeAgent

RESTARTS = 10
SPEED = 5.0  # simulated seconds per wall second
WINDOW = 2.0  # data seconds
DOWN_S = 5.0  # simulated seconds each restart keeps the server down
UP_WALL_S = 3.0  # wall seconds of data flowing between restarts
ITEMS_PER_SUB = 8  # 20 nodes -> 3 subscriptions, each of which must be rebuilt


@pytest.mark.slow
@pytest.mark.parametrize("transport", ["plain", "tls"])
def test_opcua_server_restarted_10_times_nothing_lost_or_duplicated(tmp_path, faults, transport):
    out = asyncio.run(_restarts(tmp_path, faults, tls=transport == "tls"))
    # Measured recovery times go to docs/benchmarks.md (printed with -s), never asserted.
    print(f"[{transport}] recovery after restart (s): "
          f"{', '.join(f'{r:.2f}' for r in out['recovery'])}")  # fmt: skip
    print(f"[{transport}] {out}")
    assert len(out["recovery"]) == RESTARTS


async def _restarts(tmp_path, f, tls: bool) -> dict:
    certs = f.tls_certs(tmp_path) if tls else None
    cloud = f.FaultCloud(tmp_path, certs)
    await cloud.up()
    sim = f.simulator(tmp_path, certs, SPEED)
    await f.start_simulator(sim)
    stop = asyncio.Event()
    run = None
    try:
        await sim.inject("pump-1", "spike", 5.0, "vibration")  # alarms raised and cleared
        doc = f.site_doc(tmp_path, sim, cloud, WINDOW)
        doc["sources"][0]["subscription"]["max_items_per_subscription"] = ITEMS_PER_SUB
        config = validate_document(SiteConfig, doc, str(tmp_path / "site.yaml"))
        agent = EdgeAgent(config, base_dir=tmp_path)
        run = asyncio.create_task(agent.run(stop))
        src = None

        def connected() -> bool:
            return bool(agent.sources) and agent.sources[0].state == "connected"

        await f.wait_until(connected, 30, "first connection")
        src = agent.sources[0]
        subs = sim.opcua.server.iserver.subscription_service.subscriptions
        n_subs = math.ceil(20 / ITEMS_PER_SUB)

        def rebuilt(before: set[int]) -> bool:
            """The server holds n_subs new subscriptions of one session with all 20 nodes
            (the dead session's old ones linger on the server until they expire)."""
            new = [subs[i] for i in list(subs) if i not in before]
            items = sum(len(s.monitored_item_srv._monitored_items) for s in new)
            return len(new) == n_subs and len({s.session_id for s in new}) == 1 and items == 20

        await f.wait_until(lambda: rebuilt(set()), 30, "the subscriptions")
        t_first = sim.engine.t
        negotiated = await f.assert_tls_really_on(cloud, sim) if tls else {}
        recovery: list[float] = []
        for _ in range(RESTARTS):
            await asyncio.sleep(UP_WALL_S)
            before = set(subs)
            await sim.inject(None, "server_restart", duration_s=DOWN_S)
            await f.wait_until(lambda: sim._paused["opcua"] == math.inf, 10, "server down")
            await f.wait_until(lambda: sim._paused["opcua"] != math.inf, 60, "server back")
            back = time.monotonic()
            back_t = sim._paused["opcua"]  # the data time serving resumed at
            # Data flows again when a value served after the restart has reached the agent;
            # the test fails when that takes 60 s (target 10 s, measured in the benchmarks).
            await f.wait_until(
                lambda t=back_t: agent.windower.watermark > t, 60, "data after the restart"
            )
            recovery.append(time.monotonic() - back)
            # Every subscription was rebuilt (read back on the server's side).
            await f.wait_until(lambda b=before: rebuilt(b), 60, "every subscription rebuilt")
        await asyncio.sleep(UP_WALL_S)
        if tls:  # still negotiated after ten reconnects
            negotiated = await f.assert_tls_really_on(cloud, sim)
        t_end = sim.engine.t
        lo = (math.floor(t_first / WINDOW) + 1) * WINDOW  # first window fully after connect
        hi = (math.floor(t_end / WINDOW) - 3) * WINDOW  # windows the agent has surely closed
        samples = f.served_samples(tmp_path / "truth")
        want = f.served_windows(samples, WINDOW, lo, hi)
        await f.wait_stored(cloud, want, 60)
        await asyncio.sleep(1.0)  # anything extra (a duplicate) would have arrived by now
        stop.set()
        await run
        got = {k: v for k, v in cloud.windows().items() if lo <= k[1] < hi}
        compared = f.compare_windows(got, want)
        # One window record per (asset, start) ever accepted: nothing was sent twice as new.
        assert cloud.ingested("window") == len({(a, s) for a, s, _sig in cloud.windows()})
        want_alarms = [e for e in f.alarm_oracle(config, samples) if lo <= e[-1] < hi]
        got_alarms = [
            k
            for k in map(f.alarm_key, cloud.events("alarm_raise", "alarm_clear"))
            if lo <= k[-1] < hi
        ]
        assert sorted(got_alarms) == sorted(want_alarms)
        assert len(want_alarms) >= 10, "too few alarm events to prove anything"
        assert src.reconnects >= RESTARTS and src.stats()["backfilled"] > 0
        states = [e["data"]["state"] for e in cloud.events("source_status")]
        assert states.count("reconnecting") >= RESTARTS, states  # every restart reported
        assert not cloud.events("data_gap"), "the server keeps history: nothing may be lost"
        assert compared >= 2 * 10 * 80, compared  # assets x signals x windows
        return {
            "recovery": recovery,
            "windows": compared,
            "alarm_events": len(want_alarms),
            "backfilled": src.stats()["backfilled"],
            "tls": negotiated,
        }
    finally:
        stop.set()
        if run is not None:
            await asyncio.gather(run, return_exceptions=True)
        await sim.stop()
        await cloud.down()
        cloud.close()


STALLS = 5
STALL_S = 0.8  # wall seconds the event loop is blocked: 4 simulated steps at SPEED


@pytest.mark.slow
def test_opcua_stalled_loop_no_subscription_undercuts_another(tmp_path, faults):
    """Regression (a failure of the restart test above): after the event loop stalls (a busy
    CI machine), the simulator serves several steps at once and the source's 3 subscriptions
    are answered one after another (one Publish request in flight). Handed on as they came,
    the first subscription's newest values closed windows (the agent closes after every batch)
    that the values still held by the other two belonged to: one scan of pump-2's last
    subscription was dropped as late. Every other stall ends in a server restart (values still
    held must come back through the backfill, never after newer ones). The windower's rule is
    applied to the stream as the agent feeds it: no new sample may arrive for a window that rule
    has already closed."""
    from egiz.edge.sources.opcua import OpcUaSource

    lateness = 1.0  # = fault_site_doc's lateness for 2 s windows: one simulated step

    async def run() -> tuple[int, list[tuple[int, float, float]]]:
        cloud = faults.FaultCloud(tmp_path, None)  # only its url and token go in the config
        sim = faults.simulator(tmp_path, None, SPEED)
        await faults.start_simulator(sim)
        doc = faults.site_doc(tmp_path, sim, cloud, WINDOW)
        doc["sources"][0]["subscription"]["max_items_per_subscription"] = ITEMS_PER_SUB
        config = validate_document(SiteConfig, doc, str(tmp_path / "site.yaml"))
        src = OpcUaSource(config.sources[0])
        late: list[tuple[int, float, float]] = []  # (ref, ts, start of the first open window)
        n = 0
        try:
            async with src:

                async def feed() -> None:
                    nonlocal n
                    newest, closed_k = -math.inf, -math.inf
                    seen: set[tuple[int, float]] = set()
                    async for batch in src.stream():
                        n += len(batch)
                        for ref, ts in zip(batch.ref.tolist(), batch.ts.tolist(), strict=True):
                            # A late copy of a sample already there loses nothing (windows
                            # count a timestamp once); a late new one is lost.
                            if ts < closed_k * WINDOW and (ref, ts) not in seen:
                                late.append((ref, ts, closed_k * WINDOW))
                            seen.add((ref, ts))
                        newest = max(newest, float(batch.ts.max()))
                        closed_k = max(closed_k, math.floor((newest - lateness) / WINDOW))

                def down(yes: bool) -> bool:
                    return (sim._paused["opcua"] == math.inf) == yes

                consumer = asyncio.create_task(feed())
                await faults.wait_until(lambda: src.samples >= 20 * 3, 30, "values flowing")
                for i in range(STALLS):
                    time.sleep(STALL_S)  # noqa: ASYNC251 (the stall is the point)
                    if i % 2:  # the server goes down while the subscriptions catch up
                        await asyncio.sleep(0.1)
                        before = src.backfilled
                        await sim.inject(None, "server_restart", duration_s=DOWN_S)
                        await faults.wait_until(lambda: down(True), 10, "server down")
                        await faults.wait_until(lambda: down(False), 30, "server back")
                        await faults.wait_until(
                            lambda b=before: src.backfilled > b, 60, "reconnected, backfilled"
                        )
                    await asyncio.sleep(1.5)
                consumer.cancel()
        finally:
            await sim.stop()
            cloud.close()
        return n, late

    n, late = asyncio.run(run())
    assert n > STALLS * 20 * 4, n
    assert not late, f"{len(late)} samples late, first (ref, ts, closed up to) {late[:5]}"
