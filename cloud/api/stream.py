"""``/api/v1/stream``: Server-Sent Events telling dashboards that new data was stored.

Browsers' EventSource cannot send headers, so the token may come as ``access_token`` in the
query (this endpoint only). The stream says *that* something changed, never what: clients
re-read the API with their own rights. Each replica reports the changes it stored; the
dashboard's polling covers changes stored by other replicas.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from ..services.auth import authenticate_user
from .deps import StoreDep

router = APIRouter(tags=["stream"])


class ChangeCounter:
    """A thread-safe counter ingest bumps after each stored batch."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.value = 0

    def bump(self) -> None:
        """Record one change."""
        with self._lock:
            self.value += 1


@router.get("/stream", include_in_schema=False)
async def stream(
    request: Request,
    store: StoreDep,
    access_token: Annotated[str | None, Query()] = None,
    timeout_s: Annotated[float, Query(ge=0, le=3600)] = 300.0,
    authorization: Annotated[str | None, Header()] = None,
) -> StreamingResponse:
    """``event: change`` whenever this replica stores data; ends after ``timeout_s``."""
    header = authorization or (f"Bearer {access_token}" if access_token else None)
    await run_in_threadpool(authenticate_user, store, header)
    changes: ChangeCounter = request.app.state.changes

    async def events() -> AsyncIterator[bytes]:
        seen = changes.value
        yield b"retry: 2000\nevent: hello\ndata: {}\n\n"
        loop = asyncio.get_running_loop()
        until = loop.time() + timeout_s
        while loop.time() < until and not await request.is_disconnected():
            await asyncio.sleep(0.25)
            if changes.value != seen:
                seen = changes.value
                yield f"event: change\ndata: {seen}\n\n".encode()

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache"})  # fmt: skip
