"""``/api/v1/assets``: the fleet's assets, their latest values and their history."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query

from ..schemas import AssetPublic, AssetsPublic, HistoryPublic
from ..services import twin
from .deps import StoreDep

router = APIRouter(prefix="/assets", tags=["assets"])

AssetId = Annotated[
    str, Path(description="global asset id <site>.<asset>", examples=["demo.pump-1"])
]
_404 = {404: {"description": "no such asset"}}


@router.get("", response_model=AssetsPublic, summary="List the assets of the fleet")
def read_assets(
    store: StoreDep,
    site: Annotated[str | None, Query(description="only this site")] = None,
    latest: Annotated[bool, Query(description="include the latest value of every signal")] = False,
) -> AssetsPublic:
    """Every active asset with its global id, type and ISA-95 path."""
    return twin.list_assets(store, site=site, latest=latest)


@router.get("/{asset_id}", response_model=AssetPublic, responses=_404, summary="One asset")
def read_asset(store: StoreDep, asset_id: AssetId) -> AssetPublic:
    """The asset with the latest value, unit, timestamp and quality of every signal."""
    return twin.get_asset(store, asset_id)


@router.get(
    "/{asset_id}/history", response_model=HistoryPublic, responses=_404, summary="Window history"
)
def read_history(
    store: StoreDep,
    asset_id: AssetId,
    signal: Annotated[str | None, Query(description="only this signal")] = None,
    start: Annotated[datetime | None, Query(description="first window start (inclusive)")] = None,
    end: Annotated[datetime | None, Query(description="last window start (exclusive)")] = None,
    limit: Annotated[int, Query(ge=1, le=twin.MAX_HISTORY)] = twin.MAX_HISTORY,
) -> HistoryPublic:
    """Window summaries of the asset, oldest first."""
    return twin.history(store, asset_id, signal=signal, start=start, end=end, limit=limit)
