"""``/api/v1/assets/{asset_id}/commands`` and ``/api/v1/commands``: issue, approve, follow."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request

from egiz.contracts import split_global_id

from ..errors import NotFound
from ..services import commands
from ..services.commands import CommandCreate, CommandPublic, CommandsPublic
from .deps import StoreDep, UserDep

router = APIRouter(tags=["commands"])

AssetId = Annotated[
    str, Path(description="global asset id <site>.<asset>", examples=["demo.pump-1"])
]
_ERR = {
    403: {"description": "not operator or admin on this site, or approving one's own command"},
    404: {"description": "no such asset or command"},
    409: {"description": "a precondition on the asset's current state failed, or wrong state"},
    422: {"description": "out of the asset type's limits, or not a command of its type"},
}


def _split(asset_id: str) -> tuple[str, str]:
    try:
        return split_global_id(asset_id)
    except ValueError as err:
        raise NotFound(str(err)) from None


@router.post("/assets/{asset_id}/commands", response_model=CommandPublic, status_code=201,
             responses=_ERR, summary="Issue a command to an asset")  # fmt: skip
def post_command(
    request: Request, store: StoreDep, user: UserDep, asset_id: AssetId, body: CommandCreate
) -> CommandPublic:
    """Check role, limits, preconditions; critical actions wait for a second person."""
    site, asset = _split(asset_id)
    out = commands.create(store, user, site, asset, body)
    request.app.state.changes.bump()  # other dashboards show the new command at once
    return out


@router.get("/assets/{asset_id}/commands", response_model=CommandsPublic,
            responses={404: _ERR[404]}, summary="Commands of an asset")  # fmt: skip
def read_commands(store: StoreDep, user: UserDep, asset_id: AssetId) -> CommandsPublic:
    """Newest first, each with its state and history."""
    site, asset = _split(asset_id)
    return commands.list_for_asset(store, user, site, asset)


@router.get("/commands/{command_id}", response_model=CommandPublic,
            responses={404: _ERR[404]}, summary="One command")  # fmt: skip
def read_command(store: StoreDep, user: UserDep, command_id: str) -> CommandPublic:
    """State, reason and history of one command."""
    return commands.public(commands.get_row(store, user, command_id))


@router.post("/commands/{command_id}/approve", response_model=CommandPublic, responses=_ERR,
             summary="Second approval of a critical command")  # fmt: skip
def approve_command(
    request: Request, store: StoreDep, user: UserDep, command_id: str
) -> CommandPublic:
    """Another operator or admin than the issuer approves; the command becomes pending."""
    out = commands.approve(store, user, command_id)
    request.app.state.changes.bump()  # the issuer's dashboard sees the approval at once
    return out
