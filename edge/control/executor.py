"""The controller: commands from the uplink answer → local checks → OPC UA → read-back → result.

Also runs the local trip rules, which act without the cloud. Every step is journaled (at most
once), appended to the edge ledger, and reported as an event through the outbox, so results
and trips reach the cloud whenever the link is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from egiz.contracts import (
    Command,
    CommandAction,
    OpcUaSourceConfig,
    SiteConfig,
    TripRule,
    UplinkAnswer,
)

from ..ledger import open_edge_ledger
from .actuator import ActuatorError, OpcUaActuator
from .checks import check_clock, check_command, check_expiry
from .journal import Journal

log = logging.getLogger(__name__)

Emit = Callable[[dict[str, Any]], None]
#: Resets an asset's model state (asset, what) and returns what was dropped; KeyError when
#: the asset has no model at this edge.
ResetModel = Callable[[str, list[str]], dict[str, Any]]
#: Seconds a start/stop has to show up in the asset's ``running`` signal.
READBACK_WAIT_S = 5.0


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat()


class Controller:
    """Executes the cloud's commands and the local trip rules of one site."""

    def __init__(
        self,
        config: SiteConfig,
        *,
        base_dir: str | Path = ".",
        emit: Emit,
        clock_offset: Callable[[], float | None],
        reset_model: ResetModel | None = None,
    ) -> None:
        self.config = config
        self.policy = config.control
        base = Path(base_dir)
        path = lambda p: Path(p) if Path(p).is_absolute() else base / p  # noqa: E731
        self.journal = Journal(path(self.policy.journal_path))
        self.ledger = open_edge_ledger(config, base)
        self.emit = emit
        self.clock_offset = clock_offset
        self.reset_model = reset_model
        self.actuator = self._actuator()
        self.tripped: dict[str, str] = {}
        self._latched: set[int] = set()
        self._inflight_acks: list[str] = []
        self.wake = asyncio.Event()
        self.counts = {"executed": 0, "rejected": 0, "failed": 0, "expired": 0, "trips": 0}

    def _actuator(self) -> OpcUaActuator | None:
        srcs = [s for s in self.config.sources if isinstance(s, OpcUaSourceConfig)]
        if self.policy.source is not None:
            srcs = [s for s in srcs if s.name == self.policy.source]
        return OpcUaActuator(srcs[0], self.policy, self.config.site.id) if srcs else None

    # -- the uplink's hooks -------------------------------------------------------------------

    def uplink_extras(self) -> dict[str, Any]:
        """Fields for the next batch: the signed ledger head and the command receipts."""
        self._inflight_acks = self.journal.unacked()
        out: dict[str, Any] = {"command_acks": self._inflight_acks}
        head = self.ledger.head()
        if head is not None:
            out["ledger_head"] = head.model_dump(mode="json")
        return out

    def on_answer(self, answer: UplinkAnswer) -> None:
        """Take the commands of an answer (each at most once) and settle sent receipts."""
        self.journal.mark_acked(self._inflight_acks)
        self._inflight_acks = []
        for cmd in answer.commands:
            if self.journal.receive(cmd):
                self._ledger(cmd, "received", None)
        if answer.commands:
            self.wake.set()

    # -- the loop -------------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Recover after a crash, then execute and watch the trip rules until ``stop``."""
        try:
            await self._recover()
            next_trip = 0.0
            while not stop.is_set():
                await self._step()
                if time.monotonic() >= next_trip:
                    next_trip = time.monotonic() + self.policy.trip_poll_s
                    await self._trips()
                self.wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wake.wait(), self.policy.trip_poll_s)
        finally:
            # The journal and ledger stay open: the uplink hooks use them until the agent ends.
            if self.actuator is not None:
                await self.actuator.close()

    def close(self) -> None:
        """Close the journal and the ledger."""
        self.journal.close()
        self.ledger.close()

    async def _step(self) -> None:
        for cmd in self.journal.in_state("received"):
            await self._decide(cmd)
        for cmd in self.journal.in_state("accepted"):
            await self._execute(cmd)
        self._report()

    async def _recover(self) -> None:
        """A 'writing' row means the edge stopped between writing and recording: resolve it
        by reading back, never by writing again."""
        for cmd in self.journal.in_state("writing"):
            self.journal.move(cmd.id, "writing", "unknown", "the edge restarted mid-write")
            self._ledger(cmd, "unknown", "the edge restarted mid-write")
            self._report()
            if cmd.action == CommandAction.reset_baseline:
                # Local and idempotent (the reset state may not have been saved): do it again.
                await self._reset(cmd, "unknown", "re-applied after restart: ")
                continue
            ok, readback, why = await self._verify(cmd)
            state = "executed" if ok else "failed"
            reason = f"resolved after restart by read-back: {why}"
            self.journal.move(cmd.id, "unknown", state, reason, readback)
            self._ledger(cmd, state, reason)
        self._report()

    async def _decide(self, cmd: Command) -> None:
        now = time.time()
        try:
            atype = self.config.asset_type_of(cmd.asset)
        except StopIteration:
            return self._settle(cmd, "received", "rejected", f"unknown asset {cmd.asset!r}")
        offset = self.clock_offset()
        why = check_clock(now, offset, self.policy.max_clock_offset_s)
        if why:
            return self._settle(cmd, "received", "rejected", why)
        assert offset is not None
        why = check_expiry(cmd, now, offset)
        if why:
            return self._settle(cmd, "received", "expired", why)
        if cmd.action == CommandAction.reset_baseline:
            # Edge-local (no PLC write): no limits or interlocks, only whether a model is here.
            if self.reset_model is None:
                return self._settle(cmd, "received", "rejected",
                                    "no model runs at this edge: nothing to reset")  # fmt: skip
            return self._settle(cmd, "received", "accepted", None)
        current = None
        if cmd.action == CommandAction.set_setpoint and self.actuator is not None:
            with contextlib.suppress(ActuatorError):
                current = await self.actuator.read(cmd.asset, cmd.setpoint or "")
        last = self.journal.last_executed_at(cmd.asset, cmd.setpoint or "")
        since = None if last is None else now - last
        why = check_command(cmd, atype, current, self.tripped.get(cmd.asset), since)
        if why:
            return self._settle(cmd, "received", "rejected", why)
        if not self.policy.enabled or self.actuator is None:
            return self._settle(cmd, "received", "rejected", "control is disabled on this edge")
        self._settle(cmd, "received", "accepted", None)

    async def _execute(self, cmd: Command) -> None:
        # Commit 'writing' first: after a crash this row says "maybe written" (at most once).
        if not self.journal.move(cmd.id, "accepted", "writing"):
            return
        if cmd.action == CommandAction.reset_baseline:
            await self._reset(cmd, "writing")
            return
        assert self.actuator is not None
        try:
            if cmd.action == CommandAction.set_setpoint:
                await self.actuator.write(cmd.asset, cmd.setpoint or "", float(cmd.value))  # type: ignore[arg-type]
            else:
                await self.actuator.call(cmd.asset, cmd.action.value)
        except ActuatorError as err:
            self._settle(cmd, "writing", "failed", f"OPC UA: {err}")
            return
        ok, readback, why = await self._verify(cmd)
        self._settle(cmd, "writing", "executed" if ok else "failed", why, readback)

    async def _reset(self, cmd: Command, expect: str, prefix: str = "") -> None:
        """Reset the asset's model state (maintenance); ledger what was dropped."""
        what = [w for w in str(cmd.value or "health_baseline").split(",") if w]
        try:
            if self.reset_model is None:
                raise KeyError("no model runs at this edge: nothing to reset")
            dropped = self.reset_model(cmd.asset, what)
        except KeyError as err:
            self._settle(cmd, expect, "failed", f"{prefix}{err.args[0] if err.args else err}")
            return
        self.ledger.append("maintenance", "edge", cmd.asset, {
            "command_id": cmd.id, "resets": what, "reason": cmd.reason, "dropped": dropped,
        })  # fmt: skip
        why = f"{prefix}model state reset ({', '.join(what)})"
        self._settle(cmd, expect, "executed", why)

    async def _verify(self, cmd: Command) -> tuple[bool, float | None, str]:
        """Read back what the command should have changed."""
        assert self.actuator is not None
        name, want = cmd.setpoint or "", cmd.value
        if cmd.action in (CommandAction.start, CommandAction.stop):
            name, want = "running", 1.0 if cmd.action == CommandAction.start else 0.0
        elif cmd.action != CommandAction.set_setpoint:
            return True, None, f"{cmd.action.value} called (no read-back defined)"
        deadline = time.monotonic() + READBACK_WAIT_S
        value = None
        while True:
            try:
                value = await self.actuator.read(cmd.asset, name)
            except ActuatorError as err:
                # A bad-quality or briefly unreadable value: retry until the deadline.
                if time.monotonic() >= deadline:
                    return False, None, f"read-back of {name} failed: {err}"
                await asyncio.sleep(0.2)
                continue
            if abs(value - float(want)) <= 1e-6 * max(1.0, abs(float(want))):  # type: ignore[arg-type]
                return True, value, f"read back {name} = {value:g}"
            if time.monotonic() >= deadline or cmd.action == CommandAction.set_setpoint:
                return False, value, f"read back {name} = {value:g}, expected {want}"
            await asyncio.sleep(0.2)

    def _settle(self, cmd: Command, expect: str, state: str, reason: str | None,
                readback: float | None = None) -> None:  # fmt: skip
        if self.journal.move(cmd.id, expect, state, reason, readback):
            if state in self.counts:
                self.counts[state] += 1
            self._ledger(cmd, state, reason)
            if reason and state != "executed":
                log.info("control: command %s %s: %s", cmd.id, state, reason)

    def _ledger(self, cmd: Command, state: str, reason: str | None) -> None:
        self.ledger.append("command", "edge", cmd.id, {
            "state": state, "asset": cmd.asset, "action": cmd.action.value,
            "setpoint": cmd.setpoint, "value": cmd.value, "reason": reason,
        })  # fmt: skip

    def _report(self) -> None:
        for cmd, state, reason, readback in self.journal.unreported():
            data: dict[str, Any] = {"state": state, "reason": reason}
            if readback is not None:
                data["readback"] = readback
            self.emit({
                "type": "event", "kind": "command_result", "ts": _iso(time.time()),
                "asset": cmd.asset, "command_id": cmd.id,
                "severity": "info" if state in ("accepted", "executed") else "medium",
                "message": f"command {cmd.action.value} {state}" + (f": {reason}" if reason else ""),
                "data": data,
            })  # fmt: skip
            self.journal.mark_reported(cmd.id, state)

    # -- local autonomy -------------------------------------------------------------------------

    async def _trips(self) -> None:
        if self.actuator is None:
            return
        for i, rule in enumerate(self.policy.trips):
            try:
                value = await self.actuator.read(rule.asset, rule.signal)
            except ActuatorError:
                continue
            hit = (rule.above is not None and value > rule.above) or (
                rule.below is not None and value < rule.below
            )
            if hit and i not in self._latched:
                self._latched.add(i)
                await self._trip(rule, value)
            elif not hit and i in self._latched:
                self._latched.discard(i)
                self.tripped.pop(rule.asset, None)

    async def _trip(self, rule: TripRule, value: float) -> None:
        limit = f"> {rule.above:g}" if rule.above is not None else f"< {rule.below:g}"
        what = f"trip rule {rule.signal} {limit} (value {value:g})"
        self.tripped[rule.asset] = what
        assert self.actuator is not None
        try:
            await self.actuator.call(rule.asset, rule.action)
            ok, err = True, ""
        except ActuatorError as e:
            ok, err = False, str(e)
        self.counts["trips"] += 1
        entry = self.ledger.append("local_action", "edge:trip-rule", rule.asset, {
            "rule": rule.model_dump(mode="json"), "value": value, "action": rule.action,
            "ok": ok, "error": err,
        })  # fmt: skip
        msg = f"local trip: {rule.asset} {what}: {rule.action} " + (
            "done" if ok else f"FAILED: {err}"
        )
        log.warning("control: %s", msg)
        self.emit({
            "type": "event", "kind": "state_change", "ts": _iso(time.time()), "asset": rule.asset,
            "signal": rule.signal, "severity": rule.severity.value, "message": msg,
            "data": {"control": "local_action", "action": rule.action, "value": value, "ok": ok,
                     "limit": limit, "ledger_seq": entry.seq},
        })  # fmt: skip

    def stats(self) -> dict[str, Any]:
        """Counters and active trips for the status page."""
        return {**self.counts, "tripped": dict(self.tripped)}
