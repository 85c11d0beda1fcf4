"""``/api/v1/fleet``: fleet-wide rankings."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from ..schemas import FleetHealthPublic
from ..services import fleet
from .deps import StoreDep, UserDep

router = APIRouter(prefix="/fleet", tags=["fleet"])


@router.get("/health", response_model=FleetHealthPublic, summary="Assets ranked worst first")
def read_health(
    store: StoreDep,
    user: UserDep,
    site: Annotated[str | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> FleetHealthPublic:
    """Shortest RUL first, then lowest health, then most active alarms."""
    return fleet.health_ranking(store, user, site, limit, offset)
