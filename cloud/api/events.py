"""``/api/v1/events``: what happened at the edges, newest first."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from egiz.contracts import EventKind

from ..schemas import EventsPublic
from ..services import fleet
from .deps import StoreDep, UserDep

router = APIRouter(prefix="/events", tags=["events"])


@router.get("", response_model=EventsPublic, summary="List events")
def read_events(
    store: StoreDep,
    user: UserDep,
    site: Annotated[str | None, Query()] = None,
    asset: Annotated[str | None, Query(description="asset id within the site")] = None,
    kind: Annotated[EventKind | None, Query()] = None,
    before: Annotated[datetime | None, Query(description="page: events older than this")] = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 100,
) -> EventsPublic:
    """Events of the sites the user may read."""
    return fleet.list_events(store, user, site, asset, kind.value if kind else None, before, limit)
