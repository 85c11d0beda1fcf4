"""The app factory: ``create_app(settings)`` wires store, routers, errors and static files."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from egiz import __version__
from egiz.contracts import UplinkBatch

from .api import (
    alarms,
    assets,
    auth,
    edges,
    events,
    fleet,
    health,
    ingest,
    metrics,
    sites,
    stream,
    ui,
    users,
)
from .api import commands as commands_api
from .api import ledger as ledger_api
from .api import maintenance as maintenance_api
from .api.deps import ingest_executor
from .config import CloudSettings
from .errors import (
    BadBatch,
    BodyTooLarge,
    CloudError,
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    StoreError,
    TooManyRequests,
    Unauthorized,
)
from .metrics import CloudMetrics
from .notify import Notifier
from .services import rollup
from .services.edges import EdgeTokenCache
from .store import Store, open_store

API_PREFIX = "/api/v1"
log = logging.getLogger(__name__)

_STATUS: dict[type[CloudError], int] = {
    Unauthorized: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    BodyTooLarge: 413,
    BadBatch: 422,
    TooManyRequests: 429,
    InvalidInput: 422,
    StoreError: 503,
}


def _status(err: CloudError) -> int:
    for cls in type(err).__mro__:
        if cls in _STATUS:
            return _STATUS[cls]
    return 500


async def _on_cloud_error(request: Request, err: Exception) -> JSONResponse:
    assert isinstance(err, CloudError)
    status = _status(err)
    if request.url.path == f"{API_PREFIX}/ingest":
        request.app.state.metrics.batches.labels(str(status)).inc()
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    if isinstance(err, TooManyRequests):
        headers = {"Retry-After": str(int(err.retry_after))}
    return JSONResponse({"detail": str(err)}, status_code=status, headers=headers)


def create_app(settings: CloudSettings | None = None, *, store: Store | None = None) -> FastAPI:
    """Build the cloud app; it opens (and migrates) the store of ``settings.db_url``
    unless ``store`` is given, and closes only a store it opened."""
    settings = settings or CloudSettings()
    owned = store is None
    the_store = store if store is not None else open_store(settings.db_url)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        app.state.ingest_executor = ingest_executor()  # a fresh one each time the app starts
        await app.state.notifier.start()
        task = None
        if settings.maintenance_interval_s is not None:
            task = asyncio.create_task(_maintenance(the_store, settings))
        yield
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await app.state.notifier.stop()
        app.state.ingest_executor.shutdown(wait=True)  # a batch in progress finishes first
        if app.state.sink is not None:
            app.state.sink.close()
        if owned:
            the_store.close()

    app = FastAPI(
        title=settings.title,
        version=__version__,
        description="Egiz cloud: twin registry, idempotent ingest, fleet API and dashboard.",
        docs_url=None,  # served from local files by ui.mount_static, never from a CDN
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.store = the_store
    app.state.metrics = CloudMetrics(the_store)
    app.state.sink = _sink(settings)
    app.state.changes = stream.ChangeCounter()
    app.state.ingest_executor = ingest_executor()  # used without lifespan too (tests)
    app.state.edge_tokens = EdgeTokenCache()
    app.state.notifier = Notifier(
        list(settings.webhooks), the_store, alarm_payload=ingest.alarm_payload
    )
    app.state.metrics.registry.register(app.state.notifier.collector())
    app.add_exception_handler(CloudError, _on_cloud_error)
    app.include_router(health.router)
    app.include_router(metrics.router)
    app.include_router(ingest.router, prefix=API_PREFIX)
    for module in (auth, users, assets, alarms, events, edges, fleet,
                   commands_api, maintenance_api, ledger_api, stream, sites):  # fmt: skip
        app.include_router(module.router, prefix=API_PREFIX)
    app.include_router(ui.router)
    ui.mount_static(app, settings.docs)
    _document_raw_bodies(app)
    return app


def _sink(settings: CloudSettings) -> Any:
    if settings.influx_url is None:
        return None
    # Imported only when configured: the sink's client is an optional dependency at run time.
    from .sinks.influx import InfluxSink

    token = settings.influx_token.get_secret_value() if settings.influx_token else ""
    return InfluxSink(settings.influx_url, token, settings.influx_org, settings.influx_bucket)


async def _maintenance(store: Store, settings: CloudSettings) -> None:
    """Roll up and apply retention every ``maintenance_interval_s`` (idempotent per replica)."""
    assert settings.maintenance_interval_s is not None
    while True:
        await asyncio.sleep(settings.maintenance_interval_s)
        try:
            await run_in_threadpool(rollup.run_rollups, store)
            await run_in_threadpool(rollup.apply_retention, store, settings.retention_s)
        except Exception:  # keep the loop alive; the next round retries
            log.exception("maintenance failed")


def _document_raw_bodies(app: FastAPI) -> None:
    """Add the UplinkBatch schema to OpenAPI: ingest reads its body raw (it may be gzip)."""
    base = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = base()
        defs = UplinkBatch.model_json_schema(ref_template="#/components/schemas/{model}")
        comps = schema.setdefault("components", {}).setdefault("schemas", {})
        comps.update(defs.pop("$defs", {}))
        comps["UplinkBatch"] = defs
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
