"""MQTT source throughput: messages/s and samples/s received and parsed by one MqttSource.

Starts its own Mosquitto on a free port (set_tcp_nodelay true) and a publisher in another
process, so the publisher does not share the agent's interpreter.

    .venv/bin/python bench/edge_mqtt.py [--messages 200000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from egiz.contracts import MqttSourceConfig
from egiz.edge.sources.mqtt import MqttSource

T0 = 1_800_000_000.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def publisher(port: int, n: int, qos: int, per_message: int, go) -> None:
    import paho.mqtt.client as paho
    from paho.mqtt.enums import CallbackAPIVersion

    c = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-pub-{qos}-{per_message}")
    c.max_inflight_messages_set(1000)
    c.max_queued_messages_set(0)
    c.connect("127.0.0.1", port)
    c.loop_start()
    go.wait()
    info = None
    for i in range(n):
        ts = T0 + i * 0.001
        if per_message == 1:
            body = json.dumps({"value": float(i % 100), "ts": ts, "quality": "good"})
            info = c.publish(f"b/a{i % 50}/s{i % 10}", body, qos=qos)
        else:
            vals = {f"s{j}": float((i + j) % 100) for j in range(per_message)}
            info = c.publish(f"b/a{i % 50}/all", json.dumps({"ts": ts, "values": vals}), qos=qos)
        while qos and len(c._out_messages) > 5000:  # keep paho's queue bounded
            time.sleep(0.001)
    if info is not None:
        info.wait_for_publish(60)
    time.sleep(0.5)
    c.loop_stop()


async def receive(port: int, n_samples: int, qos: int, per_message: int) -> tuple[float, int, int]:
    subs = (
        [{"topic": "b/{asset}/{signal}"}]
        if per_message == 1
        else [{"topic": "b/{asset}/all", "payload": {"format": "document", "quality_field": None}}]
    )
    cfg = MqttSourceConfig(
        name="bench",
        url=f"mqtt://127.0.0.1:{port}",
        qos=qos,
        clean_start=True,
        client_id=f"bench-sub-{qos}-{per_message}",
        subscriptions=subs,
    )
    got, first, last = 0, None, None
    async with MqttSource(cfg) as src:
        while src.state != "connected":  # noqa: ASYNC110 (state is set by a thread)
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)
        go = mp.Event()
        n_msgs = n_samples // per_message
        proc = mp.Process(target=publisher, args=(port, n_msgs, qos, per_message, go))
        proc.start()
        await asyncio.sleep(1.0)
        go.set()
        stream = src.stream()
        while got < n_samples:
            try:
                batch = await asyncio.wait_for(anext(stream), 10)
            except TimeoutError:
                break
            now = time.perf_counter()
            first = first or now
            last = now
            got += len(batch)
        await asyncio.to_thread(proc.join, 60)
        malformed = src.malformed
    return (got / (last - first) if last and last > first else 0.0), got, malformed


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--messages", type=int, default=200_000)
    a = p.parse_args()
    port = free_port()
    tmp = Path(tempfile.mkdtemp())
    conf = tmp / "m.conf"
    conf.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\nset_tcp_nodelay true\n"
        "max_queued_messages 1000000\nmax_inflight_messages 1000\n"
    )
    broker = subprocess.Popen(
        [shutil.which("mosquitto") or "/usr/sbin/mosquitto", "-c", str(conf)],
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(0.5)
        for qos, per, n in ((0, 1, a.messages), (1, 1, a.messages // 2), (1, 100, a.messages * 10)):
            rate, got, bad = asyncio.run(receive(port, n, qos, per))
            unit = "msg/s" if per == 1 else f"samples/s ({per} per message)"
            print(f"QoS {qos}: {rate:,.0f} {unit}; received {got:,} of {n:,}, malformed {bad}")
    finally:
        broker.terminate()
        broker.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
