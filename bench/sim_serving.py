"""Benchmark: signal updates/s the simulator serves over OPC UA, and MQTT messages/s it publishes.

Usage: .venv/bin/python bench/sim_serving.py [--seconds 10] [--assets 40]
       [--mqtt mqtt://127.0.0.1:1883] [--no-client]

One process serves a generated scenario of ``--assets`` pumps (10 signals each) with the
serving rate unthrottled; every served value is also written to the served-value log, as in
real use. OPC UA: an asyncua client subscribes to every signal (queue 100, 100 ms publishing)
so data-change notifications are part of the cost. MQTT: QoS 1 to the broker, counted once
the broker has acknowledged every message (the publisher drains before the clock stops).
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import tempfile
import time
from pathlib import Path

from asyncua import Client

from egiz.simulators.catalog import PUMP
from egiz.simulators.scenario import parse_scenario
from egiz.simulators.service import SimulatorService


def _scenario(assets: int, protocol: str):
    items = "\n".join(
        f"  - {{id: pump-{i}, type: centrifugal_pump, area: a{i % 4}, protocol: {protocol}}}"
        for i in range(assets)
    )
    return parse_scenario(f"version: 1\nsite: {{id: bench}}\nassets:\n{items}\n", "bench.yaml")


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Count:
    def __init__(self) -> None:
        self.n = 0

    def datachange_notification(self, *_a) -> None:
        self.n += 1


async def opcua(seconds: float, assets: int, client: bool) -> None:
    """Serve OPC UA flat out for ``seconds``; print updates/s."""
    with tempfile.TemporaryDirectory() as tmp:
        sim = SimulatorService(
            _scenario(assets, "opcua"),
            opcua_port=_port(),
            speed=10_000.0,
            max_serve_rate_hz=10_000.0,
            truth_dir=Path(tmp),
        )
        await sim.start()
        counter = _Count()
        try:
            if client:
                async with Client(sim.opcua_endpoint) as c:
                    sub = await c.create_subscription(100, counter)
                    nodes = [c.get_node(f"ns=2;s=bench.pump-{i}.flow") for i in range(assets)]
                    await sub.subscribe_data_change(nodes, queuesize=100)
                    n0, t0 = sim.counts["opcua"], time.perf_counter()
                    await asyncio.sleep(seconds)
                    n1, t1 = sim.counts["opcua"], time.perf_counter()
            else:
                n0, t0 = sim.counts["opcua"], time.perf_counter()
                await asyncio.sleep(seconds)
                n1, t1 = sim.counts["opcua"], time.perf_counter()
        finally:
            await sim.stop()
    rate = (n1 - n0) / (t1 - t0)
    print(
        f"OPC UA: {rate:,.0f} signal updates/s served ({assets * len(PUMP.signals)} variables"
        f"{f', client subscribed to {assets}, {counter.n:,} notifications' if client else ''})"
    )


async def mqtt(seconds: float, assets: int, url: str, qos: int = 1, layout: str = "signal") -> None:
    """Publish MQTT flat out for ``seconds``; print acknowledged messages/s."""
    with tempfile.TemporaryDirectory() as tmp:
        sim = SimulatorService(
            _scenario(assets, "mqtt"),
            mqtt_url=url,
            topic_prefix=f"egiz-bench-{_port()}",
            speed=10_000.0,
            max_serve_rate_hz=10_000.0,
            truth_dir=Path(tmp),
            mqtt_qos=qos,
            mqtt_layout=layout,
        )
        await sim.start()
        t0 = time.perf_counter()
        await asyncio.sleep(seconds)
        sim._task.cancel()  # stop producing, then wait until the broker acknowledged everything
        n = sim.mqtt.published
        pub = sim.mqtt
        while pub.acked + pub.dropped < n and time.perf_counter() - t0 < seconds + 120:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        t1 = time.perf_counter()
        acked, dropped = pub.acked, pub.dropped
        signals = sim.counts["mqtt"]
        await sim.stop()
    print(
        f"MQTT:   {acked / (t1 - t0):,.0f} messages/s published and acknowledged "
        f"(QoS {qos}, layout {layout}, {acked:,} of {n:,} acknowledged, {dropped:,} dropped by the "
        f"full publish queue, {t1 - t0:.1f} s; "
        f"{signals / (t1 - t0):,.0f} signal values/s)"
    )


def main() -> None:
    """Run both measurements."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--assets", type=int, default=40)
    ap.add_argument("--mqtt", default="mqtt://127.0.0.1:1883")
    ap.add_argument("--no-client", action="store_true")
    ap.add_argument("--qos", type=int, default=1, choices=(0, 1, 2))
    ap.add_argument("--layout", default="signal", choices=("signal", "document"))
    args = ap.parse_args()
    asyncio.run(opcua(args.seconds, args.assets, not args.no_client))
    asyncio.run(mqtt(args.seconds, args.assets, args.mqtt, args.qos, args.layout))


if __name__ == "__main__":
    main()
