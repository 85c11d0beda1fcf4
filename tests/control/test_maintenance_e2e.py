"""Issue 7, maintenance resets the twin: simulator (OPC UA) → edge (control on, a pinned health
model) → cloud, over real sockets.

An imbalance injected into pump-1 drives its health to ~0; the fitter repairs it (the fault is
cleared in the simulator) and the engineer records ``bearing_replaced`` through the API. The
record rides the uplink answer as a ``reset_baseline`` command; the edge resets the pump's model
state, ledgers it and reports back. The health model smooths over 60 windows (120 s): without
the reset the fault's windows would keep health near 0 for ~55 windows after the repair (see
the offline check below); with it health is back above 50 within a few windows. Counted in
scored windows stored by the cloud, not in seconds, so a loaded machine cannot flip the result.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import numpy as np
import pytest

from egiz.cloud.services import ledger as cloud_ledger
from egiz.contracts import LedgerEntry
from egiz.models.health.artifact import load_health
from egiz.simulators import load_scenario
from egiz.simulators.engine import Engine

from .harness import EDGE, PUMP_SIGNALS, SITE, Site, run_site, train_pump_health

WINDOW_S = 2.0
SMOOTHING = 60
RECOVERY_WINDOWS = 15  # the reset recovers in ~4 scored windows, no reset needs ~55 (below)


def _cloud_entries(site: Site) -> list[LedgerEntry]:
    return [LedgerEntry.model_validate_json(b) for b in site.store.ledger_entries("cloud")]


async def _health(site: Site) -> float | None:
    r = await site.api("GET", f"/assets/{SITE}.pump-1", "viewer")
    assert r.status_code == 200, r.text
    scores = r.json().get("scores") or {}
    return scores.get("health")


def _offline_recovery(pin: dict[str, str]) -> tuple[int, int]:
    """Windows until health ≥ 50 after a repair, without and with the reset, run offline on
    the same model: proves the e2e's recovery window tells the two apart."""
    _, model = load_health(Path(pin["artifact"]), pin["sha256"])
    engine = Engine(load_scenario("demo"), seed=5)
    per = round(WINDOW_S / engine.dt)
    rows = [engine.signals.index(("pump-1", s)) for s in PUMP_SIGNALS]

    def windows(steps: int) -> np.ndarray:
        v = engine.advance(steps).values[rows]
        return v.reshape(len(rows), -1, per).mean(axis=2).T

    runner = model.runner()
    for m in windows(120):
        runner.update(m)
    engine.inject("pump-1", "imbalance", 1.0)
    for m in windows(30):
        runner.update(m)
    engine.clear("pump-1")
    kept, fresh = runner, model.runner()  # the reset: a new runner, as AssetScorer.reset does
    after = windows(200)

    def first_ok(r) -> int:
        return next(i for i, m in enumerate(after) if (r.update(m)["health"] or 0) >= 50)

    return first_ok(kept), first_ok(fresh)


@pytest.mark.slow
def test_maintenance_resets_the_twin_end_to_end(tmp_path: Path) -> None:
    pin = train_pump_health(tmp_path / "pump-health", WINDOW_S, SMOOTHING)
    without, with_reset = _offline_recovery(pin)
    assert with_reset < RECOVERY_WINDOWS / 2 and without > 2 * RECOVERY_WINDOWS, (
        without, with_reset)  # fmt: skip

    async def main() -> None:
        async with run_site(tmp_path, [], models=[pin]) as site:
            await site.wait("site registered", lambda: site.store.site(SITE) is not None, 30)
            ctl = site.agent.control
            assert ctl is not None
            await site.wait("clock offset known",
                            lambda: site.agent.uplink and site.agent.uplink.clock_offset_s
                            is not None, 30)  # fmt: skip
            # The model was loaded for the first time: an edge ledger entry (acc. of task 2).
            loads = [e for e in ctl.ledger.entries() if e.kind == "model_change"]
            assert [(e.subject, e.data["event"], e.data["sha256"]) for e in loads] == [
                ("centrifugal_pump/health-index", "loaded", pin["sha256"])]  # fmt: skip

            async def healthy() -> bool:
                h = await _health(site)
                return h is not None and h >= 50

            await site.wait("pump-1 healthy in the twin", healthy, 60)
            await site.sim.inject("pump-1", "imbalance", 1.0)

            async def broken() -> bool:
                h = await _health(site)
                return h is not None and h < 5

            await site.wait("pump-1's health falls with the imbalance", broken, 60)
            await asyncio.sleep(10 * WINDOW_S)  # the fault fills the smoothing window
            assert (await _health(site) or 0) < 5

            # The fitter balances the impeller; the engineer records it.
            site.sim.engine.clear("pump-1")
            r = await site.api("POST", f"/assets/{SITE}.pump-1/maintenance", "eng",
                               {"action": "bearing_replaced", "note": "DE bearing and balance"})  # fmt: skip
            assert r.status_code == 201, r.text
            record = r.json()
            cid = record["command_id"]

            async def executed() -> dict | None:
                got = (await site.api("GET", f"/commands/{cid}", "viewer")).json()
                return got if got["state"] == "executed" else None

            cmd = await site.wait("reset executed at the edge", executed, 30)
            assert [h["state"] for h in cmd["history"]] == [
                "pending", "delivered", "accepted", "executed"], cmd["history"]  # fmt: skip
            assert "model state reset (health_baseline)" in cmd["reason"], cmd
            listed = (await site.api("GET", f"/assets/{SITE}.pump-1/maintenance", "viewer")).json()
            assert listed["data"][0]["reset_state"] == "executed", listed
            # Edge chain: the command's lifecycle and what the reset dropped.
            edge = ctl.ledger.entries()
            states = [e.data["state"] for e in edge if e.kind == "command" and e.subject == cid]
            assert states == ["received", "accepted", "executed"], states
            resets = [e for e in edge if e.kind == "maintenance"]
            assert len(resets) == 1 and resets[0].subject == "pump-1", resets
            dropped = resets[0].data["dropped"]
            assert resets[0].data["command_id"] == cid and resets[0].data["resets"] == [
                "health_baseline"]  # fmt: skip
            assert dropped["smoothed_windows"] >= 10 and dropped["alarm_active"], dropped
            assert dropped["scoring_from"] > 0  # windows holding pre-repair samples skipped

            # Health recovers within the first scored windows after the reset (in the cloud).
            def after_reset() -> list[float] | None:
                rows = site.store._read(
                    "SELECT start, body FROM scores WHERE site = ? AND asset = ? AND start >= ? "
                    "ORDER BY start", (SITE, "pump-1", dropped["scoring_from"]))  # fmt: skip
                health = [json.loads(b)["health"] for _, b in rows]
                return health if len(health) >= RECOVERY_WINDOWS else None

            health = (await site.wait("scored windows after the reset", after_reset, 120))
            first = health[:RECOVERY_WINDOWS]
            assert any(h is not None and h >= 50 for h in first), first

            # Cloud chain: the record and the command's lifecycle.
            cloud = _cloud_entries(site)
            maint = [e for e in cloud if e.kind == "maintenance"]
            assert len(maint) == 1 and maint[0].data["id"] == record["id"], maint
            assert maint[0].subject == f"{SITE}.pump-1" and maint[0].actor == "eng"
            cstates = [e.data["state"] for e in cloud if e.kind == "command" and e.subject == cid]
            assert cstates == ["pending", "delivered", "accepted", "executed"], cstates

            # Both chains verify; the edge's against heads the cloud holds past the reset.
            signer = cloud_ledger.signer_for(site.store)
            assert cloud_ledger.verify(site.store, "cloud", signer).ok
            await site.wait("a head covering the reset", lambda: any(
                h.seq >= resets[0].seq for h in site.store.heads(f"edge:{EDGE}")), 10)  # fmt: skip
            report = cloud_ledger.verify(site.store, f"edge:{EDGE}", signer, ctl.ledger.entries())
            assert report.ok and report.heads_checked > 0, report

    asyncio.run(main())
