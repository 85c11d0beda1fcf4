"""``/api/v1/sites``: the sites of the fleet; engineers register a site's twin by API."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from ..schemas import SitePublic, SiteRegistration, SitesPublic
from ..services import registry
from .deps import StoreDep, UserDep

router = APIRouter(prefix="/sites", tags=["sites"])


@router.get("", response_model=SitesPublic, summary="List sites")
def read_sites(store: StoreDep, user: UserDep) -> SitesPublic:
    """Sites the user may read, with the edge that registered each."""
    return registry.list_sites(store, user)


@router.put(
    "/{site}",
    response_model=SitePublic,
    responses={403: {"description": "not engineer or admin on this site"},
               422: {"description": "inconsistent site document"}},
    summary="Register or update a site's assets and asset types",
)  # fmt: skip
def put_site(
    store: StoreDep,
    user: UserDep,
    site: Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$", examples=["demo"])],
    body: SiteRegistration,
) -> SitePublic:
    """As an edge's manifest does: assets left out are retired, the owning edge is kept."""
    return registry.register_site(store, user, site, body)
