"""Commands: checked in the cloud (role, limits, preconditions, second approval, expiry), then
handed to the edge in the uplink answer; receipts and results move the state machine (§4).

Every transition is compare-and-set on the stored state, so a retried uplink or two replicas
never apply one twice, and every transition is a cloud ledger entry.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections import deque
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field

from egiz.contracts import (
    COMMAND_TRANSITIONS,
    AssetType,
    Command,
    CommandAction,
    CommandState,
    Event,
    EventKind,
    SiteManifest,
    UplinkBatch,
)
from egiz.contracts.ids import Name

from ..errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthorized
from ..store import Store
from ..store.sql_commands import CommandRow
from . import ledger
from .auth import Action, Principal, Role, authorize

log = logging.getLogger(__name__)

#: Roles that may issue and approve commands (least privilege: engineers and viewers may not).
COMMAND_ROLES = frozenset({Role.operator, Role.admin})
MAX_EXPIRY_S = 24 * 3600.0


class CommandCreate(BaseModel):
    """What an operator asks for."""

    action: CommandAction
    # Name, as in the Command contract: an invalid name is a 422 here, not a 500 later.
    setpoint: Name | None = Field(None, examples=["speed_setpoint"])
    value: float | str | None = Field(None, examples=[1400.0])
    expires_in_s: float = Field(300.0, gt=0, le=MAX_EXPIRY_S, description="wall-clock lifetime")
    reason: str = Field("", max_length=500, description="why (kept in the ledger)")


class CommandPublic(BaseModel):
    """A command as the API shows it, with its state and the reason for it."""

    id: str
    asset: str = Field(description="global id <site>.<asset>")
    edge_id: str | None
    action: CommandAction
    setpoint: str | None
    value: float | str | None
    issuer: str
    approved_by: str | None = None
    critical: bool = False
    state: CommandState
    reason: str | None
    issued_at: datetime
    expires_at: datetime
    updated_at: datetime
    history: list[dict[str, Any]] = Field(default_factory=list)


class CommandsPublic(BaseModel):
    """A page of commands, and what the caller may issue on this asset (for forms)."""

    data: list[CommandPublic]
    count: int
    can_issue: bool = Field(False, description="the caller is operator or admin on the site")
    setpoints: list[dict[str, Any]] = Field(
        default_factory=list, description="the asset type's setpoints with their limits"
    )
    actions: list[dict[str, Any]] = Field(
        default_factory=list, description="the asset type's commands (critical: second person)"
    )


def _dt(t: float) -> datetime:
    return datetime.fromtimestamp(t, UTC)


def public(row: CommandRow) -> CommandPublic:
    """Return the API view of a stored command."""
    body = json.loads(row.body)
    c = Command.model_validate(body["command"])
    return CommandPublic(
        id=c.id, asset=f"{row.site}.{row.asset}", edge_id=row.edge_id, action=c.action,
        setpoint=c.setpoint, value=c.value, issuer=c.issuer, approved_by=body.get("approved_by"),
        critical=body.get("critical", False), state=c.state, reason=c.reason,
        issued_at=c.issued_at, expires_at=c.expires_at, updated_at=_dt(row.updated_at),
        history=body.get("history", []),
    )  # fmt: skip


def _require_role(user: Principal, site: str) -> None:
    authorize(user, Action.read, site)
    role = user.role_at(site)
    if role not in COMMAND_ROLES:
        raise Forbidden(
            f"user {user.username!r} has role {role.value if role else 'none'} on site {site!r}; "
            "commands need operator or admin"
        )


def _asset_type(store: Store, site: str, asset: str) -> AssetType:
    found = next((a for a in store.assets(site) if a.asset == asset), None)
    if found is None:
        raise NotFound(f"no asset {site}.{asset}")
    for t in store.asset_types(site):
        if t.name == found.type:
            return AssetType.model_validate_json(t.body)
    raise NotFound(f"asset {site}.{asset} has unknown type {found.type!r}")


def _last_value(store: Store, site: str, asset: str, setpoint: str) -> tuple[float, float] | None:
    """Return (value, when) of the newest executed command on a setpoint."""
    rows = store.commands(site=site, asset=asset, states=(CommandState.executed.value,))
    for row in sorted(rows, key=lambda r: -r.updated_at):
        c = Command.model_validate(json.loads(row.body)["command"])
        if c.setpoint == setpoint and isinstance(c.value, int | float):
            return float(c.value), row.updated_at
    return None


def check_limits(
    atype: AssetType, req: CommandCreate, last: tuple[float, float] | None, now: float
) -> bool:
    """Check the request against the asset type; return whether it is critical.

    ``last`` is (value, time) of the setpoint's newest executed command, for max_step and
    max_rate; the edge checks both again against the value it reads from the PLC."""
    if req.action == CommandAction.reset_baseline:
        raise InvalidInput(
            "reset_baseline is not issued directly (fix: record the maintenance action at "
            "POST /api/v1/assets/{id}/maintenance; its resets are sent to the edge)"
        )
    if req.action == CommandAction.set_setpoint:
        if not req.setpoint:
            raise InvalidInput("set_setpoint needs 'setpoint' (fix: name one of the asset type's)")
        try:
            spec = atype.setpoint(req.setpoint)
        except KeyError:
            known = ", ".join(s.name for s in atype.setpoints) or "none"
            raise InvalidInput(
                f"{atype.name} has no setpoint {req.setpoint!r} (known: {known})"
            ) from None
        if not isinstance(req.value, int | float) or isinstance(req.value, bool):
            raise InvalidInput(f"{req.setpoint} needs a numeric 'value' in {spec.unit}")
        v = float(req.value)
        if not spec.min <= v <= spec.max:
            raise InvalidInput(
                f"out of limits: {req.setpoint} {v:g} {spec.unit} is outside "
                f"[{spec.min:g}, {spec.max:g}] of asset type {atype.name}"
            )
        if last is not None:
            current, when = last
            step = abs(v - current)
            if spec.max_step is not None and step > spec.max_step:
                raise InvalidInput(
                    f"out of limits: {req.setpoint} step {step:g} {spec.unit} from "
                    f"{current:g} exceeds max_step {spec.max_step:g} of asset type {atype.name}"
                )
            if spec.max_rate is not None and step > spec.max_rate * max(now - when, 0.0):
                wait = step / spec.max_rate - (now - when)
                raise InvalidInput(
                    f"out of limits: {req.setpoint} would change {step:g} {spec.unit} "
                    f"{now - when:.0f} s after the last change; max_rate is "
                    f"{spec.max_rate:g} {spec.unit}/s (fix: wait {wait:.0f} s or step less)"
                )
        return False
    spec = next((c for c in atype.commands if c.name == req.action.value), None)
    if spec is None:
        known = ", ".join(c.name for c in atype.commands) or "none"
        raise InvalidInput(f"{atype.name} has no command {req.action.value!r} (known: {known})")
    return spec.critical


def _preconditions(store: Store, site: str, asset: str, action: CommandAction) -> None:
    if action != CommandAction.start:
        return
    trips = [a for a in store.alarms(site, active=True) if a.asset == asset
             and a.severity in ("critical", "high")]  # fmt: skip
    if trips:
        a = trips[0]
        raise Conflict(
            f"precondition failed: {site}.{asset} has an active {a.severity} alarm "
            f"{a.alarm_id!r} ({a.message or a.signal}); no start while a trip alarm is active "
            "(fix: remove the cause, wait for the alarm to clear, reset, then start)"
        )


def create(
    store: Store, user: Principal, site: str, asset: str, req: CommandCreate,
    now: float | None = None,
) -> CommandPublic:  # fmt: skip
    """Check and store a new command: pending, or awaiting_approval when critical."""
    now = time.time() if now is None else now
    _require_role(user, site)
    atype = _asset_type(store, site, asset)
    last = (
        _last_value(store, site, asset, req.setpoint)
        if req.action == CommandAction.set_setpoint and req.setpoint
        else None
    )
    critical = check_limits(atype, req, last, now)
    _preconditions(store, site, asset, req.action)
    site_row = store.site(site)
    state = CommandState.awaiting_approval if critical else CommandState.pending
    cmd = Command(
        id=uuid.uuid4().hex, asset=asset, action=req.action, setpoint=req.setpoint,
        value=req.value, issuer=user.username, issued_at=_dt(now),
        expires_at=_dt(now + req.expires_in_s), state=state, reason=req.reason or None,
    )  # fmt: skip
    history = [{"state": state.value, "at": now, "by": user.username}]
    body = {"command": cmd.model_dump(mode="json"), "critical": critical, "history": history}
    row = CommandRow(cmd.id, site, asset, site_row.edge_id if site_row else None, state.value,
                     now, now + req.expires_in_s, now, json.dumps(body))  # fmt: skip
    store.add_command(row)
    _ledger(store, row, state, user.username, req.reason or None, now)
    return public(row)


def create_reset(
    store: Store, issuer: str, site: str, asset: str, resets: list[str], maintenance_id: str,
    now: float | None = None,
) -> CommandPublic:  # fmt: skip
    """Queue the edge-local ``reset_baseline`` that a maintenance record asks for.

    Not an operator command: no limits, no approval (it writes nothing to the PLC), and the
    engineer's maintenance role was checked by the caller. It lives 24 h so a long outage
    still resets the twin; it rides the uplink answer and is ledgered like any command."""
    now = time.time() if now is None else now
    site_row = store.site(site)
    cmd = Command(
        id=uuid.uuid4().hex, asset=asset, action=CommandAction.reset_baseline,
        value=",".join(resets), issuer=issuer, issued_at=_dt(now),
        expires_at=_dt(now + MAX_EXPIRY_S), state=CommandState.pending,
        reason=f"maintenance {maintenance_id}",
    )  # fmt: skip
    history = [{"state": CommandState.pending.value, "at": now, "by": issuer}]
    body = {"command": cmd.model_dump(mode="json"), "critical": False, "history": history,
            "maintenance_id": maintenance_id}  # fmt: skip
    row = CommandRow(cmd.id, site, asset, site_row.edge_id if site_row else None,
                     CommandState.pending.value, now, now + MAX_EXPIRY_S, now, json.dumps(body))  # fmt: skip
    store.add_command(row)
    _ledger(store, row, CommandState.pending, issuer, cmd.reason, now)
    return public(row)


def _ledger(store: Store, row: CommandRow, state: CommandState, actor: str,
            reason: str | None, now: float) -> None:  # fmt: skip
    c = json.loads(row.body)["command"]
    data = {"state": state.value, "asset": f"{row.site}.{row.asset}", "action": c["action"],
            "setpoint": c.get("setpoint"), "value": c.get("value"), "reason": reason}  # fmt: skip
    ledger.append(store, ledger.signer_for(store), "command", actor, row.command_id, data, now)


def transition(
    store: Store, command_id: str, target: CommandState, actor: str,
    reason: str | None = None, now: float | None = None, extra: dict[str, Any] | None = None,
) -> CommandRow | None:  # fmt: skip
    """Move a command to ``target`` through the allowed states; None when it cannot (yet)."""
    now = time.time() if now is None else now
    row = store.command(command_id)
    if row is None:
        return None
    path = _path(CommandState(row.state), target)
    if path is None:
        return None
    for state in path:
        body = json.loads(row.body)
        body["command"] = {**body["command"], "state": state.value}
        if state == target and reason is not None:
            body["command"]["reason"] = reason
        if extra and state == target:
            body.update(extra)
        note = {"reason": reason} if reason and state == target else {}
        body.setdefault("history", []).append(
            {"state": state.value, "at": now, "by": actor, **note}
        )
        text = json.dumps(body)
        if not store.update_command(command_id, row.state, state.value, text, now):
            return None  # someone else moved it first
        row = CommandRow(row.command_id, row.site, row.asset, row.edge_id, state.value,
                         row.issued_at, row.expires_at, now, text)  # fmt: skip
        _ledger(store, row, state, actor, reason if state == target else None, now)
    return row


def _path(start: CommandState, target: CommandState) -> list[CommandState] | None:
    """Return the shortest list of states from ``start`` (exclusive) to ``target``."""
    if start == target:
        return None
    seen = {start: [start]}
    queue = deque([start])
    while queue:
        s = queue.popleft()
        for nxt in sorted(COMMAND_TRANSITIONS[s]):
            if nxt not in seen:
                seen[nxt] = [*seen[s], nxt]
                if nxt == target:
                    return seen[nxt][1:]
                queue.append(nxt)
    return None


def approve(
    store: Store, user: Principal, command_id: str, now: float | None = None
) -> CommandPublic:
    """Second person's approval of a critical command: awaiting_approval → pending."""
    now = time.time() if now is None else now
    row = get_row(store, user, command_id)
    _require_role(user, row.site)
    body = json.loads(row.body)
    if body["command"]["issuer"] == user.username:
        raise Forbidden("the second approval must come from another person than the issuer")
    if row.state != CommandState.awaiting_approval.value:
        raise Conflict(f"command {command_id} is {row.state}, not awaiting_approval")
    if row.expires_at <= now:
        transition(store, command_id, CommandState.expired, "cloud", "expired before approval", now)
        raise Conflict(f"command {command_id} expired before it was approved")
    done = transition(store, command_id, CommandState.pending, user.username,
                      now=now, extra={"approved_by": user.username})  # fmt: skip
    if done is None:
        raise Conflict(f"command {command_id} changed state meanwhile")
    return public(done)


def get_row(store: Store, user: Principal, command_id: str) -> CommandRow:
    """Return a command the user may read."""
    row = store.command(command_id)
    if row is None:
        raise NotFound(f"no command {command_id!r}")
    authorize(user, Action.read, row.site)
    return row


def list_for_asset(store: Store, user: Principal, site: str, asset: str,
                   limit: int = 100) -> CommandsPublic:  # fmt: skip
    """Commands of one asset, newest first."""
    authorize(user, Action.read, site)
    atype = _asset_type(store, site, asset)
    data = [public(r) for r in store.commands(site=site, asset=asset, limit=limit)]
    return CommandsPublic(
        data=data, count=len(data), can_issue=user.role_at(site) in COMMAND_ROLES,
        setpoints=[s.model_dump(mode="json") for s in atype.setpoints],
        actions=[c.model_dump(mode="json") for c in atype.commands],
    )  # fmt: skip


def expire_due(store: Store, now: float | None = None, edge_id: str | None = None) -> int:
    """Expire commands past their expiry that the edge has not acted on; return how many."""
    now = time.time() if now is None else now
    open_states = (CommandState.awaiting_approval.value, CommandState.pending.value)
    n = 0
    for row in store.commands(edge_id=edge_id, states=open_states, limit=10_000):
        if row.expires_at <= now and transition(
            store, row.command_id, CommandState.expired, "cloud", "expired before delivery", now
        ):
            n += 1
    return n


def for_edge(store: Store, edge_id: str, now: float | None = None) -> list[Command]:
    """Return the pending commands of an edge (sent in every answer until it confirms receipt)."""
    now = time.time() if now is None else now
    expire_due(store, now, edge_id)
    rows = store.commands(edge_id=edge_id, states=(CommandState.pending.value,), limit=100)
    return [Command.model_validate(json.loads(r.body)["command"]) for r in reversed(rows)]


def on_receipts(store: Store, edge_id: str, ids: list[str], now: float | None = None) -> None:
    """The edge confirmed receipt: pending → delivered."""
    for cid in ids:
        row = store.command(cid)
        if row is not None and row.edge_id == edge_id:
            transition(store, cid, CommandState.delivered, f"edge:{edge_id}", now=now)


def on_result(store: Store, edge_id: str, event: Event, now: float | None = None) -> None:
    """Apply a ``command_result`` event: accepted/rejected/executed/failed/unknown/expired."""
    row = store.command(event.command_id or "")
    if row is None or row.edge_id != edge_id:
        return
    try:
        target = CommandState(event.data.get("state", ""))
    except ValueError:
        return
    reason = event.data.get("reason") or event.message or None
    extra = {"readback": event.data["readback"]} if "readback" in event.data else None
    transition(store, row.command_id, target, f"edge:{edge_id}", reason, now, extra)


def after_ingest(
    store: Store, edge_id: str, batch: UplinkBatch, events: list[Event | SiteManifest],
    now: float | None = None,
) -> list[Command]:  # fmt: skip
    """The ingest hook: keep the signed ledger head, apply receipts and results of newly stored
    events, record local actions and data gaps in the ledger; return commands to deliver."""
    now = time.time() if now is None else now
    if batch.ledger_head is not None:
        try:
            ledger.accept_edge_head(store, edge_id, batch.ledger_head, now)
        except Unauthorized as err:
            # The records are authenticated by the edge token; only the head is refused.
            log.warning("ingest: %s", err)
    on_receipts(store, edge_id, batch.command_acks, now)
    for ev in events:
        if isinstance(ev, SiteManifest):  # the edge sends it only when its site config changed
            ledger.append(store, ledger.signer_for(store), "config_change", f"edge:{edge_id}",
                          ev.site.id, {"manifest_hash": ev.hash, "assets": len(ev.assets),
                                       "asset_types": len(ev.asset_types)}, now)  # fmt: skip
        elif ev.kind == EventKind.command_result and ev.command_id:
            on_result(store, edge_id, ev, now)
        elif ev.kind == EventKind.state_change and ev.data.get("control") == "local_action":
            ledger.append(store, ledger.signer_for(store), "local_action", f"edge:{edge_id}", ev.asset,
                          {"message": ev.message, "ts": ev.ts.isoformat(), **ev.data}, now)  # fmt: skip
        elif ev.kind == EventKind.config_change:
            ledger.append(store, ledger.signer_for(store), "config_change", f"edge:{edge_id}",
                          ev.asset, {"message": ev.message, **ev.data}, now)  # fmt: skip
        elif ev.kind == EventKind.data_gap:
            ledger.append(store, ledger.signer_for(store), "data_gap", f"edge:{edge_id}", ev.asset,
                          {"start": ev.start.isoformat() if ev.start else None,
                           "end": ev.end.isoformat() if ev.end else None,
                           "message": ev.message}, now)  # fmt: skip
    return for_edge(store, edge_id, now)
