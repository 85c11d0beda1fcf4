"""Resident memory of `egiz edge run` serving 5,000 signals (500 assets × 10) over MQTT.

Starts its own Mosquitto and a publisher process (every signal at 1 Hz, one JSON document per
asset per second), runs the agent as a subprocess for --seconds, and samples its RSS.

    .venv/bin/python bench/edge_memory.py [--assets 500] [--seconds 30]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import yaml


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def publish(port: int, assets: int, seconds: float) -> None:
    import paho.mqtt.client as paho
    from paho.mqtt.enums import CallbackAPIVersion

    c = paho.Client(CallbackAPIVersion.VERSION2, client_id="mem-pub")
    c.connect("127.0.0.1", port)
    c.loop_start()
    t0 = time.time()
    tick = 0
    while time.time() - t0 < seconds:
        ts = t0 + tick
        for a in range(assets):
            vals = {f"s{j}": 20.0 + (a + j + tick) % 17 for j in range(10)}
            c.publish(f"mem/a{a}/all", json.dumps({"ts": ts, "values": vals}), qos=1)
        tick += 1
        time.sleep(max(0.0, t0 + tick - time.time()))
    c.loop_stop()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--assets", type=int, default=500)
    p.add_argument("--seconds", type=float, default=30.0)
    a = p.parse_args()
    tmp = Path(tempfile.mkdtemp())
    port = free_port()
    (tmp / "m.conf").write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\n"
        "set_tcp_nodelay true\nmax_queued_messages 100000\n"
    )
    broker = subprocess.Popen(
        [shutil.which("mosquitto") or "/usr/sbin/mosquitto", "-c", str(tmp / "m.conf")],
        stderr=subprocess.DEVNULL,
    )
    signals = [
        {"name": f"s{j}", "unit": "degC", "range": [-50, 150], "limits": {"hi": 120, "deadband": 2}}
        for j in range(10)
    ]
    site = {
        "site": {"id": "mem"},
        "asset_types": [{"name": "thing", "signals": signals}],
        "assets": [{"id": f"a{i}", "type": "thing", "area": "x"} for i in range(a.assets)],
        "sources": [
            {
                "kind": "mqtt",
                "name": "mq",
                "url": f"mqtt://127.0.0.1:{port}",
                "clean_start": True,
                "subscriptions": [
                    {
                        "topic": "mem/{asset}/all",
                        "payload": {"format": "document", "quality_field": None},
                    }
                ],
            }
        ],
        "window": {"length_s": 10, "lateness_s": 2},
        "uplink": {"edge_id": "mem", "url": None},
        "outbox": {"path": str(tmp / "outbox.db")},
        "status": {"port": 0},
    }
    (tmp / "site.yaml").write_text(yaml.safe_dump(site))
    agent = subprocess.Popen(
        [sys.executable, "-m", "egiz.cli.main", "edge", "run", "--config", str(tmp / "site.yaml")],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        line = agent.stdout.readline().decode()
        status_url = line.split()[-1]
        proc = psutil.Process(agent.pid)
        idle = proc.memory_info().rss
        pub = mp.Process(target=publish, args=(port, a.assets, a.seconds))
        pub.start()
        peak = 0
        t0 = time.time()
        while time.time() - t0 < a.seconds:
            peak = max(peak, proc.memory_info().rss)
            time.sleep(0.5)
        pub.join()
        end = proc.memory_info().rss
        mods = "sklearn" in open(f"/proc/{agent.pid}/maps").read()  # noqa: SIM115
        import urllib.request

        st = json.loads(urllib.request.urlopen(status_url, timeout=5).read())
        print(f"agent: {st['samples']} samples, {st['windows_made']} windows made")
        print(
            f"{a.assets * 10:,} signals at 1 Hz for {a.seconds:g} s: RSS idle "
            f"{idle / 2**20:.0f} MiB, peak {peak / 2**20:.0f} MiB, end {end / 2**20:.0f} MiB; "
            f"scikit-learn mapped: {mods}"
        )
    finally:
        agent.terminate()
        agent.wait(30)
        broker.terminate()
        broker.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
