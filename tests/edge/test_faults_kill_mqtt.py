"""Fault test: an MQTT-fed agent killed with SIGKILL again and again loses nothing.

The simulator publishes its MQTT assets (QoS 1) to a Mosquitto this test starts on a free port;
the agent (a child process, persistent session) is killed at random moments — logged with the
data time, the uploads in flight and the outbox depth — and restarted. Its receive journal
replays what it had acknowledged to the broker but not yet committed in a window; the broker's
persistent session delivers what arrived while it was dead.

Oracle: the simulator's served-value log. Every window it says must exist is stored exactly
once with the log's statistics; no event is stored twice and no data_gap is reported. The TLS
variant runs the same scenario over TLS with a password (issue 7 acceptance 6): the agent's
client reports the negotiated protocol and cipher, and a plain client is refused.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from pathlib import Path

import pytest

from .mqtt_kit import (
    AgentProcess,
    Broker,
    assert_events_once,
    assert_match,
    edge_site,
    newest_served,
    plain_connect_refused,
    served_windows,
    start_simulator,
    stored_windows,
    tls_handshake,
    write_site,
)

SCENARIO = "oilfield"  # four assets over MQTT
SPEED = 20.0  # data seconds per wall second: 10 s windows close twice a second
WINDOW_S, LATENESS_S = 10.0, 5.0
KILLS = 8


@pytest.mark.slow
@pytest.mark.parametrize("transport", ["plain", "tls"])
def test_mqtt_agent_killed_repeatedly_loses_nothing(tmp_path: Path, kit, transport: str) -> None:
    with Broker(tmp_path, tls=transport == "tls") as broker:
        asyncio.run(_run(tmp_path, kit, broker))


async def _run(tmp_path: Path, kit, broker: Broker) -> None:  # type: ignore[no-untyped-def]
    if broker.tls:
        version, cipher = tls_handshake(broker.port, broker.tls)
        assert version in ("TLSv1.2", "TLSv1.3") and cipher
        assert plain_connect_refused(broker.port)
    prefix = f"kill-{uuid.uuid4().hex[:8]}"
    truth = tmp_path / "truth"
    rng = random.Random(4)
    with kit.IngestStub() as cloud:
        cloud.delay_s = 0.2  # an upload takes a while, so some kills land in the middle of one
        doc = edge_site(broker, SCENARIO, prefix, tmp_path, cloud_url=cloud.url, token=kit.TOKEN,
                        window_s=WINDOW_S, lateness_s=LATENESS_S)  # fmt: skip
        agent = AgentProcess(write_site(doc, tmp_path / "site.yaml"))
        sim = start_simulator(broker, SCENARIO, prefix, truth, SPEED)
        moments = []
        try:
            await agent.start()
            st = await agent.wait_connected()  # subscribed: the broker keeps our session now
            if broker.tls:
                (src,) = st["sources"].values()
                assert src["tls"]["version"] in ("TLSv1.2", "TLSv1.3") and src["tls"]["cipher"]
            await sim.start()
            for n in range(KILLS):
                await asyncio.sleep(rng.uniform(0.3, 3.0))
                st = await agent.status()
                if n % 2:  # every other kill waits for an upload to be in flight
                    await kit.wait_until(lambda: cloud.inflight > 0, 10, "an upload")
                moment = {
                    "kill": n + 1,
                    "wall": round(time.time(), 3),
                    "data_time": sim.engine.t,
                    "uploads_in_flight": cloud.inflight,
                    "outbox_depth": st["outbox"].get("depth"),
                    "journal_bytes": (next(iter(st["sources"].values()))["journal"] or {}).get(
                        "bytes"
                    ),
                }
                await agent.kill()
                moments.append(moment)
                print("SIGKILL", moment)
                await asyncio.sleep(rng.uniform(0.0, 2.0))  # dead; the broker queues
                await agent.start()
                st = await agent.wait_connected()
                moment["replayed_after"] = sum(s["replayed"] for s in st["sources"].values())
                print("  restarted; journaled samples replayed:", moment["replayed_after"])
            await asyncio.sleep(2.0)
            await sim.stop()  # waits for the broker's acks; closes the served-value log
            until = newest_served(truth / "served.jsonl") - LATENESS_S
            want = served_windows(truth / "served.jsonl", doc["site"]["id"], WINDOW_S, until)
            await kit.wait_until(
                lambda: set(want) <= set(stored_windows(cloud.of_type("window"))),
                90,
                "every window of the served log in the cloud",
            )
            st = await agent.status()
            assert await agent.terminate() == 0
        finally:
            agent.reap()
            await sim.stop()
        got = stored_windows(cloud.of_type("window"))  # fails on a window stored twice
        events = cloud.of_type("event")
    assert len(moments) == KILLS
    assert assert_match(got, want) >= 4 * 5 * 30  # 4 assets, their signals, >= 30 windows
    assert sum(m["uploads_in_flight"] > 0 for m in moments) >= KILLS // 4, moments
    # the journal did the work: open windows were replayed after (nearly) every kill
    assert sum(m["replayed_after"] > 0 for m in moments) >= KILLS // 2, moments
    kinds = [e["kind"] for e in events]
    assert "data_gap" not in kinds and "malformed_input" not in kinds, kinds
    assert_events_once(events)
    (src,) = st["sources"].values()
    assert src["malformed"] == 0 and not src["journal"]["overflowed"]
