"""Resident memory of `egiz edge run` serving 5,000 signals over MQTT, with its models loaded.

Starts its own Mosquitto, a publisher process and the agent (a subprocess), samples the
agent's RSS for --seconds and prints idle / peak / end RSS, the load average and what the
agent did. Two modes:

* default (models): the 5,000 signals belong to replicas of the simulator scenario's assets
  (`--scenario demo`: two centrifugal pumps and an induction motor, 10 signals each), with the
  asset types taken from `egiz.simulators.siteconfig.site_config`. Every asset type's health
  and RUL artifacts are trained here by `egiz model train-sim` into a temp dir (or read from
  `--artifacts DIR`, the pins in DIR/models.yaml) and pinned by sha256. The publisher replays
  a held-out simulator run (seed 4242, generated here, never seen by training): one JSON
  document per asset per wall second (5,000 samples/s), but data time advances --data-step
  seconds per document, so one edge window (10 samples, as a 10 s window at 1 Hz) is one 1 h
  model window and every asset scores a model window every 10 wall seconds. The bench then
  checks that models really ran (scored windows with health and RUL in the outbox) and that
  neither scikit-learn nor scipy is mapped in the agent process (/proc/<pid>/maps).
* --no-models: the earlier measurement: a made-up type "thing" with 10 degC signals per
  asset, values around 20-36, 10 s windows, no model.

    .venv/bin/python bench/edge_memory.py [--signals 5000] [--seconds 240] [--artifacts DIR]
    .venv/bin/python bench/edge_memory.py --no-models [--seconds 30]
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from pathlib import Path

import numpy as np
import psutil
import yaml

MB_LIMIT = 150e6  # issue 4 acceptance 5: ≤ 150 MB resident with 5,000 signals, models loaded
REPLAY_SEED = 4242  # not a train-sim training (SEED+1000..) or default held-out (100..) seed
EGIZ = [sys.executable, "-m", "egiz.cli.main"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- publishers (run in a child process) ---------------------------------------------------


def _publisher_client(port: int):
    import paho.mqtt.client as paho
    from paho.mqtt.enums import CallbackAPIVersion

    c = paho.Client(CallbackAPIVersion.VERSION2, client_id="mem-pub")
    c.connect("127.0.0.1", port)
    c.loop_start()
    return c


def publish_thing(port: int, assets: int, seconds: float) -> None:
    c = _publisher_client(port)
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


def publish_replay(
    port: int, replicas: list[tuple[str, str, int]], series: dict, t0_data: float,
    data_step: float, seconds: float,
) -> None:  # fmt: skip
    """One document per replica per wall second: the next row of its scenario asset's run.

    ``replicas``: (asset id, scenario asset, row offset); ``series``: scenario asset ->
    (signal names, (T, s) values every ``data_step`` s of data time). Dropouts (NaN) are left
    out of the document, as a device that has no reading sends none."""
    c = _publisher_client(port)
    t0 = time.time()
    tick = 0
    while time.time() - t0 < seconds:
        ts = t0_data + tick * data_step
        for asset, base, offset in replicas:
            names, rows = series[base]
            row = rows[(offset + tick) % rows.shape[0]]
            vals = {n: round(float(v), 4) for n, v in zip(names, row, strict=True)
                    if math.isfinite(v)}  # fmt: skip
            c.publish(f"mem/{asset}/all", json.dumps({"ts": ts, "values": vals}), qos=1)
        tick += 1
        time.sleep(max(0.0, t0 + tick - time.time()))
    c.loop_stop()


# --- site configs ----------------------------------------------------------------------------


def mqtt_source(port: int) -> dict:
    return {
        "kind": "mqtt",
        "name": "mq",
        "url": f"mqtt://127.0.0.1:{port}",
        "clean_start": True,
        "subscriptions": [
            {"topic": "mem/{asset}/all", "payload": {"format": "document", "quality_field": None}}
        ],
    }


def thing_site(port: int, n_assets: int, tmp: Path) -> dict:
    signals = [
        {"name": f"s{j}", "unit": "degC", "range": [-50, 150], "limits": {"hi": 120, "deadband": 2}}
        for j in range(10)
    ]
    return {
        "site": {"id": "mem"},
        "asset_types": [{"name": "thing", "signals": signals}],
        "assets": [{"id": f"a{i}", "type": "thing", "area": "x"} for i in range(n_assets)],
        "sources": [mqtt_source(port)],
        "window": {"length_s": 10, "lateness_s": 2},
        "uplink": {"edge_id": "mem", "url": None},
        "outbox": {"path": str(tmp / "outbox.db")},
        "status": {"port": 0},
    }


def train_or_read_pins(scenario: str, artifacts: Path | None, tmp: Path) -> list[dict]:
    """The `models:` pins: from DIR/models.yaml, or from a fresh `egiz model train-sim`."""
    if artifacts is None:
        artifacts = tmp / "artifacts"
        t = time.time()
        subprocess.run(
            [*EGIZ, "model", "train-sim", "--scenario", scenario, "--out", str(artifacts),
             "--days", "60", "--train-runs", "2", "--eval-runs", "1"],
            check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip
        print(f"trained artifacts for {scenario} in {time.time() - t:.1f} s: {artifacts}")
    pins = yaml.safe_load((artifacts / "models.yaml").read_text("utf-8"))["models"]
    return [{**p, "artifact": str(Path(p["artifact"]).resolve())} for p in pins]


def replay_series(scenario, tmp: Path, data_step: float) -> dict:
    """Scenario asset -> (signals, (T, s) values every ``data_step`` s) of a held-out run."""
    from egiz.simulators.generate import generate

    out = tmp / "replay"
    gen_step = 60.0
    every = round(data_step / gen_step)
    if every < 1 or abs(every * gen_step - data_step) > 1e-9:
        raise SystemExit(f"--data-step must be a multiple of {gen_step:g} s")
    generate(scenario, out, days=max(10.0, 400 * data_step / 86400), seed=REPLAY_SEED,
             step_s=gen_step)  # fmt: skip
    manifest = json.loads((out / "manifest.json").read_text("utf-8"))
    values = []
    for f in sorted(f for f in manifest["files"] if f.startswith("signals-")):
        with np.load(out / f, allow_pickle=False) as npz:
            values.append(npz["values"])
    v = np.concatenate(values, axis=1)[:, ::every]
    series: dict[str, tuple[list[str], list[int]]] = {}
    for i, s in enumerate(manifest["signals"]):
        asset = s["asset"].removeprefix(manifest["site"] + ".")
        series.setdefault(asset, ([], []))
        series[asset][0].append(s["signal"])
        series[asset][1].append(i)
    return {a: (names, v[idx].T.astype(np.float64)) for a, (names, idx) in series.items()}


def model_site(
    port: int, n_signals: int, tmp: Path, scenario_name: str, pins: list[dict], data_step: float
) -> tuple[dict, list[tuple[str, str, int]]]:
    """The scenario's site config, its assets replicated to ``n_signals``, MQTT documents."""
    from egiz.simulators.scenario import load_scenario
    from egiz.simulators.siteconfig import site_config

    scenario = load_scenario(scenario_name)
    doc = site_config(scenario, cloud_url=None, edge_id="mem")
    width = {t["name"]: len(t["signals"]) for t in doc["asset_types"]}
    pinned = Counter(p["asset_type"] for p in pins)
    base = [a for a in doc["assets"] if pinned[a["type"]] >= 2]  # health + RUL per type
    if not base:
        raise SystemExit(f"no asset type of {scenario_name} has health + RUL pins: {pins}")
    assets, replicas, total, r = [], [], 0, 0
    while total < n_signals:
        a = base[r % len(base)]
        rid = f"{a['id']}-r{r // len(base)}"
        assets.append({**a, "id": rid, "name": rid})
        # Replicas start at different rows of the run, so they are not 170 copies of one asset.
        replicas.append((rid, a["id"], (r * 37) % 400))
        total += width[a["type"]]
        r += 1
    used = {a["type"] for a in assets}
    doc |= {
        "asset_types": [t for t in doc["asset_types"] if t["name"] in used],
        "assets": assets,
        "sources": [mqtt_source(port)],
        # 10 samples per edge window as at 1 Hz with 10 s windows; data time runs data_step×.
        "window": {"length_s": 10 * data_step, "lateness_s": 2 * data_step},
        "outbox": {"path": str(tmp / "outbox.db")},
        "status": {"port": 0},
        "models": [p for p in pins if p["asset_type"] in used],
    }
    return doc, replicas


# --- what the agent did and what is mapped ---------------------------------------------------


def scored_in_outbox(path: Path) -> dict:
    """Counts of window summaries with scores in the outbox (read after the agent stopped)."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        bodies = [json.loads(b) for (b,) in db.execute("SELECT body FROM records")]
    finally:
        db.close()
    windows = [b for b in bodies if isinstance(b, dict) and b.get("type") == "window"]
    scores = [b["scores"] for b in windows if b.get("scores")]
    health = [s["health"] for s in scores if s.get("health") is not None]
    return {
        "records": len(bodies),
        "windows": len(windows),
        "scored": len(scores),
        "health": len(health),
        "rul": sum(1 for s in scores if s.get("rul")),
        "models": sorted({s["model"] for s in scores}),
        "health_range": (min(health), max(health)) if health else None,
    }


def smaps_top(pid: int, n: int = 8) -> list[tuple[str, float]]:
    """RSS by mapping (anonymous memory together, shared objects by their package), MiB."""
    by: Counter = Counter()
    name = "[anon]"
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            head = line.split()
            if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
                path = head[5] if len(head) > 5 else "[anon]"
                if "site-packages/" in path:
                    path = "site-packages/" + path.split("site-packages/")[1].split("/")[0]
                elif path.startswith("/"):
                    path = path.rsplit("/", 1)[-1]
                name = path
            elif head[0] == "Rss:":
                by[name] += int(head[1]) / 1024
    return by.most_common(n)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--signals", type=int, default=5000)
    p.add_argument("--seconds", type=float, help="default 240 with models, 30 without")
    p.add_argument("--no-models", action="store_true", help="made-up type 'thing', no models")
    p.add_argument("--scenario", default="demo", help="simulator scenario whose types are used")
    p.add_argument("--artifacts", type=Path, help="use DIR/models.yaml pins instead of training")
    p.add_argument("--data-step", type=float, default=360.0,
                   help="data seconds per wall second in the replay (multiple of 60)")  # fmt: skip
    a = p.parse_args()
    seconds = a.seconds or (30.0 if a.no_models else 240.0)
    load0 = os.getloadavg()
    tmp = Path(tempfile.mkdtemp(prefix="egiz-mem-"))
    port = free_port()
    (tmp / "m.conf").write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\n"
        "set_tcp_nodelay true\nmax_queued_messages 100000\n"
    )
    if a.no_models:
        site = thing_site(port, a.signals // 10, tmp)
        pub = mp.Process(target=publish_thing, args=(port, a.signals // 10, seconds))
    else:
        from egiz.simulators.scenario import load_scenario

        pins = train_or_read_pins(a.scenario, a.artifacts, tmp)
        site, replicas = model_site(port, a.signals, tmp, a.scenario, pins, a.data_step)
        series = replay_series(load_scenario(a.scenario), tmp, a.data_step)
        t0_data = math.floor(time.time() / 3600) * 3600.0  # model windows start on the hour
        pub = mp.Process(
            target=publish_replay,
            args=(port, replicas, series, t0_data, a.data_step, seconds),
        )
    n_signals = sum(
        len(next(t for t in site["asset_types"] if t["name"] == x["type"])["signals"])
        for x in site["assets"]
    )
    (tmp / "site.yaml").write_text(yaml.safe_dump(site, sort_keys=False))
    if site.get("models"):
        check = subprocess.run(
            [*EGIZ, "edge", "check", "--config", str(tmp / "site.yaml")],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        for line in check.stdout.splitlines():
            if line.strip().startswith("model "):
                print("edge check:", line.strip())
    broker = subprocess.Popen(
        [shutil.which("mosquitto") or "/usr/sbin/mosquitto", "-c", str(tmp / "m.conf")],
        stderr=subprocess.DEVNULL,
    )
    agent = subprocess.Popen(
        [*EGIZ, "edge", "run", "--config", str(tmp / "site.yaml")],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    ok = True
    try:
        line = agent.stdout.readline().decode()
        status_url = line.split()[-1]
        proc = psutil.Process(agent.pid)
        idle = proc.memory_info().rss
        pub.start()
        peak, t0 = 0, time.time()
        while time.time() - t0 < seconds:
            peak = max(peak, proc.memory_info().rss)
            time.sleep(0.5)
        pub.join()
        time.sleep(2.0)  # the last documents in flight
        end = proc.memory_info().rss
        peak = max(peak, end)
        maps = Path(f"/proc/{agent.pid}/maps").read_text()
        # Package folders, not bare names: numpy's own wheel maps libscipy_openblas64_.
        heavy = {m: re.search(rf"/site-packages/{m}(\.libs)?/", maps) is not None
                 for m in ("sklearn", "scipy")}  # fmt: skip
        top = smaps_top(agent.pid)
        st = json.loads(urllib.request.urlopen(status_url, timeout=5).read())
        load1 = os.getloadavg()
    finally:
        agent.terminate()
        agent.wait(30)
        broker.terminate()
        broker.wait()
    try:
        samples = st["samples"]
        n = sum(samples.values()) if isinstance(samples, dict) else samples
        print(
            f"agent: {n:,} samples ({samples}), {st['windows_made']:,} windows made, "
            f"{st['late_samples']:,} late, {st['unmapped_samples']:,} unmapped"
        )
        if site.get("models"):
            sc = scored_in_outbox(tmp / "outbox.db")
            n_assets = len(site["assets"])
            print(
                f"models: {len(site['models'])} artifacts pinned by sha256 "
                f"({', '.join(sorted({m['asset_type'] for m in site['models']}))}), "
                f"{n_assets} model instances (one health + RUL state per asset); outbox: "
                f"{sc['scored']:,} of {sc['windows']:,} window summaries scored "
                f"({sc['records']:,} outbox records in all), "
                f"{sc['health']:,} with health {sc['health_range']}, {sc['rul']:,} with RUL; "
                f"models {sc['models']}"
            )
            if not (sc["health"] and sc["rul"]):
                print("NOT VERIFIED: no scored windows with health and RUL")
                ok = False
        mib = 2**20
        print(
            f"{n_signals:,} signals at 1 Hz for {seconds:g} s"
            + ("" if a.no_models else f" (data time {a.data_step:g}× real time)")
            + f": RSS idle {idle / mib:.0f} MiB, peak {peak / mib:.0f} MiB "
            f"({peak / 1e6:.0f} MB), end {end / mib:.0f} MiB; limit 150 MB: "
            + ("met" if peak <= MB_LIMIT else "NOT met")
        )
        print(f"mapped in the agent: scikit-learn {heavy['sklearn']}, scipy {heavy['scipy']}")
        print("largest RSS at the end (MiB): " + ", ".join(f"{k} {v:.1f}" for k, v in top))
        print(
            "load average before: " + " ".join(f"{x:.2f}" for x in load0)
            + ", after: " + " ".join(f"{x:.2f}" for x in load1)
        )  # fmt: skip
        if any(heavy.values()):
            ok = False
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
