"""The request dependencies of every router, as ``Annotated`` aliases (FastAPI layout)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

from ..config import CloudSettings
from ..services.auth import Principal, authenticate_user
from ..services.edges import authenticate_edge
from ..store import Store
from ..store.base import EdgeRow


# async: FastAPI runs a sync dependency in its thread pool, a thread hop per request for what
# is an attribute read (measured: a third of the server's per-request cost on small batches).
async def get_store(request: Request) -> Store:
    """Return the app's store (opened by ``create_app``)."""
    return request.app.state.store


async def get_settings(request: Request) -> CloudSettings:
    """Return the app's settings."""
    return request.app.state.settings


StoreDep = Annotated[Store, Depends(get_store)]
SettingsDep = Annotated[CloudSettings, Depends(get_settings)]


def current_edge(
    store: StoreDep,
    authorization: Annotated[
        str | None, Header(description="Bearer <edge token> from `egiz cloud edge add`")
    ] = None,
) -> EdgeRow:
    """Return the edge whose bearer token came with the request (401 otherwise)."""
    return authenticate_edge(store, authorization)


EdgeDep = Annotated[EdgeRow, Depends(current_edge)]


def current_user(
    store: StoreDep,
    authorization: Annotated[
        str | None, Header(description="Bearer <token> from POST /api/v1/auth/login")
    ] = None,
) -> Principal:
    """Return the user whose bearer token came with the request (401 otherwise)."""
    return authenticate_user(store, authorization)


UserDep = Annotated[Principal, Depends(current_user)]
