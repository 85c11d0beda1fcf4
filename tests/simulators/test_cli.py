"""`egiz sim list | truth | inject` from the command line."""

from __future__ import annotations

import itertools
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from egiz.cli.main import main


def test_cli_list_names_types_and_scenarios(capsys) -> None:
    assert main(["sim", "list"]) == 0
    out = capsys.readouterr().out
    for word in ("centrifugal_pump", "transformer", "grinding_mill", "demo", "mine", "oilfield"):
        assert word in out


def test_cli_truth_exports_rul_counting_down(tmp_path: Path) -> None:
    out = tmp_path / "truth.jsonl"
    assert (
        main(
            [
                "sim",
                "truth",
                "--scenario",
                "demo",
                "--hours",
                "6",
                "--every-s",
                "3600",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    recs = [json.loads(x) for x in out.read_text().splitlines()]
    pump2 = [r for r in recs if r["asset"] == "demo.pump-2"]
    assert len(pump2) == 6 and len(recs) == 18
    ruls = [r["rul_h"] for r in pump2]
    assert all(abs((a - b) - 1.0) < 1e-6 for a, b in itertools.pairwise(ruls))


def test_cli_inject_without_simulator_is_one_line(capsys) -> None:
    assert (
        main(
            [
                "sim",
                "inject",
                "--asset",
                "pump-1",
                "--fault",
                "cavitation",
                "--control",
                "http://127.0.0.1:9",
            ]
        )
        == 1
    )
    err = capsys.readouterr().err.strip()
    assert (
        err.startswith("egiz: error: no simulator answers at http://127.0.0.1:9")
        and "\n" not in err
    )


def test_cli_run_serves_until_ctrl_c(
    tmp_path: Path, opcua_port: int, topic_prefix: str, mosquitto
) -> None:
    code = "import sys; from egiz.cli.main import main; sys.exit(main(sys.argv[1:]))"
    args = [
        "sim",
        "run",
        "--scenario",
        "demo",
        "--opcua-port",
        str(opcua_port),
        "--topic-prefix",
        topic_prefix,
    ]
    args += ["--truth-dir", str(tmp_path), "--speed", "5", "--control-port", "-1"]
    proc = subprocess.Popen([sys.executable, "-c", code, *args], stdout=subprocess.PIPE, text=True)
    try:
        first = proc.stdout.readline()
        assert first.startswith(f"OPC UA: opc.tcp://127.0.0.1:{opcua_port}/egiz/")
        for _ in range(100):  # until something was served
            if (tmp_path / "served.jsonl").exists() and (
                tmp_path / "served.jsonl"
            ).stat().st_size > 0:
                break
            time.sleep(0.1)
        proc.send_signal(signal.SIGINT)
        rest = proc.communicate(timeout=30)[0]
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0
    assert "served: {'opcua':" in rest
    protocols = {
        json.loads(x)["protocol"] for x in (tmp_path / "served.jsonl").read_text().splitlines()
    }
    assert protocols == {"opcua", "mqtt"}
