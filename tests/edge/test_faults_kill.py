"""Fault test: `egiz edge run` killed with SIGKILL 20 times in one run while the simulator serves.

Oracle: the simulator's served-value log, never the edge's outbox; judged is what the real
cloud stored. Windows emitted before a kill are never emitted again (the windower's progress is
committed with them); samples of windows still open at a kill come back through HistoryRead
backfill; a batch the cloud stored whose answer the agent never applied is sent again and stored
once. Alarm raise/clear events derived from the log arrive exactly once.

Where each kill landed is shown, not assumed: the agent runs with the test-only phase hook
(EGIZ_PHASE_LOG: every outbox commit and every upload writes begin/end markers with wall time
and pid; EGIZ_PHASE_HOLD_S holds inside each, as a slow disk or link would). The test aims some
kills at a commit or an upload in progress, then classifies every kill from the markers the
killed process left: mid-commit (a transaction open), mid-upload (a batch posted, its answer
not yet applied), or between phases. Runs plain and with TLS on.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import random
import signal
import sys
import time

import pytest
import yaml

from egiz.contracts import SiteConfig
from egiz.contracts.loader import validate_document

KILLS = 20
SPEED = 5.0
WINDOW = 2.0
HOLD_S = 0.05  # inside each commit / upload (test hook)
_LIVE: list[int] = []  # agent PIDs this test started: none may outlive a failure


def _reap() -> None:
    for pid in _LIVE:
        with contextlib.suppress(ProcessLookupError, ChildProcessError):
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
    _LIVE.clear()


@pytest.mark.slow
@pytest.mark.parametrize("transport", ["plain", "tls"])
def test_agent_killed_20_times_nothing_lost_or_duplicated(tmp_path, faults, transport):
    try:
        out = asyncio.run(_run(tmp_path, faults, tls=transport == "tls"))
    finally:
        _reap()
    moments = out.pop("moments")
    (tmp_path / "kills.log").write_text("\n".join(moments) + "\n")
    print("\n".join(moments))
    print(f"[{transport}] {out}")
    assert len(moments) == KILLS
    assert sum("mid-commit" in m for m in moments) >= 1, moments
    assert sum("mid-upload" in m for m in moments) >= 1, moments


class PhaseLog:
    """Reads the agents' phase markers: 'wall pid name' lines."""

    def __init__(self, path) -> None:  # type: ignore[no-untyped-def]
        self.path = path
        self.offset = 0
        self.last: dict[int, tuple[float, str]] = {}

    def poll(self) -> None:
        if not self.path.exists():
            return
        with open(self.path, "rb") as fh:
            fh.seek(self.offset)
            data = fh.read()
        cut = data.rfind(b"\n") + 1
        self.offset += cut
        for line in data[:cut].decode().splitlines():
            wall, pid, name = line.split()
            self.last[int(pid)] = (float(wall), name)

    def state(self, pid: int) -> str:
        self.poll()
        return self.last.get(pid, (0.0, "none"))[1]


async def _run(tmp_path, f, tls: bool) -> dict:
    rng = random.Random(7)
    certs = f.tls_certs(tmp_path) if tls else None
    cloud = f.FaultCloud(tmp_path, certs)
    await cloud.up()
    sim = f.simulator(tmp_path, certs, SPEED)
    await f.start_simulator(sim)
    phases = PhaseLog(tmp_path / "phases.log")
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "EGIZ_PHASE_LOG": str(phases.path),
           "EGIZ_PHASE_HOLD_S": str(HOLD_S)}  # fmt: skip
    moments: list[str] = []
    try:
        await sim.inject("pump-1", "spike", 5.0, "vibration")  # alarms raised and cleared
        doc = f.site_doc(tmp_path, sim, cloud, WINDOW)
        config = validate_document(SiteConfig, doc, str(tmp_path / "site.yaml"))
        (tmp_path / "site.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
        started = time.monotonic()
        t_first = None
        proc = None
        for n in range(KILLS + 1):
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "egiz.cli.main", "edge", "run",
                "--config", str(tmp_path / "site.yaml"),
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL, env=env,
            )  # fmt: skip
            _LIVE.append(proc.pid)
            line = await asyncio.wait_for(proc.stdout.readline(), 60)
            assert b"/status" in line, line
            if t_first is None:  # windows from the first full one after the first connect
                await f.wait_until(lambda: cloud.ingested("window") > 0, 60, "first windows")
                t_first = sim.engine.t
            if n == KILLS:
                break
            await asyncio.sleep(rng.uniform(0.5, 2.0))
            aim = ("commit", "upload", "anywhere")[n % 3]
            if aim != "anywhere":  # wait for that phase to begin (or give up after 10 s)
                deadline = time.monotonic() + 10
                while phases.state(proc.pid) != f"{aim}-begin" and time.monotonic() < deadline:  # noqa: ASYNC110
                    await asyncio.sleep(0.002)
            proc.send_signal(signal.SIGKILL)
            wall = time.time()
            await proc.wait()
            _LIVE.remove(proc.pid)
            where = {"commit-begin": "mid-commit", "upload-begin": "mid-upload"}.get(
                phases.state(proc.pid), "between phases"
            )
            moments.append(
                f"kill {n + 1:2d}: wall {wall:.3f} (+{time.monotonic() - started:6.2f} s), "
                f"data time {sim.engine.t:.0f}, aimed at {aim}: {where} "
                f"(last marker {phases.state(proc.pid)})"
            )
            await asyncio.sleep(rng.uniform(0.0, 1.5))  # down a while: backfill needed
        await asyncio.sleep(3.0)
        negotiated = await f.assert_tls_really_on(cloud, sim) if tls else {}
        t_end = sim.engine.t
        lo = (math.floor(t_first / WINDOW) + 1) * WINDOW
        hi = (math.floor(t_end / WINDOW) - 3) * WINDOW
        samples = f.served_samples(tmp_path / "truth")
        want = f.served_windows(samples, WINDOW, lo, hi)
        await f.wait_stored(cloud, want, 90)
        await asyncio.sleep(1.0)
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 30) == 0
        _LIVE.remove(proc.pid)
        got = {k: v for k, v in cloud.windows().items() if lo <= k[1] < hi}
        compared = f.compare_windows(got, want)
        assert cloud.ingested("window") == len({(a, s) for a, s, _sig in cloud.windows()})
        epochs = cloud.epochs()
        assert len(epochs) == 1, epochs  # the outbox survived every kill
        assert not cloud.events("data_gap"), "the server keeps history: nothing may be lost"
        want_alarms = [e for e in f.alarm_oracle(config, samples) if lo <= e[-1] < hi]
        got_alarms = [
            k
            for k in map(f.alarm_key, cloud.events("alarm_raise", "alarm_clear"))
            if lo <= k[-1] < hi
        ]
        assert sorted(got_alarms) == sorted(want_alarms)
        assert len(want_alarms) >= 10, "too few alarm events to prove anything"
        assert compared >= 2 * 10 * 50, compared
        return {"moments": moments, "windows": compared, "alarm_events": len(want_alarms),
                "tls": negotiated}  # fmt: skip
    finally:
        if proc is not None and proc.returncode is None:
            proc.kill()
            await proc.wait()
        await sim.stop()
        await cloud.down()
        cloud.close()
