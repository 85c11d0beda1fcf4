"""`egiz demo --duration 60`: exits 0, both protocols deliver, the API matches what was served."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

EGIZ = [sys.executable, "-m", "egiz.cli.main"]


def _served_values(path: Path) -> dict[tuple[str, str, str], float | None]:
    out = {}
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            ts = row["ts"].replace("Z", "+00:00")
            out[(row["asset"], row["signal"], ts)] = row["value"]
    return out


def _norm_ts(ts: str) -> str:
    from datetime import UTC, datetime

    dt = datetime.fromisoformat(ts.replace("Z", "+00:00")).astimezone(UTC)
    return dt.isoformat(timespec="milliseconds")


def _stop(proc: subprocess.Popen) -> None:
    """Never leave a demo behind: Ctrl-C, and kill it if that does not end it in 30 s."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def _login(base: str, creds: Path) -> dict[str, str]:
    """Log in with the credentials the demo printed (also in credentials.txt); {} if not yet up."""
    try:
        fields = dict(line.split(" ", 1) for line in creds.read_text().splitlines())
        r = httpx.post(
            f"{base}/api/v1/auth/login",
            json={"username": fields["user"], "password": fields["password"]},
            timeout=5,
        )
    except (OSError, KeyError, ValueError, httpx.TransportError):
        return {}
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


@pytest.mark.slow
def test_demo_runs_for_its_duration_and_serves_the_simulated_values(
    tmp_path: Path, unused_port: int
) -> None:
    """While the demo runs the API lists every asset with the values the simulator served."""
    workdir = tmp_path / "demo"
    proc = subprocess.Popen(
        [*EGIZ, "demo", "--duration", "60", "--port", str(unused_port), "--workdir", str(workdir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    base = f"http://127.0.0.1:{unused_port}"
    checked = 0
    headers: dict[str, str] = {}
    try:
        deadline = time.monotonic() + 55
        assets: list[dict] = []
        while time.monotonic() < deadline:
            time.sleep(2)
            if not headers:
                headers = _login(base, workdir / "credentials.txt")
                if not headers:
                    continue
            r = httpx.get(f"{base}/api/v1/assets", timeout=5, headers=headers)
            assert r.status_code == 200, r.text
            assets = r.json()["data"]
            if len(assets) == 3 and checked == 0:
                details = [
                    httpx.get(f"{base}/api/v1/assets/{a['id']}", timeout=5, headers=headers).json()
                    for a in assets
                ]
                if all(any(s["value"] is not None for s in d["signals"]) for d in details):
                    served = {
                        (a, s, _norm_ts(t)): v
                        for (a, s, t), v in _served_values(
                            workdir / "truth" / "served.jsonl"
                        ).items()
                    }
                    for d in details:
                        for s in d["signals"]:
                            if s["value"] is None:
                                continue
                            key = (d["id"], s["name"], _norm_ts(s["ts"]))
                            assert key in served, f"{key} was never served"
                            assert served[key] == pytest.approx(s["value"], rel=1e-12), key
                            checked += 1
        assert {a["asset"] for a in assets} == {"pump-1", "pump-2", "motor-1"}, assets
        assert checked >= 10, "the API never showed values to compare with the served-value log"
        out, _ = proc.communicate(timeout=60)
    finally:
        _stop(proc)
    assert proc.returncode == 0, out[-3000:]
    summary = next(line for line in out.splitlines() if line.startswith("Summary:"))
    counts = dict(
        (k.strip().rsplit(" ", 1)[0], int(k.strip().rsplit(" ", 1)[1]))
        for k in summary.removeprefix("Summary:").split(",")
    )
    assert counts["opcua_samples"] > 0 and counts["mqtt_samples"] > 0, summary
    assert counts["signal_windows_in_cloud"] > 0 and counts["assets_in_cloud"] == 3, summary
    assert "log in as admin / " in out


def test_demo_help_describes_its_options() -> None:
    out = subprocess.run([*EGIZ, "demo", "--help"], capture_output=True, text=True, check=True)
    for option in ("--duration", "--speed", "--port", "--mqtt"):
        assert option in out.stdout


@pytest.mark.slow
def test_demo_ctrl_c_stops_everything_cleanly(tmp_path: Path, unused_port: int) -> None:
    """One SIGINT stops simulator, edge and cloud: the process exits 130 and the port is free."""
    workdir = tmp_path / "demo"
    proc = subprocess.Popen(
        [*EGIZ, "demo", "--port", str(unused_port), "--workdir", str(workdir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not (workdir / "credentials.txt").exists():
            assert proc.poll() is None and time.monotonic() < deadline, "demo did not come up"
            time.sleep(0.5)
        time.sleep(3)
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
    finally:
        _stop(proc)
    assert proc.returncode == 130, out[-3000:]
    assert "Summary:" in out
    with httpx.Client() as http, pytest.raises(httpx.TransportError):
        http.get(f"http://127.0.0.1:{unused_port}/healthz", timeout=2)
