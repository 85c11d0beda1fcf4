"""``/api/v1/edges``: edge devices, their status, and their credentials (admins)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from ..schemas import EdgeCreate, EdgesPublic, EdgeToken
from ..services import edges, fleet
from ..services.auth import ALL_SITES, Action, authorize
from .deps import StoreDep, UserDep

router = APIRouter(prefix="/edges", tags=["edges"])

EdgeId = Annotated[str, Path(description="edge id", examples=["edge-2"])]
RevokedId = Annotated[str, Path(description="edge id", examples=["edge-3"])]
_ERR = {403: {"description": "not an admin of the edge's site"},
        404: {"description": "no such edge"}}  # fmt: skip


@router.get("", response_model=EdgesPublic, summary="List edges and their status")
def read_edges(store: StoreDep, user: UserDep) -> EdgesPublic:
    """Edges of the sites the user may read, with last seen and newest heartbeat."""
    return fleet.list_edges(store, user)


@router.post("", response_model=EdgeToken, status_code=201,
             responses={**_ERR, 409: {"description": "exists"}}, summary="Add an edge")  # fmt: skip
def create_edge(store: StoreDep, user: UserDep, body: EdgeCreate) -> EdgeToken:
    """Provision an edge; its token is shown once."""
    authorize(user, Action.manage_edges, body.site or ALL_SITES)
    token = edges.add_edge(store, body.edge_id, body.site)
    return EdgeToken(edge_id=body.edge_id, site=body.site, token=token)


@router.post("/{edge_id}/rotate", response_model=EdgeToken, responses=_ERR,
             summary="Issue a new token")  # fmt: skip
def rotate_edge(store: StoreDep, user: UserDep, edge_id: EdgeId) -> EdgeToken:
    """The old token stops working at once."""
    e = fleet.edge_site_check(store, user, edge_id)
    return EdgeToken(edge_id=edge_id, site=e.site, token=edges.rotate_edge(store, edge_id))


@router.post("/{edge_id}/revoke", status_code=204, responses=_ERR, summary="Revoke an edge")
def revoke_edge(store: StoreDep, user: UserDep, edge_id: RevokedId) -> None:
    """The edge's token is refused from now on."""
    fleet.edge_site_check(store, user, edge_id)
    edges.revoke_edge(store, edge_id)
