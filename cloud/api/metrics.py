"""``/metrics``: Prometheus text format (a user token, or the configured scraper token)."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Header, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST

from ..services.auth import authenticate_user
from .deps import SettingsDep, StoreDep

router = APIRouter(tags=["operations"])


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}, 401: {"description": "no token"}},
    summary="Prometheus metrics",
)
def get_metrics(
    request: Request,
    store: StoreDep,
    settings: SettingsDep,
    authorization: Annotated[str | None, Header()] = None,
) -> Response:
    """Ingest rate and outcome, store write latency, per-edge lag and backlog."""
    scraper = settings.metrics_token
    given = (authorization or "").partition(" ")[2].strip()
    if not (scraper and given and hmac.compare_digest(given, scraper.get_secret_value())):
        authenticate_user(store, authorization)
    return Response(request.app.state.metrics.render(), media_type=CONTENT_TYPE_LATEST)
