"""Wire types of the cloud API (the contracts cover edge<->cloud; these cover API readers)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from egiz.contracts import ModelScores, Quality


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


class Health(_Public):
    """Liveness / readiness answer."""

    status: str
    schema_version: int | None = None
