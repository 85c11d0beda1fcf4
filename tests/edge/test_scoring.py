"""Models at the edge: pinned artifacts score window summaries; forgeries are refused; restarts.

Real peers: the machine's Mosquitto feeds the agent, its outbox (SQLite) is read back. The
artifacts are trained here on small synthetic data (a 4 s model window over 1 s edge windows)
so the test stays fast; the oracle is the same model run offline over the same samples.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import math
import shutil
import sqlite3
import time
import uuid
import zipfile
from pathlib import Path

import numpy as np
import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from egiz.cli.main import main
from egiz.contracts import RECORD_ADAPTER
from egiz.contracts.errors import ConfigError
from egiz.edge.agent import EdgeAgent
from egiz.models.artifacts.store import artifact_sha256, verify_artifact
from egiz.models.health.artifact import load_health
from egiz.models.health.index import distance_from_health
from egiz.models.rul.trend import load_trend

from .motor_models import train_motor_models

T0 = 1_800_000_000.0  # a multiple of the 4 s model window
MODEL_S = 4.0
RATE = 4  # samples per second per signal


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory):
    """A health model (4 s windows) and a RUL trend model for the test's `motor` type."""
    d = tmp_path_factory.mktemp("artifacts")
    health_sha, rul_sha = train_motor_models(d, MODEL_S)
    return {"dir": d, "health": health_sha, "rul": rul_sha}


def _models(art, health_dir=None):
    return [
        {"asset_type": "motor", "artifact": str(health_dir or art["dir"] / "health"),
         "sha256": art["health"]},
        {"asset_type": "motor", "artifact": str(art["dir"] / "rul"), "sha256": art["rul"]},
    ]  # fmt: skip


def _config(kit, tmp_path, prefix, mosquitto, models):
    src = {"kind": "mqtt", "name": "broker", "url": f"mqtt://{mosquitto[0]}:{mosquitto[1]}",
           "client_id": prefix, "clean_start": True,
           "subscriptions": [{"topic": f"{prefix}/pumping/{{asset}}/{{signal}}"}]}  # fmt: skip
    return kit.site_config(tmp_path, [src], models=models)


def _samples(n_s: float, t_from: float = 0.0):
    """(ts, current, winding_temp): a motor whose winding runs ever hotter at the same load."""
    ts = T0 + np.arange(t_from * RATE, n_s * RATE) / RATE
    x = ts - T0
    current = 11 + 0.5 * np.sin(x)
    temp = 60 + np.where(x > 16, 0.08 * np.maximum(x - 16, 0) ** 1.5, 0.0)
    return ts, current, temp


async def _feed(kit, agent_cfg, prefix, mosquitto, rows, end_ts):
    """Run an agent, publish the rows over MQTT, move the watermark to ``end_ts``, stop."""
    agent = EdgeAgent(agent_cfg)
    stop = asyncio.Event()
    run = asyncio.create_task(agent.run(stop))
    await kit.wait_until(lambda: agent.sources and agent.sources[0].state == "connected",
                         20, "MQTT connected")  # fmt: skip
    await asyncio.sleep(0.3)  # the SUBACK
    pub = paho.Client(CallbackAPIVersion.VERSION2, client_id=prefix + "-pub-" + uuid.uuid4().hex)
    pub.connect(*mosquitto)
    pub.loop_start()
    for ts, cur, temp in zip(*rows, strict=True):
        for sig, v in (("current", cur), ("winding_temp", temp)):
            pub.publish(f"{prefix}/pumping/motor-1/{sig}",
                        json.dumps({"value": float(v), "ts": float(ts)}), qos=1)  # fmt: skip
    for sig in ("current", "winding_temp"):
        info = pub.publish(f"{prefix}/pumping/motor-1/{sig}",
                           json.dumps({"value": 11.0 if sig == "current" else 60.0,
                                       "ts": end_ts}), qos=1)  # fmt: skip
    info.wait_for_publish(5)
    want_closed = math.floor((end_ts - 1.0) / 1.0)
    await kit.wait_until(lambda: agent.windower is not None
                         and agent.windower.closed_k >= want_closed, 30, "windows closed")  # fmt: skip
    stop.set()
    await run
    pub.loop_stop()
    pub.disconnect()
    return agent


def _summaries(db: Path) -> list[dict]:
    con = sqlite3.connect(db)
    try:
        bodies = [json.loads(r[0]) for r in con.execute("select body from records order by seq")]
    finally:
        con.close()
    return [b for b in bodies if b.get("type") == "window" and b.get("asset") == "motor-1"]


def _oracle(art, rows):
    """Health per model window, the model run offline over the same samples' window means."""
    _, hm = load_health(art["dir"] / "health", art["health"])
    _, rul = load_trend(art["dir"] / "rul", art["rul"])
    ts, cur, temp = rows
    k = np.floor(ts / MODEL_S).astype(int)
    ks = np.unique(k)
    means = np.array([[cur[k == j].mean(), temp[k == j].mean()] for j in ks])
    runner = hm.runner()
    health = np.array([runner.update(m)["health"] for m in means], dtype=float)
    return {float(j * MODEL_S): h for j, h in zip(ks, health, strict=True)}, rul


def _scored(summaries):
    """Model-window start -> scores, from the summaries that closed a model window."""
    out = {}
    for s in summaries:
        RECORD_ADAPTER.validate_python({**s, "seq": 1})
        if s.get("scores"):
            start = _ts(s["start"]) + s["length_s"] - MODEL_S
            assert start not in out, "a model window scored twice"
            out[start] = s["scores"]
    return out


def _ts(iso: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(iso).timestamp()


def test_scoring_agent_emits_anomaly_health_and_rul(tmp_path, kit, mosquitto, artifacts):
    prefix = f"egiz-test-{uuid.uuid4().hex[:8]}"
    cfg = _config(kit, tmp_path, prefix, mosquitto, _models(artifacts))
    rows = _samples(40.0)
    asyncio.run(_feed(kit, cfg, prefix, mosquitto, rows, T0 + 42.0))
    scored = _scored(_summaries(tmp_path / "outbox.db"))
    want, _ = _oracle(artifacts, rows)
    assert sorted(scored) == sorted(want)  # every 4 s model window scored exactly once
    for start, h in want.items():
        s = scored[start]
        assert (s["model"], s["version"]) == ("motor-health+motor-rul", "0.1.0+0.2.0")
        assert math.isclose(s["health"], h, abs_tol=0.01), (start, s["health"], h)
        assert s["anomalous"] == (h < 50)
        want_anomaly = float(distance_from_health(h))  # the index's own inverse of health
        assert math.isclose(s["anomaly"], want_anomaly, rel_tol=1e-6, abs_tol=1e-3)
    late = [scored[k] for k in sorted(scored)][-3:]
    assert late[-1]["health"] < 50 and late[-1]["explanation"]  # the hot winding is seen
    assert all(s["rul"] and s["rul"]["unit"] == "h" for s in late)
    r = late[-1]["rul"]
    assert r["low"] <= r["value"] <= r["high"] and r["value"] < 100


def _forge(src: Path, dst: Path) -> str:
    """Alter the arrays and rewrite the file hash and the manifest's own sha256 to match."""
    shutil.copytree(src, dst)
    with np.load(dst / "arrays.npz", allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    key = next(k for k, v in arrays.items() if v.dtype.kind == "f" and v.size)
    arrays[key] = arrays[key] * 0.5
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, a in arrays.items():
            m = io.BytesIO()
            np.save(m, a, allow_pickle=False)
            zf.writestr(f"{name}.npy", m.getvalue())
    (dst / "arrays.npz").write_bytes(buf.getvalue())
    manifest = json.loads((dst / "manifest.json").read_text())
    manifest["files"]["arrays.npz"] = hashlib.sha256(buf.getvalue()).hexdigest()
    manifest["sha256"] = artifact_sha256(manifest)
    (dst / "manifest.json").write_text(json.dumps(manifest))
    return manifest["sha256"]


def test_scoring_consistently_altered_artifact_is_refused(tmp_path, kit, artifacts, capsys):
    forged = tmp_path / "forged"
    actual = _forge(artifacts["dir"] / "health", forged)
    assert verify_artifact(forged)["sha256"] == actual != artifacts["health"]  # self-consistent
    cfg = kit.site_config(tmp_path, [], models=_models(artifacts, forged))
    with pytest.raises(ConfigError) as err:
        EdgeAgent(cfg)
    msg = str(err.value)
    assert "\n" not in msg and str(forged) in msg and actual in msg and artifacts["health"] in msg
    assert "fix:" in msg
    assert not (tmp_path / "outbox.db").exists()  # nothing started
    site = tmp_path / "site.yaml"
    site.write_text(json.dumps(cfg.model_dump(mode="json", exclude_none=True)))
    assert main(["edge", "check", "--config", str(site)]) != 0
    assert artifacts["health"] in capsys.readouterr().err
    good = kit.site_config(tmp_path, [], models=_models(artifacts))
    site.write_text(json.dumps(good.model_dump(mode="json", exclude_none=True)))
    assert main(["edge", "check", "--config", str(site)]) == 0
    assert "motor-health 0.1.0 for motor (1 assets)" in capsys.readouterr().out


def test_scoring_state_survives_a_restart(tmp_path, kit, mosquitto, artifacts):
    prefix = f"egiz-test-{uuid.uuid4().hex[:8]}"
    cfg = _config(kit, tmp_path, prefix, mosquitto, _models(artifacts))
    rows = _samples(40.0)
    ts = rows[0]
    # Stop mid model window (at 22 s of 24): the restarted agent must finish that window.
    first = tuple(a[ts < T0 + 22.0] for a in rows)
    second = tuple(a[ts >= T0 + 22.0] for a in rows)
    asyncio.run(_feed(kit, cfg, prefix, mosquitto, first, T0 + 22.0))
    time.sleep(0.1)
    asyncio.run(_feed(kit, cfg, prefix, mosquitto, second, T0 + 42.0))
    scored = _scored(_summaries(tmp_path / "outbox.db"))
    want, _ = _oracle(artifacts, tuple(np.r_[a, b] for a, b in zip(first, second, strict=True)))
    assert sorted(scored) == sorted(want)
    for start, h in want.items():  # equal to one uninterrupted run: state resumed exactly
        assert math.isclose(scored[start]["health"], h, abs_tol=0.01), (start, h)
    assert scored[T0 + 40.0 - MODEL_S]["rul"] is not None
