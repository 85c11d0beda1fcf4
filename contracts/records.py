"""Records on the wire between edge and cloud, and the uplink batch and its answer (§3, §4).

Every record carries its outbox sequence number ``seq``; together with the edge id and the
outbox ``epoch`` it identifies the record fleet-wide, so the same record twice is stored once.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import Field, TypeAdapter

from .assets import Asset, AssetType, Severity
from .base import Contract
from .commands import Command
from .ids import Name, Slug
from .site import SiteInfo

#: The wire schema version this code writes; the cloud also accepts the previous one.
SCHEMA_VERSION = 1
ACCEPTED_SCHEMA_VERSIONS = frozenset({SCHEMA_VERSION})

Seq = Annotated[int, Field(ge=1, description="outbox sequence number, unique per edge epoch")]


class Quality(StrEnum):
    """Sample quality after mapping each protocol's status codes."""

    good = "good"
    uncertain = "uncertain"
    bad = "bad"


class SignalStats(Contract):
    """Statistics of one signal over one window. Stats use samples of good or uncertain quality."""

    count: int = Field(ge=0, description="samples received in the window, any quality")
    bad: int = Field(0, ge=0, description="samples of bad quality (excluded from the stats)")
    uncertain: int = Field(0, ge=0)
    out_of_range: int = Field(0, ge=0, description="samples outside the signal's valid range")
    min: float | None = None
    max: float | None = None
    mean: float | None = None
    std: float | None = None
    last: float | None = None
    last_ts: datetime | None = None
    features: dict[str, float] = Field(default_factory=dict)


class RulEstimate(Contract):
    """Remaining useful life with its interval."""

    value: float
    low: float
    high: float
    unit: Literal["h", "cycles"] = "h"


class ModelScores(Contract):
    """What the model runner made of one asset's window."""

    model: str
    version: str
    anomaly: float | None = None
    anomalous: bool | None = None
    health: float | None = Field(None, ge=0, le=100)
    rul: RulEstimate | None = None
    explanation: dict[str, float] = Field(
        default_factory=dict, description="feature -> contribution to the health drop"
    )


class WindowSummary(Contract):
    """One asset's window: per-signal statistics and model scores."""

    type: Literal["window"] = "window"
    seq: Seq
    asset: Slug
    start: datetime
    length_s: float = Field(gt=0)
    signals: dict[Name, SignalStats]
    scores: ModelScores | None = None


class EventKind(StrEnum):
    """What happened."""

    alarm_raise = "alarm_raise"
    alarm_clear = "alarm_clear"
    anomaly = "anomaly"
    data_gap = "data_gap"
    state_change = "state_change"
    command_result = "command_result"
    config_change = "config_change"
    quarantined = "quarantined"
    source_status = "source_status"
    malformed_input = "malformed_input"
    late_data = "late_data"


class Event(Contract):
    """Something that happened at the edge, with exact bounds where it spans time."""

    type: Literal["event"] = "event"
    seq: Seq
    kind: EventKind
    ts: datetime
    asset: Slug | None = None
    signal: Name | None = None
    severity: Severity = Severity.info
    message: str = ""
    alarm_id: str | None = Field(None, description="edge-generated, shared by raise and clear")
    start: datetime | None = Field(None, description="data_gap: first missing instant")
    end: datetime | None = Field(None, description="data_gap: end of the gap (exclusive)")
    command_id: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)


class Heartbeat(Contract):
    """Liveness of the edge and the health of its outbox."""

    type: Literal["heartbeat"] = "heartbeat"
    seq: Seq
    ts: datetime
    outbox_depth: int = Field(ge=0)
    oldest_unsent_s: float | None = Field(None, ge=0)
    clock_offset_s: float | None = Field(None, description="edge clock minus cloud clock")
    sources: dict[str, str] = Field(default_factory=dict, description="source -> state")
    agent_version: str = ""


class SiteManifest(Contract):
    """The edge's site: sent on first contact and whenever its hash changes; registers it."""

    type: Literal["manifest"] = "manifest"
    seq: Seq
    site: SiteInfo
    asset_types: tuple[AssetType, ...]
    assets: tuple[Asset, ...]
    hash: str = Field(pattern=r"^[0-9a-f]{64}$")


Record = Annotated[WindowSummary | Event | Heartbeat | SiteManifest, Field(discriminator="type")]
RECORD_ADAPTER: TypeAdapter[Record] = TypeAdapter(Record)


class LedgerHead(Contract):
    """The edge's ledger chain head, signed with its device key."""

    seq: int = Field(ge=0)
    hash: str
    signature: str


class UplinkBatch(Contract):
    """What the edge sends. Records stay raw here so the cloud can reject them one by one."""

    schema_version: int = Field(SCHEMA_VERSION, alias="schema")
    edge_id: Slug
    epoch: str = Field(
        pattern=r"^[A-Za-z0-9-]{1,64}$", description="changes when the outbox is created afresh"
    )
    batch_id: str = Field(pattern=r"^[A-Za-z0-9-]{1,64}$")
    sent_at: datetime
    records: list[dict[str, Any]] = Field(max_length=10_000)
    ledger_head: LedgerHead | None = None
    command_acks: list[str] = Field(
        default_factory=list, description="ids of commands whose receipt the edge confirms"
    )


class Rejection(Contract):
    """A record the cloud refused, and why; the edge quarantines it."""

    index: int = Field(ge=0, description="position in the batch")
    seq: int | None = None
    reason: str


class UplinkAnswer(Contract):
    """The cloud's answer: exactly which seqs it holds, what it refused, and commands to run."""

    epoch: str
    stored: list[tuple[int, int]] = Field(
        description="inclusive ranges of seqs of this batch the cloud now holds (new or before)"
    )
    rejected: list[Rejection] = Field(default_factory=list)
    commands: list[Command] = Field(default_factory=list)
    server_time: datetime


def to_ranges(seqs: list[int] | set[int]) -> list[tuple[int, int]]:
    """Compress sequence numbers into sorted inclusive ranges."""
    ranges: list[tuple[int, int]] = []
    for s in sorted(set(seqs)):
        if ranges and s == ranges[-1][1] + 1:
            ranges[-1] = (ranges[-1][0], s)
        else:
            ranges.append((s, s))
    return ranges


def from_ranges(ranges: list[tuple[int, int]]) -> set[int]:
    """Expand inclusive ranges into a set of sequence numbers."""
    out: set[int] = set()
    for lo, hi in ranges:
        out.update(range(lo, hi + 1))
    return out


__all__ = [
    "ACCEPTED_SCHEMA_VERSIONS",
    "RECORD_ADAPTER",
    "SCHEMA_VERSION",
    "Event",
    "EventKind",
    "Heartbeat",
    "LedgerHead",
    "ModelScores",
    "Quality",
    "Record",
    "Rejection",
    "RulEstimate",
    "SignalStats",
    "SiteManifest",
    "UplinkAnswer",
    "UplinkBatch",
    "WindowSummary",
    "from_ranges",
    "to_ranges",
]
