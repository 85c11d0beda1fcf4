"""Model state in the outbox: meta rows per asset, written only for the assets whose state
changed, in the records' transaction: ``models/<asset>/open`` (the open model window) with each
of its edge windows, ``models/<asset>`` (health runner, trend) only when a model window closes
or a reset; restored exactly at a restart (clean or kill -9); an outbox of the previous version
(one ``models`` key for every asset) migrated.

Real parts: a real agent with pinned health + RUL artifacts (trained here on small synthetic
data), its SQLite outbox file read back directly; writes are observed with SQLite triggers
installed in that file, so the test sees every row the agent's connection inserts or updates.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from egiz.edge.agent import EdgeAgent
from egiz.edge.outbox import Outbox
from egiz.edge.scoring import state_from_rows
from egiz.edge.window import WindowResult

from .motor_models import train_motor_models

T0 = 1_800_000_000.0  # a multiple of the 4 s model window
MODEL_S = 4.0
EDGE_S = 1.0
MOTORS = [f"motor-{i}" for i in range(1, 6)]


@pytest.fixture(scope="module")
def pins(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, str]]:
    """A health model (4 s windows) and a RUL trend model for the `motor` type."""
    d = tmp_path_factory.mktemp("artifacts")
    health_sha, rul_sha = train_motor_models(d, MODEL_S)
    return [
        {"asset_type": "motor", "artifact": str(d / "health"), "sha256": health_sha},
        {"asset_type": "motor", "artifact": str(d / "rul"), "sha256": rul_sha},
    ]


def _config(kit: Any, tmp: Path, pins: list[dict[str, str]], motors: list[str] = MOTORS) -> Any:
    assets = [{"id": m, "type": "motor", "area": "pumping"} for m in motors]
    return kit.site_config(tmp, [], models=pins, assets=assets)


def _window(asset: str, i: int) -> WindowResult:
    """Edge window i (1 s) of an asset: a winding that runs hotter with time, per-asset offset."""
    n = MOTORS.index(asset) if asset in MOTORS else 0
    x = i * EDGE_S
    stats = {"current": {"mean": 11 + 0.5 * np.sin(x + n), "count": 4},
             "winding_temp": {"mean": 60 + 0.3 * n + 0.02 * x ** 1.5, "count": 4}}  # fmt: skip
    return WindowResult(asset, i, T0 + x, EDGE_S, stats)


@asynccontextmanager
async def _running(cfg: Any) -> AsyncIterator[EdgeAgent]:
    agent = EdgeAgent(cfg)
    stop = asyncio.Event()
    task = asyncio.create_task(agent.run(stop))
    await asyncio.wait_for(agent.ready.wait(), 20)
    try:
        yield agent
    finally:
        stop.set()
        await task


def _feed(agent: EdgeAgent, windows: list[WindowResult]) -> None:
    """Commit closed windows as the agent does when the windower closes them."""
    agent._commit(windows)


def _rows(db: Path) -> dict[str, str]:
    con = sqlite3.connect(db)
    try:
        return dict(con.execute("SELECT key, value FROM meta WHERE key LIKE 'models%'"))
    finally:
        con.close()


def _watch_meta_writes(db: Path) -> None:
    """Log every meta row inserted or updated (by any connection) into a table ``writes``."""
    con = sqlite3.connect(db, isolation_level=None)
    try:
        con.executescript(
            """
            CREATE TABLE writes (n INTEGER PRIMARY KEY, key TEXT, bytes INTEGER);
            CREATE TRIGGER meta_ins AFTER INSERT ON meta
              BEGIN INSERT INTO writes (key, bytes) VALUES (new.key, length(new.value)); END;
            CREATE TRIGGER meta_upd AFTER UPDATE ON meta
              BEGIN INSERT INTO writes (key, bytes) VALUES (new.key, length(new.value)); END;
            """
        )
    finally:
        con.close()


def _writes(db: Path) -> list[str]:
    con = sqlite3.connect(db)
    try:
        return [k for (k,) in con.execute("SELECT key FROM writes ORDER BY n")]
    finally:
        con.close()


def _model_writes(db: Path) -> list[str]:
    return [k for k in _writes(db) if k.startswith("models")]


def _clear_writes(db: Path) -> None:
    con = sqlite3.connect(db, isolation_level=None)
    try:
        con.execute("DELETE FROM writes")
    finally:
        con.close()


def _canon(state: dict) -> str:
    return json.dumps(state, sort_keys=True)


def test_model_state_commit_writes_only_the_assets_that_changed(tmp_path, kit, pins):
    db = tmp_path / "outbox.db"
    cfg = _config(kit, tmp_path, pins)

    async def go() -> None:
        async with _running(cfg) as agent:
            _watch_meta_writes(db)
            _feed(agent, [_window(m, 0) for m in MOTORS])  # every asset closes a window
            # First save: both rows of every asset.
            assert sorted(_model_writes(db)) == sorted(
                f"models/{m}{part}" for m in MOTORS for part in ("", "/open")
            )
            before = _rows(db)
            _clear_writes(db)
            _feed(agent, [_window("motor-3", 1)])  # one asset of five closes an edge window
            assert _model_writes(db) == ["models/motor-3/open"]  # its open model window only
            after = _rows(db)
            assert "models" not in after  # no single key for every asset any more
            assert {k for k in after if after[k] != before[k]} == {"models/motor-3/open"}
            assert len(after["models/motor-3/open"]) < len(after["models/motor-3"]) / 3
            state = state_from_rows(after)["motor-3"]
            assert _canon(state) == _canon(agent.runner.state()["motor-3"])  # type: ignore[attr-defined]
            _clear_writes(db)
            _feed(agent, [_window("motor-3", 2)])
            _feed(agent, [_window("motor-3", 3)])  # closes motor-3's 4 s model window: scored
            assert _model_writes(db) == ["models/motor-3/open", "models/motor-3",
                                         "models/motor-3/open"]  # fmt: skip
            state = state_from_rows(_rows(db))["motor-3"]
            assert _canon(state) == _canon(agent.runner.state()["motor-3"])  # type: ignore[attr-defined]
            assert state["k"] is None and any(h is not None for h in state["history"])
            # The row is in the transaction of the window's record: both are in the file.
            con = sqlite3.connect(db)
            try:
                rec = [json.loads(b) for (b,) in con.execute(
                    "SELECT body FROM records WHERE asset='motor-3' ORDER BY seq")]  # fmt: skip
            finally:
                con.close()
            wins = [r for r in rec if r.get("type") == "window"]
            assert len(wins) == 4 and wins[-1]["scores"]["model"] == "motor-health+motor-rul"

            # A commit of events only (no window closed) writes no model row.
            _clear_writes(db)
            agent._pending.append(agent._event_item("state_change", "a note"))
            _feed(agent, [])
            assert _writes(db) == ["closed_k"] and not _model_writes(db)

            # A maintenance reset saves that asset's row at once, and only that row.
            _clear_writes(db)
            dropped = agent._reset_model("motor-2", ["health_baseline"])
            assert dropped["model"] == json.loads(after["models/motor-2"])["model"]
            assert sorted(_model_writes(db)) == ["models/motor-2", "models/motor-2/open"]
            reset = state_from_rows(_rows(db))["motor-2"]
            assert reset["k"] is None and reset["runner"]["recent"] == []  # both parts reset
            _clear_writes(db)
            _feed(agent, [_window("motor-4", 2)])
            assert _model_writes(db) == ["models/motor-4/open"]

    asyncio.run(go())


def _drive(agent: EdgeAgent, n: int, start: int = 0) -> None:
    """n edge windows per asset, some assets skipping some windows (a gap closes early)."""
    for i in range(start, start + n):
        _feed(agent, [_window(m, i) for j, m in enumerate(MOTORS) if (i + j) % 7 != 3])


def test_model_state_restart_restores_every_asset_exactly(tmp_path, kit, pins):
    db = tmp_path / "outbox.db"
    cfg = _config(kit, tmp_path, pins)
    killed = tmp_path / "killed"
    killed.mkdir()

    async def first() -> str:
        async with _running(cfg) as agent:
            _drive(agent, 30)  # several model windows scored, the last one open (30 % 4 = 2)
            state = _canon(agent.runner.state())  # type: ignore[attr-defined]
            # A kill -9 now: the files as they are, the database still open, nothing flushed.
            for suffix in ("", "-wal", "-shm"):
                if Path(f"{db}{suffix}").exists():
                    shutil.copy(f"{db}{suffix}", killed / f"outbox.db{suffix}")
            return state

    async def restarted(cfg_: Any) -> str:
        async with _running(cfg_) as agent:
            return _canon(agent.runner.state())  # type: ignore[attr-defined]

    before = asyncio.run(first())
    assert json.loads(before)["motor-1"]["k"] is not None  # state mid model window, not trivial
    assert any(v is not None for v in json.loads(before)["motor-1"]["history"])
    assert asyncio.run(restarted(cfg)) == before  # after a clean stop
    assert asyncio.run(restarted(_config(kit, killed, pins))) == before  # after a kill -9

    # And the restored agent continues as one uninterrupted run would.
    async def more() -> str:
        async with _running(cfg) as agent:
            _drive(agent, 12, start=30)
            return _canon(agent.runner.state())  # type: ignore[attr-defined]

    async def straight(tmp: Path) -> str:
        async with _running(_config(kit, tmp, pins)) as agent:
            _drive(agent, 42)
            return _canon(agent.runner.state())  # type: ignore[attr-defined]

    (tmp_path / "straight").mkdir()
    assert asyncio.run(more()) == asyncio.run(straight(tmp_path / "straight"))


def test_model_state_outbox_of_the_previous_version_is_migrated(tmp_path, kit, pins):
    # State as the previous version wrote it: every asset under one key, from a real agent.
    ref = tmp_path / "ref"
    ref.mkdir()

    async def make_state() -> dict:
        async with _running(_config(kit, ref, pins)) as agent:
            _drive(agent, 18)
            return agent.runner.state()  # type: ignore[attr-defined]

    state = asyncio.run(make_state())
    old = dict(state)
    old["gone-1"] = state["motor-1"]  # an asset since removed from the config
    db = tmp_path / "outbox.db"
    ob = Outbox(db, 10**8, 10**8)
    other = {**state["motor-5"], "model": "0" * 64}  # motor-5: state of another pinned model
    ob.set_meta({"models": json.dumps({k: v for k, v in old.items() if k != "motor-5"}),
                 "models/motor-5": json.dumps(other), "models/motor-5/open": json.dumps(other),
                 "models/removed-9": json.dumps(state["motor-2"]),
                 "models/removed-9/open": json.dumps(state["motor-2"])})  # fmt: skip
    ob.close()

    async def start() -> dict:
        async with _running(_config(kit, tmp_path, pins)) as agent:
            return agent.runner.state()  # type: ignore[attr-defined]

    got = asyncio.run(start())
    fresh = asyncio.run(_fresh_state(kit, tmp_path / "fresh", pins))
    for m in MOTORS[:4]:
        assert _canon(got[m]) == _canon(state[m])  # resumed exactly
    assert _canon(got["motor-5"]) == _canon(fresh["motor-5"])  # other model: starts afresh
    rows = _rows(db)
    # Split into rows per asset, the old key gone; refused state deleted, not resurrected.
    assert sorted(rows) == sorted(f"models/{m}{p}" for m in MOTORS[:4] for p in ("", "/open"))
    assert _canon(state_from_rows(rows)) == _canon({m: state[m] for m in MOTORS[:4]})

    # The next start reads the per-asset rows only, with the same result.
    assert _canon(asyncio.run(start())) == _canon(got)
    # A whole state in the model row (no /open row yet) is read as it is.
    assert _canon(state_from_rows({"models/motor-1": json.dumps(state["motor-1"])})) == _canon(
        {"motor-1": state["motor-1"]}
    )


async def _fresh_state(kit: Any, tmp: Path, pins: list[dict[str, str]]) -> dict:
    tmp.mkdir()
    async with _running(_config(kit, tmp, pins)) as agent:
        return agent.runner.state()  # type: ignore[attr-defined]
