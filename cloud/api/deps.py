"""The request dependencies of every router, as ``Annotated`` aliases (FastAPI layout)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Annotated, TypeVar

from fastapi import Depends, Header, Request

from ..config import CloudSettings
from ..services.auth import Principal, authenticate_user
from ..services.edges import bearer_digest, edge_for_digest
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

T = TypeVar("T")


def ingest_executor() -> ThreadPoolExecutor:
    """The app's one ingest thread (``create_app`` keeps it in ``app.state.ingest_executor``)."""
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="egiz-ingest")


async def in_ingest_thread(request: Request, fn: Callable[..., T], *args: object) -> T:
    """Run the blocking ``fn(*args)`` on the app's single ingest thread, off the event loop.

    Concurrent batches queue for that one thread instead of each taking a thread-pool worker:
    SQLite writes are serialized by a lock anyway, and the workers contended for the GIL
    (measured, 4 connections into SQLite: 5.9 -> 4.75 us of server CPU per record, +25-35%
    records/s; PostgreSQL: 6.6 -> 5.5 us/record)."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(request.app.state.ingest_executor, fn, *args)


async def current_edge(
    request: Request,
    store: StoreDep,
    authorization: Annotated[
        str | None, Header(description="Bearer <edge token> from `egiz cloud edge add`")
    ] = None,
) -> EdgeRow:
    """Return the edge whose bearer token came with the request (401 otherwise).

    Runs before the body is read, so a missing, malformed or unknown token is refused without
    reading it. A token the store accepted less than ``EdgeTokenCache.ttl_s`` ago is taken
    from ``app.state.edge_tokens`` (no store lookup, no queue for the ingest thread: measured
    +2-4% records/s); so a handler acting for the edge must re-check it against the store
    where it runs (``edge_for_digest(store, edge.token_hash)``), as ``POST /ingest`` does."""
    digest = bearer_digest(authorization)
    edge = request.app.state.edge_tokens.get(digest)
    if edge is None:
        edge = await in_ingest_thread(request, edge_for_digest, store, digest)
        request.app.state.edge_tokens.put(digest, edge)
    return edge


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
