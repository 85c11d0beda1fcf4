"""The edge side of a maintenance reset, without the network: the controller takes a
``reset_baseline`` from an uplink answer, resets the asset's model state (real EdgeModels with a
pinned health model), ledgers it, reports it; at most once, re-applied after a crash mid-reset
(it is local and idempotent), refused or failed with a reason where there is nothing to reset."""

from __future__ import annotations

import asyncio
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from egiz.contracts import Command, SiteConfig, UplinkAnswer
from egiz.edge.control import Controller
from egiz.edge.scoring import EdgeModels
from egiz.edge.window import WindowResult
from egiz.simulators import load_scenario
from egiz.simulators.engine import Engine
from egiz.simulators.siteconfig import site_config

from .harness import PUMP_SIGNALS, train_pump_health

SMOOTHING = 3


def _config(tmp: Path, pin: dict[str, str]) -> SiteConfig:
    doc = site_config(load_scenario("demo"), cloud_url=None)
    doc["models"] = [pin]
    doc["control"] = {"enabled": True, "ledger_path": str(tmp / "ledger.db"),
                      "journal_path": str(tmp / "control.db")}  # fmt: skip
    return SiteConfig.model_validate(doc)


def _windows(n: int) -> list[WindowResult]:
    """n consecutive 2 s windows of pump-1 from a simulated run."""
    engine = Engine(load_scenario("demo"), seed=3)
    rows = [engine.signals.index(("pump-1", s)) for s in PUMP_SIGNALS]
    v = engine.advance(2 * n).values[rows].reshape(len(rows), n, 2).mean(axis=2).T
    t0 = math.floor(engine.t0 / 2.0) * 2.0
    return [WindowResult("pump-1", i, t0 + 2.0 * i, 2.0,
                         {s: {"mean": float(v[i, j]), "count": 2} for j, s in enumerate(PUMP_SIGNALS)})
            for i in range(n)]  # fmt: skip


def _reset_cmd(cid: str, asset: str = "pump-1", expires_in: float = 3600.0) -> Command:
    now = datetime.now(UTC)
    return Command(id=cid, asset=asset, action="reset_baseline", value="health_baseline",
                   issuer="eng", issued_at=now, expires_at=now + timedelta(seconds=expires_in),
                   reason="maintenance m-1")  # type: ignore[arg-type]  # fmt: skip


def test_edge_executes_reset_baseline_locally(tmp_path: Path) -> None:
    pin = train_pump_health(tmp_path / "model", smoothing=SMOOTHING, hours=1.0)
    config = _config(tmp_path, pin)
    models = EdgeModels(config, tmp_path)
    windows = _windows(12)
    scored = [models.score(w) for w in windows[:10]]
    assert all(s is not None and s.health is not None for s in scored[SMOOTHING:])
    scorer = models.assets["pump-1"]
    assert len(scorer.runner.recent) == SMOOTHING
    calls: list[tuple[str, list[str]]] = []

    def reset(asset: str, what: list[str]) -> dict:
        calls.append((asset, what))
        return models.reset(asset, what, data_time=windows[10].start + 1.0)

    events: list[dict] = []
    ctl = Controller(config, base_dir=tmp_path, emit=events.append, clock_offset=lambda: 0.0,
                     reset_model=reset)  # fmt: skip
    try:
        answer = UplinkAnswer(epoch="e", stored=[], commands=[_reset_cmd("r1")],
                              server_time=datetime.now(UTC))  # fmt: skip
        ctl.on_answer(answer)
        ctl.on_answer(answer)  # re-sent until the receipt lands: executed once all the same
        asyncio.run(ctl._step())
        state, reason, _ = ctl.journal.state("r1")  # type: ignore[misc]
        assert state == "executed" and reason == "model state reset (health_baseline)", reason
        assert calls == [("pump-1", ["health_baseline"])]
        # The model state started afresh; the window still holding pre-reset data is skipped.
        assert scorer.runner.recent == [] and not np.isfinite(scorer.history).any()
        assert models.score(windows[10]) is None and len(scorer.runner.recent) == 0
        models.score(windows[11])
        assert len(scorer.runner.recent) <= 1
        # Saved and restored with the outbox meta: the skip survives a restart.
        again = EdgeModels(config, tmp_path)
        again.restore(models.state())
        assert again.assets["pump-1"].skip_before == windows[10].start + 1.0

        entries = ctl.ledger.entries()
        assert [e.data["state"] for e in entries if e.kind == "command"] == [
            "received", "accepted", "executed"]  # fmt: skip
        (m,) = [e for e in entries if e.kind == "maintenance"]
        assert m.subject == "pump-1" and m.data["command_id"] == "r1"
        assert m.data["dropped"]["smoothed_windows"] == SMOOTHING
        assert m.data["dropped"]["scoring_from"] == windows[10].start + 1.0
        # Reported once per step: the newest state (the cloud walks through the ones between).
        assert [e["data"]["state"] for e in events] == ["executed"]

        # A crash between 'writing' and recording: re-applied on restart (local, idempotent).
        crash = _reset_cmd("r2")
        assert ctl.journal.receive(crash) and ctl.journal.move("r2", "received", "accepted")
        assert ctl.journal.move("r2", "accepted", "writing")
        asyncio.run(ctl._recover())
        state, reason, _ = ctl.journal.state("r2")  # type: ignore[misc]
        assert state == "executed" and reason.startswith("re-applied after restart"), reason
        assert len(calls) == 2

        # Nothing to reset: an asset without a model fails with the reason; an expired reset
        # does not run.
        ctl.on_answer(UplinkAnswer(epoch="e", stored=[], server_time=datetime.now(UTC),
                                   commands=[_reset_cmd("r3", asset="motor-1"),
                                             _reset_cmd("r4", expires_in=-5)]))  # fmt: skip
        asyncio.run(ctl._step())
        state, reason, _ = ctl.journal.state("r3")  # type: ignore[misc]
        assert state == "failed" and "no model is pinned for asset 'motor-1'" in reason, reason
        assert ctl.journal.state("r4")[0] == "expired"  # type: ignore[index]
        assert len(calls) == 3  # r3 reached the hook (which refused); r4 never did
    finally:
        ctl.close()

    # An edge without models rejects it before accepting.
    bare = Controller(config, base_dir=tmp_path / "bare", emit=events.append,
                      clock_offset=lambda: 0.0)  # fmt: skip
    try:
        bare.on_answer(UplinkAnswer(epoch="e", stored=[], commands=[_reset_cmd("r5")],
                                    server_time=datetime.now(UTC)))  # fmt: skip
        asyncio.run(bare._step())
        state, reason, _ = bare.journal.state("r5")  # type: ignore[misc]
        assert state == "rejected" and "no model runs at this edge" in reason
    finally:
        bare.close()
