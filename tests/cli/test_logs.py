"""JSON log lines keep the message, the level, extras and the exception."""

from __future__ import annotations

import json
import logging

from egiz.cli.logs import JsonFormatter


def test_json_formatter_structured_fields() -> None:
    log = logging.getLogger("egiz.test")
    try:
        raise ValueError("boom")
    except ValueError:
        import sys

        record = log.makeRecord("egiz.test", logging.ERROR, __file__, 1, "batch %s failed",
                                ("b-1",), sys.exc_info(), extra={"edge": "edge-1"})  # fmt: skip
    out = json.loads(JsonFormatter().format(record))
    assert out["message"] == "batch b-1 failed" and out["level"] == "error"
    assert out["edge"] == "edge-1" and out["logger"] == "egiz.test"
    assert "ValueError: boom" in out["exception"] and out["ts"].endswith("+00:00")


def test_edge_run_logs_json_lines(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """`egiz edge run --log-format json`: every stderr line is one JSON object, and the
    agent's own report that its broker is unreachable is among them, with its logger."""
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    sample = Path(__file__).resolve().parents[2] / "edge" / "sources" / "mqtt.sample.yaml"
    text = sample.read_text().replace("mqtt://127.0.0.1:1883", "mqtt://127.0.0.1:9")
    cfg = tmp_path / "site.yaml"
    cfg.write_text(text.replace("edge_id: demo-edge", "edge_id: demo-edge\nstatus: {port: 0}"))
    errfile = tmp_path / "stderr.log"
    cmd = [sys.executable, "-m", "egiz.cli.main", "edge", "run", "--config", str(cfg)]
    with errfile.open("w") as err:
        proc = subprocess.Popen(
            [*cmd, "--log-format", "json"],
            stdout=subprocess.PIPE,
            stderr=err,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            text=True,
        )
        try:
            assert "/status" in proc.stdout.readline()
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and "connect failed" not in errfile.read_text():
                time.sleep(0.2)
        finally:
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=30) == 0
    lines = [ln for ln in errfile.read_text().splitlines() if ln.strip()]
    records = [json.loads(ln) for ln in lines]  # a non-JSON line fails here
    failed = [r for r in records if "connect failed" in r["message"]]
    assert failed and failed[0]["logger"] == "egiz.edge.sources.mqtt", lines
    assert all({"ts", "level", "logger", "message"} <= r.keys() for r in records)
