"""Fault test: `egiz edge run` killed with SIGKILL 20 times while a PLC keeps producing.

Oracle: the values the PLC served (its own log), never the edge's outbox. Windows emitted
before a kill are never emitted again (progress is committed with them); samples of windows
still open at the kill come back through HistoryRead backfill; batches cut off mid-upload are
sent again and stored once. The kill moments are logged (some land while an upload is in
flight; mid-commit kills of the outbox itself are covered by test_outbox's kill test).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import sys
import time

import pytest
import yaml

T0 = 1_800_000_000.0
KILLS = 20
_LIVE: list[int] = []  # agent PIDs this test started: none may outlive a failure


def _reap() -> None:
    for pid in _LIVE:
        with contextlib.suppress(ProcessLookupError, ChildProcessError):
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
    _LIVE.clear()


@pytest.mark.slow
def test_agent_killed_20_times_no_window_lost_or_duplicated(tmp_path, kit):
    try:
        moments = asyncio.run(_run(tmp_path, kit))
    finally:
        _reap()
    (tmp_path / "kills.log").write_text("\n".join(moments))
    print("\n".join(moments))
    assert len(moments) == KILLS


async def _run(tmp_path, kit) -> list[str]:
    rng = random.Random(4)
    port = kit.free_port()
    names = ["test.pump-1.flow", "test.pump-1.bearing_temp"]
    plant = kit.PlantServer(port, names)
    await plant.start()
    moments: list[str] = []
    with kit.IngestStub() as cloud:
        cloud.delay_s = 0.08
        sources = [
            {
                "kind": "opcua",
                "name": "plc",
                "endpoint": f"opc.tcp://127.0.0.1:{port}/egiz/",
                "subscription": {"publishing_interval_ms": 50},
                "reconnect": {"initial_s": 0.2, "max_s": 1.0},
                "nodes": [
                    {"node": f"ns=2;s={names[0]}", "asset": "pump-1", "signal": "flow"},
                    {"node": f"ns=2;s={names[1]}", "asset": "pump-1", "signal": "bearing_temp"},
                ],
            }
        ]
        cfg = kit.site_config(tmp_path, sources, uplink={"url": cloud.url})
        doc = cfg.model_dump(mode="json", by_alias=True, exclude_none=True)
        doc["uplink"]["token"] = kit.TOKEN  # SecretStr dumps masked
        (tmp_path / "site.yaml").write_text(yaml.safe_dump(doc))
        i = 0
        stop_writing = asyncio.Event()

        async def produce() -> None:
            nonlocal i
            while not stop_writing.is_set():
                ts = T0 + i * 0.1
                await plant.write(names[0], 100.0 + (i * 7) % 23, ts)
                await plant.write(names[1], 40.0 + (i * 5) % 13, ts)
                i += 1
                await asyncio.sleep(0.025)  # 4× real time

        writer = None
        started = time.monotonic()
        for n in range(KILLS + 1):
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "egiz.cli.main",
                "edge",
                "run",
                "--config",
                str(tmp_path / "site.yaml"),
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.DEVNULL,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
            _LIVE.append(proc.pid)
            line = await asyncio.wait_for(proc.stdout.readline(), 60)
            assert b"/status" in line, line
            if writer is None:  # a new agent cannot know what was served before it existed
                await asyncio.sleep(1.0)
                writer = asyncio.create_task(produce())
            if n == KILLS:
                break
            await asyncio.sleep(rng.uniform(0.3, 2.5))
            uploading = cloud.inflight > 0
            proc.send_signal(signal.SIGKILL)
            await proc.wait()
            moments.append(
                f"kill {n + 1}: t={time.monotonic() - started:.2f} s, data time "
                f"{T0 + i * 0.1:.1f}, {'mid-upload' if uploading else 'idle link'}"
            )
            await asyncio.sleep(rng.uniform(0.0, 1.0))  # down for a while: backfill needed
        await asyncio.sleep(2.0)
        stop_writing.set()
        await writer
        await plant.write(names[0], 0.0, T0 + i * 0.1 + 10)
        await plant.write(names[1], 0.0, T0 + i * 0.1 + 10)
        last_full = T0 + (i * 0.1 // 1.0) * 1.0
        served: dict = {}
        short = {names[0]: "flow", names[1]: "bearing_temp"}
        for name, ts, v in plant.served:
            if ts < last_full:
                served.setdefault(("pump-1", short[name]), []).append((ts, v))
        want = kit.expected_windows(served, 1.0)
        await kit.wait_until(
            lambda: set(want) <= set(kit.stored_windows(cloud.of_type("window"))),
            60,
            "every window in the cloud",
        )
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 30) == 0
        await plant.stop()
    got = kit.stored_windows(cloud.of_type("window"))  # fails on any duplicate window
    assert kit.assert_windows_match(got, want) == len(want) > 2 * 20
    assert sum("mid-upload" in m for m in moments) >= 1, moments
    assert len({epoch for epoch, _ in cloud.records}) == 1  # the outbox survived every kill
    return moments
