"""MQTT source throughput: messages/s and samples/s received and parsed by one MqttSource.

Starts its own Mosquitto on a free port (``set_tcp_nodelay true``). For each case a publisher
(another process, so it never shares the source's interpreter or limits its rate) first fills
the source's persistent session at the broker; then the source connects and drains it, and
the rate is samples handed to the pipeline (``stream()`` batches) per second from the first
batch to the last. ``--raw`` also drains the same queue with a bare paho subscriber whose
``on_message`` only counts: paho's own ceiling on this machine, the reference.

    .venv/bin/python bench/edge_mqtt.py [--messages 200000] [--repeat 3] [--raw]

Each case runs ``--repeat`` times; the best and the median are printed (a shared machine's
load moves single runs by +-30 %).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import shutil
import socket
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from egiz.contracts import MqttSourceConfig
from egiz.edge.sources.mqtt import MqttSource

T0 = 1_800_000_000.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def subscribe_once(port: int, client_id: str, topic: str, qos: int) -> None:
    """Create the persistent session (clean_session false) the publisher then fills."""
    c = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False,
                    protocol=paho.MQTTv311)  # fmt: skip
    done = threading.Event()
    c.on_subscribe = lambda *_a: done.set()
    c.on_connect = lambda cl, *_a: cl.subscribe(topic, qos)
    c.connect("127.0.0.1", port)
    c.loop_start()
    assert done.wait(10), "no SUBACK"
    c.disconnect()
    c.loop_stop()


def publisher(port: int, n: int, qos: int, per_message: int) -> None:
    c = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-pub-{os.getpid()}",
                    protocol=paho.MQTTv311)  # fmt: skip
    c.max_inflight_messages_set(1000)
    c.max_queued_messages_set(0)
    c.connect("127.0.0.1", port)
    c.loop_start()
    for i in range(n):
        ts = T0 + i * 0.001
        if per_message == 1:
            body = json.dumps({"value": float(i % 100), "ts": ts, "quality": "good"})
            c.publish(f"b/a{i % 50}/s{i % 10}", body, qos=qos)
        else:
            vals = {f"s{j}": float((i + j) % 100) for j in range(per_message)}
            c.publish(f"b/a{i % 50}/all", json.dumps({"ts": ts, "values": vals}), qos=qos)
        while len(c._out_messages) > 5000 or len(c._out_packet) > 5000:  # bounded paho queue
            time.sleep(0.001)
    # Messages of one connection are handled in order: once the broker acknowledged this
    # one, it has queued every message before it.
    c.publish("bench/sentinel", b"1", qos=1).wait_for_publish(120)
    c.disconnect()
    c.loop_stop()


def fill(port: int, client_id: str, topic: str, n: int, qos: int, per: int) -> None:
    subscribe_once(port, client_id, topic, qos)
    proc = mp.Process(target=publisher, args=(port, n, qos, per))
    proc.start()
    proc.join(600)


async def drain_source(port: int, client_id: str, n_samples: int, qos: int, per: int):
    subs = (
        [{"topic": "b/{asset}/{signal}"}]
        if per == 1
        else [{"topic": "b/{asset}/all", "payload": {"format": "document", "quality_field": None}}]
    )
    cfg = MqttSourceConfig(name="bench", url=f"mqtt://127.0.0.1:{port}", qos=qos,
                           clean_start=False, client_id=client_id, subscriptions=subs)  # fmt: skip
    got, first, last = 0, None, None
    journal = Path(tempfile.mkdtemp()) / "journal"
    async with MqttSource(cfg) as src:
        if qos:
            src.open_journal(journal, discard=True, replay_from=-1.0)  # as the agent does
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
            if qos:
                src.committed(float(batch.ts.max()) - 1.0)  # windows commit as the agent's do
        malformed = src.malformed
    shutil.rmtree(journal.parent, ignore_errors=True)
    return (got / (last - first) if last and last > first else 0.0), got, malformed


def drain_raw(port: int, client_id: str, n_msgs: int, topic: str, qos: int) -> float:
    """A bare paho subscriber: on_message only counts."""
    c = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False,
                    protocol=paho.MQTTv311)  # fmt: skip
    state = {"n": 0, "first": 0.0, "last": 0.0}

    def on_message(_c, _u, _m) -> None:
        state["n"] += 1
        if state["n"] == 1:
            state["first"] = time.perf_counter()
        if state["n"] >= n_msgs:
            state["last"] = time.perf_counter()
            c.disconnect()

    c.on_message = on_message
    c.connect("127.0.0.1", port)
    c.loop_forever()
    return (state["n"] - 1) / (state["last"] - state["first"])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--messages", type=int, default=200_000)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--raw", action="store_true", help="also measure a bare paho subscriber")
    a = p.parse_args()
    port = free_port()
    tmp = Path(tempfile.mkdtemp())
    conf = tmp / "m.conf"
    conf.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\nset_tcp_nodelay true\n"
        "max_queued_messages 10000000\nqueue_qos0_messages true\n"
    )
    broker = subprocess.Popen(
        [shutil.which("mosquitto") or "/usr/sbin/mosquitto", "-c", str(conf)],
        stderr=subprocess.DEVNULL,
    )
    print(f"load average {os.getloadavg()[0]:.2f}")
    try:
        time.sleep(0.5)
        cases = ((0, 1, a.messages), (1, 1, a.messages), (1, 100, a.messages * 10))
        for i, (qos, per, n) in enumerate(cases):
            topic = "b/+/+" if per == 1 else "b/+/all"
            unit = "msg/s" if per == 1 else f"samples/s ({per} per message)"
            raws, rates = [], []
            for r in range(a.repeat):
                if a.raw:
                    cid = f"bench-raw-{i}-{r}"
                    fill(port, cid, topic, n // per, qos, per)
                    raws.append(drain_raw(port, cid, n // per, topic, qos))
                cid = f"bench-src-{i}-{r}"
                fill(port, cid, topic, n // per, qos, per)
                rate, got, bad = asyncio.run(drain_source(port, cid, n, qos, per))
                assert got == n and bad == 0, (got, n, bad)
                rates.append(rate)
            line = (f"QoS {qos}: source best {max(rates):,.0f} {unit}, median "
                    f"{statistics.median(rates):,.0f}")  # fmt: skip
            if raws:
                line += f"; bare paho best {max(raws):,.0f} msg/s, median {statistics.median(raws):,.0f}"
            print(f"{line}; load average {os.getloadavg()[0]:.2f}", flush=True)
    finally:
        broker.terminate()
        broker.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
