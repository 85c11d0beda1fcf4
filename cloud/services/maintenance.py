"""Maintenance records: what an engineer did to an asset, kept in the store and the ledger."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, Field

from ..errors import Forbidden, NotFound
from ..store import Store
from . import commands, ledger
from .auth import Action, Principal, Role, authorize

#: Who may record maintenance: the people who do it or direct it.
MAINTENANCE_ROLES = frozenset({Role.engineer, Role.operator, Role.admin})
#: What a record may reset in the twin. ``health_baseline``: the asset's model state at the
#: edge (health smoothing, alarm rule, open model window) and the RUL trend built on it;
#: ``rul_trend``: the RUL trend alone.
Resettable = Literal["health_baseline", "rul_trend"]


class MaintenanceCreate(BaseModel):
    """One maintenance action on an asset."""

    action: str = Field(pattern=r"^[a-z][a-z0-9_]{0,62}$", examples=["bearing_replaced"])
    note: str = Field("", max_length=2000)
    resets: list[Resettable] = Field(
        default_factory=lambda: ["health_baseline"],
        description="what the twin should start afresh (empty: nothing, e.g. an inspection)",
    )


class MaintenancePublic(BaseModel):
    """A stored maintenance record and the ledger entry that holds it."""

    id: str
    asset: str
    action: str
    note: str
    resets: list[str]
    by: str
    ts: datetime
    ledger_seq: int
    command_id: str | None = Field(
        None, description="the reset_baseline command that carries the resets to the edge"
    )
    reset_state: str | None = Field(
        None, description="that command's state now (executed: the edge has reset the twin)"
    )


class MaintenanceList(BaseModel):
    """Maintenance records, newest first."""

    data: list[MaintenancePublic]
    count: int
    can_record: bool = Field(False, description="the caller may record maintenance here")


def record(store: Store, user: Principal, site: str, asset: str, req: MaintenanceCreate,
           now: float | None = None) -> MaintenancePublic:  # fmt: skip
    """Store a maintenance record and append it to the cloud ledger."""
    now = time.time() if now is None else now
    authorize(user, Action.read, site)
    role = user.role_at(site)
    if role not in MAINTENANCE_ROLES:
        raise Forbidden(f"user {user.username!r} ({role}) may not record maintenance on {site!r}")
    if not any(a.asset == asset for a in store.assets(site)):
        raise NotFound(f"no asset {site}.{asset}")
    rid = uuid.uuid4().hex
    resets = list(dict.fromkeys(req.resets))
    entry = ledger.append(store, ledger.signer_for(store), "maintenance", user.username,
                          f"{site}.{asset}", {"id": rid, "action": req.action, "note": req.note,
                                              "resets": resets}, now)  # fmt: skip
    # The twin's model state lives at the edge: the reset rides the uplink answer like a
    # command, is executed locally there, ledgered in the edge's chain and reported back.
    cmd = (commands.create_reset(store, user.username, site, asset, resets, rid, now)
           if resets else None)  # fmt: skip
    out = MaintenancePublic(id=rid, asset=f"{site}.{asset}", action=req.action, note=req.note,
                            resets=resets, by=user.username,
                            ts=datetime.fromtimestamp(now, UTC), ledger_seq=entry.seq,
                            command_id=cmd.id if cmd else None)  # fmt: skip
    store.add_maintenance(rid, site, asset, now, out.model_dump_json())
    return out


def list_for_asset(store: Store, user: Principal, site: str, asset: str) -> MaintenanceList:
    """Maintenance records of one asset."""
    authorize(user, Action.read, site)
    data = [MaintenancePublic.model_validate_json(b) for b in store.maintenance(site, asset)]
    for rec in data:
        row = store.command(rec.command_id) if rec.command_id else None
        rec.reset_state = row.state if row else None
    return MaintenanceList(data=data, count=len(data),
                           can_record=user.role_at(site) in MAINTENANCE_ROLES)  # fmt: skip

