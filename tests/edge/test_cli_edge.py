"""`egiz edge check | run | status` through the real console entry point."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from egiz.cli.main import main
from egiz.contracts import SiteConfig, load_yaml_model

SAMPLES = sorted((Path(__file__).parents[2] / "edge" / "sources").glob("*.sample.yaml"))


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.name)
def test_edge_sample_configs_load_and_check(path, capsys):
    cfg = load_yaml_model(SiteConfig, path)
    assert cfg.sources
    assert main(["edge", "check", "--config", str(path)]) == 0
    assert "valid site config" in capsys.readouterr().out


def test_edge_sample_configs_cover_every_source_kind():
    from egiz.edge.sources import REGISTRY

    kinds = {load_yaml_model(SiteConfig, p).sources[0].kind for p in SAMPLES}
    assert kinds == set(REGISTRY)


def test_edge_check_bad_config_is_one_line_with_file_line_path_fix(tmp_path, capsys):
    bad = tmp_path / "site.yaml"
    bad.write_text(
        "site: {id: x}\nasset_types: []\nassets: []\nsources:\n  - kind: mqtt\n    name: b\n"
        "    url: mqtt://127.0.0.1:1883\n    qos: 3\n    subscriptions: []\n"
        "uplink: {edge_id: e}\n"
    )
    assert main(["edge", "check", "--config", str(bad)]) == 1
    err = capsys.readouterr().err.strip()
    assert "\n" not in err
    assert f"{bad}:8: sources[0].qos:" in err and "(fix: " in err


def test_edge_run_and_status_as_processes(tmp_path):
    cfg = tmp_path / "site.yaml"
    text = (SAMPLES[0].parent / "mqtt.sample.yaml").read_text()
    # A broker nobody listens on: the agent must run (and report) without its source.
    text = text.replace("mqtt://127.0.0.1:1883", "mqtt://127.0.0.1:9")
    cfg.write_text(text.replace("edge_id: demo-edge", "edge_id: demo-edge\nstatus: {port: 0}"))
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "egiz.cli.main", "edge", "run", "--config", str(cfg)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        assert "/status" in line, line
        port = int(line.rsplit(":", 1)[1].split("/")[0])
        deadline = time.monotonic() + 20
        while True:
            out = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "egiz.cli.main",
                    "edge",
                    "status",
                    "--port",
                    str(port),
                    "--json",
                ],
                capture_output=True,
                text=True,
            )
            data = json.loads(out.stdout)
            if data["sources"]["broker"]["state"] == "reconnecting" or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert data["sources"]["broker"]["state"] == "reconnecting"
        assert data["outbox"]["depth"] >= 1  # the manifest waits for an uplink
        text_out = subprocess.run(
            [sys.executable, "-m", "egiz.cli.main", "edge", "status", "--port", str(port)],
            capture_output=True,
            text=True,
        ).stdout
        assert "source broker (mqtt): reconnecting" in text_out
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    assert (tmp_path / "var" / "outbox.db").exists()  # relative to the config file
