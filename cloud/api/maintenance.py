"""``/api/v1/assets/{asset_id}/maintenance``: record and list maintenance actions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request

from ..services import maintenance
from ..services.maintenance import MaintenanceCreate, MaintenanceList, MaintenancePublic
from .commands import _split
from .deps import StoreDep, UserDep

router = APIRouter(tags=["maintenance"])

AssetId = Annotated[
    str, Path(description="global asset id <site>.<asset>", examples=["demo.pump-1"])
]


@router.post("/assets/{asset_id}/maintenance", response_model=MaintenancePublic,
             status_code=201, summary="Record a maintenance action",
             responses={403: {"description": "viewer"}, 404: {"description": "no such asset"}})  # fmt: skip
def post_maintenance(
    request: Request, store: StoreDep, user: UserDep, asset_id: AssetId, body: MaintenanceCreate
) -> MaintenancePublic:
    """Engineers, operators and admins; the record goes into the ledger, and its resets ride
    to the edge as a ``reset_baseline`` command (``command_id``)."""
    site, asset = _split(asset_id)
    out = maintenance.record(store, user, site, asset, body)
    request.app.state.changes.bump()
    return out


@router.get("/assets/{asset_id}/maintenance", response_model=MaintenanceList,
            summary="Maintenance records of an asset")  # fmt: skip
def read_maintenance(store: StoreDep, user: UserDep, asset_id: AssetId) -> MaintenanceList:
    """Newest first."""
    site, asset = _split(asset_id)
    return maintenance.list_for_asset(store, user, site, asset)
