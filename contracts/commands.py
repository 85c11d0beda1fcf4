"""Commands that flow from the cloud down to an asset, and their state machine (§4)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import Field

from .base import Contract
from .ids import Name, Slug


class CommandAction(StrEnum):
    """What a command asks an asset to do."""

    set_setpoint = "set_setpoint"
    start = "start"
    stop = "stop"
    reset = "reset"
    set_mode = "set_mode"
    #: Not a PLC action: the edge starts the asset's model state afresh (health smoothing,
    #: alarm rule, RUL trend) after recorded maintenance; issued only by the maintenance API.
    reset_baseline = "reset_baseline"


class CommandState(StrEnum):
    """Lifecycle: (awaiting_approval →) pending → delivered → accepted/rejected → executed/failed."""

    awaiting_approval = "awaiting_approval"
    pending = "pending"
    delivered = "delivered"
    accepted = "accepted"
    rejected = "rejected"
    executed = "executed"
    failed = "failed"
    expired = "expired"
    unknown = "unknown"


#: Allowed transitions; anything else is a bug or a replay and is refused.
COMMAND_TRANSITIONS: dict[CommandState, frozenset[CommandState]] = {
    CommandState.awaiting_approval: frozenset(
        {CommandState.pending, CommandState.rejected, CommandState.expired}
    ),
    CommandState.pending: frozenset(
        {CommandState.delivered, CommandState.expired, CommandState.rejected}
    ),
    CommandState.delivered: frozenset(
        {CommandState.accepted, CommandState.rejected, CommandState.expired, CommandState.unknown}
    ),
    CommandState.accepted: frozenset(
        {CommandState.executed, CommandState.failed, CommandState.unknown}
    ),
    CommandState.unknown: frozenset({CommandState.executed, CommandState.failed}),
    CommandState.rejected: frozenset(),
    CommandState.executed: frozenset(),
    CommandState.failed: frozenset(),
    CommandState.expired: frozenset(),
}


class Command(Contract):
    """One command for one asset, as the cloud hands it to the edge."""

    id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    asset: Slug
    action: CommandAction
    setpoint: Name | None = None
    value: float | str | None = None
    issuer: str
    issued_at: datetime
    expires_at: datetime
    state: CommandState = CommandState.pending
    reason: str | None = None
