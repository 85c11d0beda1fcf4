"""The InfluxDB sink against Debian's victoria-metrics (speaks influxdb-client's /api/v2/write).

Issue 5 acceptance 6: every summary given to the sink is on the server, counted there.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator

import httpx
import pytest

from egiz.cloud.sinks.influx import InfluxSink, line
from egiz.cloud.store.base import WindowRow

VM = shutil.which("victoria-metrics") or "/usr/bin/victoria-metrics"


@pytest.fixture
def victoria(tmp_path) -> Iterator[str]:
    """Start our own victoria-metrics on a free port; yield its base URL."""
    if not os.path.exists(VM):
        if os.environ.get("CI") == "true":
            pytest.fail("victoria-metrics is missing (apt-get install -y victoria-metrics)")
        pytest.skip("SKIPPING: victoria-metrics is not installed")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen(
        [VM, f"-storageDataPath={tmp_path}/vm", f"-httpListenAddr=127.0.0.1:{port}",
         "-retentionPeriod=100y", "-loggerLevel=ERROR"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                if httpx.get(f"{base}/health").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None, "victoria-metrics exited"
            time.sleep(0.05)
        yield base
    finally:
        proc.terminate()
        proc.wait(10)


def test_line_protocol_escapes_and_skips_missing_fields() -> None:
    row = WindowRow(
        "my site", "a,1", "x=y", 100.0, 10.0, 3, 1, 0, 0, 1.5, None, 2.0, None, 4.0, None
    )
    assert line(row) == (
        r"egiz_window,site=my\ site,asset=a\,1,signal=x\=y "
        "count=3i,bad=1i,uncertain=0i,out_of_range=0i,min=1.5,mean=2.0,last=4.0 100"
    )


def test_influx_sink_writes_every_summary(victoria: str) -> None:
    t0 = int(time.time()) - 7200
    rows = [
        WindowRow("plant", f"pump-{a}", sig, float(t0 + 10 * k), 10.0, 10, 0, 0, 0,
                  1.0, 3.0, 2.0 + k, 0.5, 2.5, None)
        for a in range(5) for sig in ("flow", "temp") for k in range(300)
    ]  # fmt: skip
    sink = InfluxSink(victoria, token="unused", org="egiz", bucket="egiz", batch_size=700)
    for i in range(0, len(rows), 250):  # as ingest hands them over, batch by batch
        sink.write(rows[i : i + 250])
    sink.close()
    assert (sink.written, sink.failed) == (len(rows), 0)
    httpx.get(f"{victoria}/internal/force_flush").raise_for_status()
    r = httpx.get(f"{victoria}/api/v1/export", params={"match[]": '{__name__="egiz_window_mean"}'})
    series = [json.loads(x) for x in r.text.splitlines() if x]
    assert len(series) == 10  # 5 assets x 2 signals
    assert sum(len(s["timestamps"]) for s in series) == len(rows)
    one = next(
        s for s in series if s["metric"]["asset"] == "pump-3" and s["metric"]["signal"] == "temp"
    )
    assert one["metric"]["site"] == "plant"
    assert one["timestamps"][:2] == [t0 * 1000, (t0 + 10) * 1000] and one["values"][:2] == [
        2.0,
        3.0,
    ]


def test_ingest_copies_new_windows_to_the_sink(victoria: str, tmp_path, mk) -> None:
    from fastapi.testclient import TestClient

    from egiz.cloud.app import create_app
    from egiz.cloud.config import CloudSettings
    from egiz.cloud.services.edges import add_edge

    app = create_app(CloudSettings(db_url=f"sqlite:///{tmp_path}/c.db", influx_url=victoria))
    token = add_edge(app.state.store, "edge-1")
    now = int(time.time()) // 10 * 10 - 600
    wins = []
    for k in range(20):
        w = mk.window(2 + k, k=k, flow=float(k))
        w["start"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + 10 * k))
        wins.append(w)
    body = mk.batch([mk.manifest(1), *wins])
    with TestClient(app) as c:
        for _ in range(2):  # the retry is stored once, so it is sent to the sink once
            r = c.post("/api/v1/ingest", json=body, headers={"Authorization": f"Bearer {token}"})
            assert r.json()["stored"] == [[1, 21]]
    assert app.state.sink.written == 40  # 20 windows x 2 signals, flushed at shutdown
    httpx.get(f"{victoria}/internal/force_flush").raise_for_status()
    r = httpx.get(f"{victoria}/api/v1/export", params={"match[]": '{__name__="egiz_window_last"}'})
    series = {json.loads(x)["metric"]["signal"]: json.loads(x) for x in r.text.splitlines() if x}
    assert series["flow"]["values"] == [float(k) for k in range(20)]
