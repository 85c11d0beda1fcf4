"""Wire types of the cloud API (the contracts cover edge<->cloud; these cover API readers)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from egiz.contracts import Asset, AssetType, ModelScores, Quality, SiteInfo


class _Public(BaseModel):
    model_config = ConfigDict(frozen=True)


class SignalLatest(_Public):
    """The digital shadow of one signal: the ``last`` of its newest window and its quality."""

    name: str
    unit: str
    kind: str = "other"
    value: float | None = None
    ts: datetime | None = Field(
        None, description="time of the value (last sample, else window end)"
    )
    quality: Quality | None = Field(
        None, description="bad if every sample was bad, uncertain if any"
    )
    window_start: datetime | None = None
    window_length_s: float | None = None
    count: int = 0
    bad: int = 0
    uncertain: int = 0
    out_of_range: int = 0


class AssetPublic(_Public):
    """An asset of the digital master, optionally with its shadow."""

    model_config = ConfigDict(
        frozen=True,
        json_schema_extra={
            "examples": [
                {
                    "id": "demo.pump-1",
                    "site": "demo",
                    "asset": "pump-1",
                    "type": "pump",
                    "name": "Feed pump 1",
                    "enterprise": "egiz",
                    "area": "pumping",
                    "line": None,
                    "path": ["egiz", "demo", "pumping", "pump-1"],
                    "attributes": {},
                }
            ]
        },
    )

    id: str = Field(description="global id <site>.<asset>")
    site: str
    asset: str
    type: str
    name: str
    enterprise: str
    area: str
    line: str | None = None
    path: list[str] = Field(description="ISA-95 path enterprise/site/area/[line/]asset")
    attributes: dict[str, Any] = Field(default_factory=dict)
    signals: list[SignalLatest] | None = Field(
        None, description="latest value of every signal (detail, or list with latest=true)"
    )
    scores: ModelScores | None = None
    updated: datetime | None = Field(None, description="newest window start of any signal")


class AssetsPublic(_Public):
    """A list of assets."""

    data: list[AssetPublic]
    count: int


class HistoryPoint(_Public):
    """One window of one signal."""

    signal: str
    start: datetime
    length_s: float
    count: int
    bad: int
    uncertain: int
    out_of_range: int
    min: float | None
    max: float | None
    mean: float | None
    std: float | None
    last: float | None


class HistoryPublic(_Public):
    """Window summaries of an asset over a time range, oldest first."""

    asset: str
    signal: str | None
    start: datetime | None
    end: datetime | None
    data: list[HistoryPoint]
    count: int
    truncated: bool = Field(description="true when `limit` cut the result; narrow the range")
    resolution: str = Field("raw", description="raw windows, or the 1m / 1h rollup tier")


class Health(_Public):
    """Liveness / readiness answer."""

    status: str
    schema_version: int | None = None


class LoginRequest(_Public):
    """Username and password."""

    model_config = ConfigDict(
        frozen=True,
        json_schema_extra={
            "examples": [{"username": "admin", "password": "correct horse battery"}]
        },
    )

    username: str = Field(max_length=64, examples=["admin"])
    password: str = Field(max_length=256, examples=["correct horse battery staple"])


class TokenPublic(_Public):
    """A bearer token and when it expires."""

    access_token: str
    token_type: str = "bearer"
    expires_at: datetime
    username: str


class UserPublic(_Public):
    """A user and its roles per site ('*' = every site)."""

    username: str
    grants: dict[str, str] = Field(examples=[{"*": "viewer", "mine-a": "operator"}])


class UserCreate(_Public):
    """A new user."""

    model_config = ConfigDict(
        frozen=True,
        json_schema_extra={
            "examples": [{"username": "ops-1", "password": "a long passphrase",
                          "grants": {"demo": "operator"}}]
        },
    )  # fmt: skip

    username: str = Field(max_length=64)
    password: str = Field(min_length=8, max_length=256)
    grants: dict[str, str] = Field(min_length=1, examples=[{"mine-a": "operator"}])


class UsersPublic(_Public):
    """A list of users."""

    data: list[UserPublic]
    count: int


class AlarmPublic(_Public):
    """An alarm and its ISA-18.2 state (active/cleared × unacknowledged/acknowledged)."""

    site: str
    alarm_id: str
    asset: str | None = Field(None, description="global asset id")
    signal: str | None = None
    severity: str
    message: str
    state: str = Field(
        description="active_unacknowledged | active_acknowledged | cleared_unacknowledged "
        "| cleared_acknowledged"
    )
    active: bool
    acknowledged: bool
    shelved: bool
    raised_at: datetime | None = None
    cleared_at: datetime | None = None
    cleared_by: str | None = Field(None, description="user who cleared it, None = the edge")
    acked_at: datetime | None = None
    acked_by: str | None = None
    shelved_until: datetime | None = None
    shelved_by: str | None = None
    edge_id: str | None = None


class AlarmsPublic(_Public):
    """A page of alarms."""

    data: list[AlarmPublic]
    count: int


class ShelveRequest(_Public):
    """How long to shelve an alarm (hide it from the active list without acknowledging)."""

    model_config = ConfigDict(
        frozen=True, json_schema_extra={"examples": [{"duration_s": 3600, "reason": "maintenance"}]}
    )

    duration_s: float = Field(3600.0, gt=0, le=7 * 86400)
    reason: str = Field("", max_length=500)


class EventPublic(_Public):
    """An event from an edge."""

    edge_id: str
    epoch: str
    seq: int
    site: str | None
    kind: str
    ts: datetime
    asset: str | None
    signal: str | None
    severity: str
    message: str
    alarm_id: str | None
    start: datetime | None = Field(None, description="data_gap: first missing instant")
    end: datetime | None = Field(None, description="data_gap: end of the gap (exclusive)")
    data: dict[str, Any] = Field(default_factory=dict)


class EventsPublic(_Public):
    """A page of events, newest first; pass ``before`` = the last ``ts`` for the next page."""

    data: list[EventPublic]
    count: int


class EdgeStatus(_Public):
    """What the newest heartbeat of an edge said."""

    ts: datetime
    outbox_depth: int
    oldest_unsent_s: float | None = None
    clock_offset_s: float | None = None
    sources: dict[str, str] = Field(default_factory=dict)
    agent_version: str = ""


class EdgePublic(_Public):
    """An edge device and its status."""

    edge_id: str
    site: str | None
    revoked: bool
    online: bool = Field(description="sent anything in the last `online_window_s` seconds")
    created_at: datetime
    last_seen: datetime | None
    heartbeat: EdgeStatus | None = None


class EdgesPublic(_Public):
    """A list of edges."""

    data: list[EdgePublic]
    count: int


class EdgeCreate(_Public):
    """A new edge device."""

    model_config = ConfigDict(
        frozen=True, json_schema_extra={"examples": [{"edge_id": "edge-9", "site": "demo"}]}
    )

    edge_id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")
    site: str | None = Field(None, pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")


class EdgeToken(_Public):
    """An edge's bearer token, shown once."""

    edge_id: str
    site: str | None
    token: str


class AssetHealth(_Public):
    """One row of the fleet ranking: health, RUL and active alarms of an asset."""

    id: str
    site: str
    name: str
    type: str
    area: str
    health: float | None = None
    anomaly: float | None = None
    rul: float | None = None
    rul_low: float | None = None
    rul_high: float | None = None
    rul_unit: str | None = None
    model: str | None = None
    version: str | None = None
    scored_at: datetime | None = None
    active_alarms: int = 0


class FleetHealthPublic(_Public):
    """Assets ranked worst first: shortest RUL, then lowest health, then most alarms."""

    data: list[AssetHealth]
    count: int


class SiteRegistration(_Public):
    """A site's digital master given through the API (what an edge's manifest carries)."""

    model_config = ConfigDict(
        frozen=True,
        json_schema_extra={
            "examples": [
                {
                    "site": {"id": "demo", "name": "Demo plant"},
                    "asset_types": [
                        {
                            "name": "pump",
                            "signals": [{"name": "flow", "unit": "m3/h"}],
                            "commands": [{"name": "start"}, {"name": "stop", "critical": True}],
                            "setpoints": [
                                {"name": "speed_setpoint", "unit": "rpm", "min": 0, "max": 3000}
                            ],
                        }
                    ],
                    "assets": [{"id": "pump-1", "type": "pump", "area": "pumping"}],
                }
            ]
        },
    )

    site: SiteInfo
    asset_types: tuple[AssetType, ...]
    assets: tuple[Asset, ...]


class SitePublic(_Public):
    """A site of the fleet."""

    site: str
    name: str
    enterprise: str
    edge_id: str | None
    manifest_hash: str | None
    updated_at: datetime


class SitesPublic(_Public):
    """A list of sites."""

    data: list[SitePublic]
    count: int
