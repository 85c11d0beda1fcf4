"""``POST /api/v1/ingest``: the uplink endpoint every edge sends its outbox batches to."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from egiz.contracts import UplinkAnswer

from ..errors import BodyTooLarge, Unauthorized
from ..metrics import CloudMetrics
from ..notify import Notifier
from ..services.edges import edge_for_digest
from ..services.ingest import IngestStats, decode_body
from ..services.ingest_fast import ingest_body
from ..sinks.influx import InfluxSink
from ..store import Store
from ..store.base import AlarmRow, EdgeRow
from .deps import EdgeDep, SettingsDep, StoreDep, in_ingest_thread

router = APIRouter(tags=["ingest"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "missing, unknown or revoked edge token"},
    403: {"description": "the token belongs to another edge than the batch names"},
    413: {"description": "body (after gzip) larger than the configured limit"},
    422: {"description": "the body is not an uplink batch at all; nothing was stored"},
}


def _handle(
    store: Store,
    metrics: CloudMetrics,
    sink: InfluxSink | None,
    notifier: Notifier,
    edge: EdgeRow,
    raw: bytes,
    encoding: str | None,
    limit: int,
) -> UplinkAnswer:
    # The token again, from the store: the dependency may have taken it from its cache.
    edge = edge_for_digest(store, edge.token_hash)
    if len(raw) > limit:
        raise BodyTooLarge(f"body exceeds the limit of {limit} bytes (fix: smaller batches)")
    stats = IngestStats()
    answer = ingest_body(store, edge, decode_body(raw, encoding, limit), stats=stats)
    for outcome in ("stored", "duplicates", "rejected"):
        metrics.records.labels(edge.edge_id, outcome).inc(getattr(stats, outcome))
    metrics.store_write.observe(stats.write_s)
    if sink is not None:
        sink.write(stats.windows)
    if stats.alarm_raises or stats.alarm_clears:
        notifier.wake()  # their webhook deliveries were written with the batch (cloud.notify)
    metrics.batches.labels("200").inc()
    return answer


_EXAMPLE = {
    "schema": 1, "edge_id": "edge-1", "epoch": "2026-01-01-a1", "batch_id": "b-1",
    "sent_at": "2026-01-01T00:00:00Z",
    "records": [{"type": "heartbeat", "seq": 1, "ts": "2026-01-01T00:00:00Z", "outbox_depth": 0}],
}  # fmt: skip


def alarm_payload(a: AlarmRow) -> dict[str, Any]:
    """The alarm as webhooks receive it."""
    return {"site": a.site, "alarm_id": a.alarm_id, "asset": f"{a.site}.{a.asset}" if a.asset else None,
            "signal": a.signal, "severity": a.severity, "message": a.message,
            "raised_at": a.raised_at, "cleared_at": a.cleared_at, "edge_id": a.edge_id}  # fmt: skip


@router.post(
    "/ingest",
    response_model=UplinkAnswer,
    responses=_ERRORS,
    summary="Store a batch of records from an edge",
    # The body is read raw (it may be gzip) and parsed by the service; documented here.
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {"$ref": "#/components/schemas/UplinkBatch"},
                    "example": _EXAMPLE,
                }
            },
        }
    },
)
async def post_ingest(
    request: Request, edge: EdgeDep, store: StoreDep, settings: SettingsDep
) -> UplinkAnswer:
    """Validate each record, store the valid new ones once, answer with held and rejected seqs."""
    limit = settings.max_body_bytes
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        chunks.append(chunk)
        if size > limit:  # stop reading; _handle answers 401 or 413 as the token deserves
            break
    raw = b"".join(chunks)
    try:
        answer = await in_ingest_thread(
            request, _handle, store, request.app.state.metrics, request.app.state.sink,
            request.app.state.notifier, edge, raw,
            request.headers.get("content-encoding"), limit,
        )  # fmt: skip
    except Unauthorized:
        request.app.state.edge_tokens.discard(edge.token_hash)  # refused before the body next
        raise
    request.app.state.changes.bump()
    return answer
