"""``/healthz`` (the process is up) and ``/readyz`` (the store answers and is migrated)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from ..schemas import Health
from ..store.migrations import LATEST
from .deps import StoreDep

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health, summary="Liveness")
def healthz() -> Health:
    """The process answers."""
    return Health(status="ok")


@router.get(
    "/readyz",
    response_model=Health,
    responses={503: {"model": Health, "description": "store down or not migrated"}},
    summary="Readiness",
)
def readyz(store: StoreDep) -> Health | JSONResponse:
    """The store answers and its schema is the one this code expects."""
    version = store.schema_version() if store.ping() else None
    if version != LATEST:
        body = Health(status="unavailable", schema_version=version)
        return JSONResponse(body.model_dump(), status_code=503)
    return Health(status="ok", schema_version=version)
