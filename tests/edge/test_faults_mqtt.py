"""Fault test: a Mosquitto the test starts itself (free port, never the shared one) restarted.

The simulator keeps publishing its MQTT assets (QoS 1) while the broker is down (its client
queues and resends); the broker saves its sessions on SIGTERM; the agent's persistent session
gets everything, including what arrived while the agent was still reconnecting.

Oracle: the simulator's served-value log. Every window it says must exist is stored exactly
once with the log's statistics; each restart shows as exactly one reconnect; no event is stored
twice. The TLS variant (issue 7 acceptance 6) runs the same scenario over TLS with a password,
reads the negotiated protocol and cipher back from the agent's client socket, and checks that a
plain client is refused by the listener.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest

from egiz.contracts import SiteConfig
from egiz.edge.agent import EdgeAgent

from .mqtt_kit import (
    Broker,
    assert_events_once,
    assert_match,
    edge_site,
    newest_served,
    plain_connect_refused,
    served_windows,
    start_simulator,
    stored_windows,
)

SCENARIO = "oilfield"  # four assets over MQTT
SPEED = 20.0
WINDOW_S, LATENESS_S = 10.0, 5.0
RESTARTS = 3


@pytest.mark.slow
@pytest.mark.parametrize("transport", ["plain", "tls"])
def test_mqtt_broker_restarted_no_window_lost_or_duplicated(
    tmp_path: Path, kit, transport: str
) -> None:
    broker = Broker(tmp_path, tls=transport == "tls")
    broker.start()
    try:
        asyncio.run(_run(tmp_path, kit, broker))
    finally:
        broker.stop()


async def _run(tmp_path: Path, kit, broker: Broker) -> None:  # type: ignore[no-untyped-def]
    prefix = f"restart-{uuid.uuid4().hex[:8]}"
    truth = tmp_path / "truth"
    with kit.IngestStub() as cloud:
        doc = edge_site(broker, SCENARIO, prefix, tmp_path, cloud_url=cloud.url, token=kit.TOKEN,
                        window_s=WINDOW_S, lateness_s=LATENESS_S)  # fmt: skip
        agent = EdgeAgent(SiteConfig.model_validate(doc), base_dir=tmp_path)
        stop = asyncio.Event()
        run = asyncio.create_task(agent.run(stop))
        sim = start_simulator(broker, SCENARIO, prefix, truth, SPEED)
        assert sim.mqtt is not None
        sim.mqtt.reconnect_s = (0.1, 0.5)
        try:
            await kit.wait_until(
                lambda: agent.sources and agent.sources[0].state == "connected", 20, "connected"
            )
            src = agent.sources[0]
            if broker.tls:
                assert src.tls is not None, "the agent's client socket is not TLS"  # type: ignore[attr-defined]
                assert src.tls["version"] in ("TLSv1.2", "TLSv1.3") and src.tls["cipher"]  # type: ignore[attr-defined]
                assert plain_connect_refused(broker.port)
            await sim.start()
            for _ in range(RESTARTS):
                await asyncio.sleep(2.0)
                broker.stop()
                await kit.wait_until(lambda: src.state == "reconnecting", 20, "agent notices")
                await asyncio.sleep(1.0)  # the simulator keeps publishing into its client queue
                broker.start()
                await kit.wait_until(lambda: src.state == "connected", 30, "agent reconnects")
            await asyncio.sleep(2.0)
            await sim.stop()  # waits for the broker's acks; closes the served-value log
            until = newest_served(truth / "served.jsonl") - LATENESS_S
            want = served_windows(truth / "served.jsonl", doc["site"]["id"], WINDOW_S, until)
            await kit.wait_until(
                lambda: set(want) <= set(stored_windows(cloud.of_type("window"))),
                60,
                "every window of the served log in the cloud",
            )
        finally:
            await sim.stop()
            stop.set()
            await run
        got = stored_windows(cloud.of_type("window"))  # fails on a window stored twice
        events = cloud.of_type("event")
    assert assert_match(got, want) >= 4 * 5 * 15
    states = [e["data"]["state"] for e in events if e["kind"] == "source_status"]
    assert states.count("reconnecting") == RESTARTS, states
    kinds = [e["kind"] for e in events]
    assert not {"data_gap", "malformed_input", "late_data"} & set(kinds), kinds
    assert_events_once(events)
