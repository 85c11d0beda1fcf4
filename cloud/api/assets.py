"""``/api/v1/assets``: the fleet's assets, their latest values and their history."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response

from egiz.contracts import split_global_id

from ..errors import NotFound
from ..schemas import AssetPublic, AssetsPublic, HistoryPublic
from ..services import twin
from ..services.auth import Action, Principal, authorize
from .deps import StoreDep, UserDep

router = APIRouter(prefix="/assets", tags=["assets"])

AssetId = Annotated[
    str, Path(description="global asset id <site>.<asset>", examples=["demo.pump-1"])
]
_ERR = {
    403: {"description": "no role on this asset's site"},
    404: {"description": "no such asset"},
}


def _site(user: Principal, gid: str, action: Action = Action.read) -> None:
    try:
        site, _ = split_global_id(gid)
    except ValueError as err:
        raise NotFound(str(err)) from None
    authorize(user, action, site)


@router.get("", response_model=AssetsPublic, summary="List the assets of the fleet")
def read_assets(
    store: StoreDep,
    user: UserDep,
    site: Annotated[str | None, Query(description="only this site")] = None,
    latest: Annotated[bool, Query(description="include the latest value of every signal")] = False,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> AssetsPublic:
    """Every active asset the user may read, with its global id, type and ISA-95 path."""
    if site is not None:
        authorize(user, Action.read, site)
    sites = user.sites(Action.read)
    return twin.list_assets(store, site, latest, sites=sites, limit=limit, offset=offset)


@router.get("/{asset_id}", response_model=AssetPublic, responses=_ERR, summary="One asset")
def read_asset(store: StoreDep, user: UserDep, asset_id: AssetId) -> AssetPublic:
    """The asset with the latest value, unit, timestamp and quality of every signal."""
    _site(user, asset_id)
    return twin.get_asset(store, asset_id)


Signal = Annotated[str | None, Query(description="only this signal")]
Start = Annotated[datetime | None, Query(description="first window start (inclusive)")]
End = Annotated[datetime | None, Query(description="last window start (exclusive)")]
Limit = Annotated[int, Query(ge=1, le=twin.MAX_HISTORY)]
Resolution = Annotated[
    Literal["raw", "1m", "1h", "auto"],
    Query(description="raw windows, 1-minute or 1-hour rollups, or auto (by span)"),
]


@router.get(
    "/{asset_id}/history", response_model=HistoryPublic, responses=_ERR, summary="Window history"
)
def read_history(
    store: StoreDep,
    user: UserDep,
    asset_id: AssetId,
    signal: Signal = None,
    start: Start = None,
    end: End = None,
    limit: Limit = twin.MAX_HISTORY,
    resolution: Resolution = "raw",
) -> HistoryPublic:
    """Window summaries (or rollups) of the asset, oldest first."""
    _site(user, asset_id)
    return twin.history(store, asset_id, signal, start, end, limit, resolution)


@router.get(
    "/{asset_id}/history.csv",
    response_class=Response,
    responses={**_ERR, 200: {"content": {"text/csv": {}}, "description": "one window per line"}},
    summary="Window history as CSV",
)
def export_history(
    store: StoreDep,
    user: UserDep,
    asset_id: AssetId,
    signal: Signal = None,
    start: Start = None,
    end: End = None,
    limit: Limit = twin.MAX_HISTORY,
    resolution: Resolution = "raw",
) -> Response:
    """The same windows as ``/history``, as CSV for a spreadsheet (engineer role and up)."""
    _site(user, asset_id, Action.export)
    h = twin.history(store, asset_id, signal, start, end, limit, resolution)
    # Header values are latin-1: keep the file name to characters that survive any client.
    name = re.sub(r"[^A-Za-z0-9._-]", "_", f"{asset_id}-{signal or 'all'}")[:120] + ".csv"
    return Response(
        twin.history_csv(h),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
