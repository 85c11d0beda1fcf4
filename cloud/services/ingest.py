"""Ingest of uplink batches (ARCHITECTURE.md §3 steps 8–9): validate each record, store once.

Only a body that cannot be parsed at all is refused whole; every other record is stored or
rejected on its own, and the answer names exactly which seqs of the batch the cloud holds.
"""

from __future__ import annotations

import gzip
import json
import time
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime

from pydantic import ValidationError

from egiz.contracts import (
    ACCEPTED_SCHEMA_VERSIONS,
    RECORD_ADAPTER,
    Event,
    EventKind,
    Heartbeat,
    Rejection,
    SiteManifest,
    UplinkAnswer,
    UplinkBatch,
    WindowSummary,
    to_ranges,
)

from ..errors import BadBatch, BodyTooLarge, Forbidden
from ..store import Store, WriteSet
from ..store.base import (
    AlarmRow,
    AssetRow,
    AssetStateRow,
    AssetTypeRow,
    EdgeRow,
    EventRow,
    HeartbeatRow,
    ScoresRow,
    ShadowRow,
    SiteRow,
    WindowRow,
)

#: Largest integer both stores hold (SQLite INTEGER and PostgreSQL BIGINT are signed 64-bit).
MAX_INT = 2**63 - 1


@dataclass
class IngestStats:
    """What one batch did: records newly stored, retried (already held), rejected."""

    stored: int = 0
    duplicates: int = 0
    rejected: int = 0
    write_s: float = 0.0
    windows: list[WindowRow] = field(default_factory=list)  # newly stored, for sinks
    alarm_raises: list[AlarmRow] = field(default_factory=list)  # newly stored, for webhooks
    alarm_clears: list[AlarmRow] = field(default_factory=list)


class RecordRejected(Exception):
    """One record that cannot be stored; its message is the reason sent back to the edge."""


def ts(dt: datetime) -> float:
    """Return epoch seconds of ``dt``; a naive datetime is taken as UTC."""
    return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).timestamp()


def decode_body(raw: bytes, content_encoding: str | None, max_bytes: int) -> bytes:
    """Undo ``Content-Encoding: gzip``, refusing bodies that inflate past ``max_bytes``."""
    enc = (content_encoding or "identity").strip().lower()
    if enc in ("", "identity"):
        body = raw
    elif enc in ("gzip", "x-gzip"):
        try:
            # Bounded inflate: a small gzip bomb must not exhaust memory.
            d = zlib.decompressobj(16 + zlib.MAX_WBITS)
            body = d.decompress(raw, max_bytes + 1)
            if len(body) > max_bytes or d.unconsumed_tail:
                raise BodyTooLarge(f"gzip body inflates past {max_bytes} bytes")
            if not d.eof:
                raise BadBatch("gzip body is truncated")
        except (zlib.error, gzip.BadGzipFile) as err:
            raise BadBatch(f"body is not valid gzip: {err}") from err
    else:
        raise BadBatch(f"unsupported Content-Encoding {enc!r} (fix: gzip or none)")
    if len(body) > max_bytes:
        raise BodyTooLarge(f"body of {len(body)} bytes exceeds the limit of {max_bytes}")
    return body


def _reason(err: ValidationError, limit: int = 3) -> str:
    parts = []
    for e in err.errors()[:limit]:
        loc = ".".join(str(p) for p in e["loc"])
        parts.append(f"{loc}: {e['msg']}" if loc else e["msg"])
    more = err.error_count() - limit
    return "; ".join(parts) + (f" (+{more} more)" if more > 0 else "")


def parse_batch(body: bytes) -> UplinkBatch:
    """Parse an uplink body; BadBatch names what is wrong (records are checked later)."""
    try:
        batch = UplinkBatch.model_validate_json(body)
    except ValidationError as err:
        raise BadBatch(f"body is not an uplink batch: {_reason(err, 5)}") from None
    if batch.schema_version not in ACCEPTED_SCHEMA_VERSIONS:
        accepted = ", ".join(map(str, sorted(ACCEPTED_SCHEMA_VERSIONS)))
        raise BadBatch(f"schema {batch.schema_version} is not accepted (accepted: {accepted})")
    return batch


@dataclass
class _Registry:
    """The site's assets and the signal names of each, as the ingest checks records against."""

    site: str | None
    signals: dict[str, frozenset[str]] = field(default_factory=dict)

    @classmethod
    def load(cls, store: Store, site: str | None) -> _Registry:
        if site is None:
            return cls(site=None)
        types = {t.name: _signal_names(t.body) for t in store.asset_types(site)}
        return cls(
            site=site,
            signals={a.asset: types.get(a.type, frozenset()) for a in store.assets(site)},
        )


def _signal_names(type_json: str) -> frozenset[str]:
    return frozenset(s["name"] for s in json.loads(type_json)["signals"])


def ingest(
    store: Store,
    edge: EdgeRow,
    batch: UplinkBatch,
    *,
    now: float | None = None,
    stats: IngestStats | None = None,
) -> UplinkAnswer:
    """Store what is valid and new in ``batch`` from ``edge``; answer with held/rejected seqs."""
    if batch.edge_id != edge.edge_id:
        raise Forbidden(f"token of edge {edge.edge_id!r} cannot send for edge {batch.edge_id!r}")
    now = time.time() if now is None else now
    rejected: list[Rejection] = []
    valid: list[tuple[int, WindowSummary | Event | Heartbeat | SiteManifest]] = []
    for i, raw in enumerate(batch.records):
        seq = raw.get("seq")
        seq = seq if isinstance(seq, int) and not isinstance(seq, bool) else None
        try:
            valid.append((i, RECORD_ADAPTER.validate_python(raw)))
        except ValidationError as err:
            rejected.append(Rejection(index=i, seq=seq, reason=_reason(err)))
    n_unparsed = len(rejected)
    held = store.held_seqs(edge.edge_id, batch.epoch, [r.seq for _, r in valid if r.seq <= MAX_INT])
    # The edge row may predate a manifest that bound the edge to its site: read it afresh.
    edge = store.edge(edge.edge_id) or edge
    reg = _Registry.load(store, edge.site)
    ws = WriteSet(edge_id=edge.edge_id, epoch=batch.epoch, received_at=now)
    newest: dict[tuple[str, str], ShadowRow] = {}
    done: set[int] = set()
    for i, rec in valid:
        if rec.seq in held or rec.seq in done:
            continue  # a retry: acknowledged, not stored again
        try:
            if rec.seq > MAX_INT:
                raise RecordRejected(f"seq {rec.seq} exceeds {MAX_INT} (64-bit storage)")
            if isinstance(rec, WindowSummary):
                _window(reg, rec, ws, newest)
            elif isinstance(rec, SiteManifest):
                reg = _manifest(store, edge, batch.epoch, rec, ws, now)
            elif isinstance(rec, Event):
                _event(edge, batch.epoch, reg.site, rec, ws)
            else:
                ws.heartbeats.append(
                    HeartbeatRow(
                        edge.edge_id, batch.epoch, rec.seq, ts(rec.ts), rec.model_dump_json()
                    )
                )
        except RecordRejected as err:
            rejected.append(Rejection(index=i, seq=rec.seq, reason=str(err)))
            continue
        ws.keys.append((rec.seq, rec.type))
        done.add(rec.seq)
    ws.shadow = list(newest.values())
    t0 = time.perf_counter()
    if ws.keys:
        store.write(ws)
    if stats is not None:
        stats.stored, stats.rejected = len(done), len(rejected)
        stats.duplicates = len(valid) - len(done) - (len(rejected) - n_unparsed)
        stats.write_s = time.perf_counter() - t0
        stats.windows = ws.windows
        stats.alarm_raises, stats.alarm_clears = ws.alarm_raises, ws.alarm_clears
    # Control and trust hook (issue 7): signed ledger head, command receipts and results of
    # newly stored events only (a retried batch is not applied twice), commands to deliver.
    from .commands import after_ingest

    fresh = [r for _, r in valid if isinstance(r, Event | SiteManifest) and r.seq in done]
    commands = after_ingest(store, edge.edge_id, batch, fresh, now)
    return UplinkAnswer(
        epoch=batch.epoch,
        stored=to_ranges(held | done),
        rejected=sorted(rejected, key=lambda r: r.index),
        commands=commands,
        server_time=datetime.fromtimestamp(now, UTC),
    )


def _window(
    reg: _Registry, rec: WindowSummary, ws: WriteSet, newest: dict[tuple[str, str], ShadowRow]
) -> None:
    if reg.site is None:
        raise RecordRejected("this edge has no site yet (fix: send the site manifest first)")
    known = reg.signals.get(rec.asset)
    if known is None:
        raise RecordRejected(
            f"asset {rec.asset!r} is not in the manifest of site {reg.site!r} "
            "(fix: send the current site manifest first)"
        )
    unknown = sorted(set(rec.signals) - known)
    if unknown:
        raise RecordRejected(
            f"asset {rec.asset!r} has no signal(s) {', '.join(unknown)} in its asset type "
            f"(known: {', '.join(sorted(known))})"
        )
    start = ts(rec.start)
    for name, s in rec.signals.items():
        if max(s.count, s.bad, s.uncertain, s.out_of_range) > MAX_INT:
            raise RecordRejected(f"signal {name!r}: a count exceeds {MAX_INT} (64-bit storage)")
        last_ts = ts(s.last_ts) if s.last_ts else None
        ws.windows.append(
            WindowRow(reg.site, rec.asset, name, start, rec.length_s, s.count, s.bad, s.uncertain,
                      s.out_of_range, s.min, s.max, s.mean, s.std, s.last, last_ts)
        )  # fmt: skip
        prev = newest.get((rec.asset, name))
        if prev is None or start > prev.start:
            newest[(rec.asset, name)] = ShadowRow(
                reg.site, rec.asset, name, start, rec.length_s, s.last,
                last_ts if last_ts is not None else start + rec.length_s,
                s.count, s.bad, s.uncertain, s.out_of_range,
            )  # fmt: skip
    sc = rec.scores
    if sc is not None:
        ws.scores.append(ScoresRow(reg.site, rec.asset, start, sc.model_dump_json()))
        rul = sc.rul
        ws.asset_state.append(
            AssetStateRow(
                reg.site, rec.asset, start, sc.model, sc.version, sc.health, sc.anomaly,
                rul.value if rul else None, rul.low if rul else None, rul.high if rul else None,
                rul.unit if rul else None,
            )
        )  # fmt: skip


def _manifest(
    store: Store, edge: EdgeRow, epoch: str, rec: SiteManifest, ws: WriteSet, now: float
) -> _Registry:
    site = rec.site.id
    row = store.site(site)
    if edge.site is not None and site != edge.site:
        raise RecordRejected(
            f"edge {edge.edge_id!r} is registered for site {edge.site!r}, not {site!r} "
            "(fix: correct site.id in site.yaml, or provision the edge for that site)"
        )
    if row is not None and row.edge_id not in (None, edge.edge_id):
        raise RecordRejected(f"site {site!r} belongs to edge {row.edge_id!r}")
    known_types = {t.name for t in rec.asset_types}
    missing = sorted({a.type for a in rec.assets} - known_types)
    if missing:
        raise RecordRejected(f"manifest assets use unknown asset types: {', '.join(missing)}")
    if row is not None and row.manifest_epoch == epoch and (row.manifest_seq or 0) > rec.seq:
        # An older manifest arriving late: acknowledged, the newer one stays.
        return _Registry.load(store, site)
    ws.site = SiteRow(site, rec.site.name, rec.site.enterprise, edge.edge_id, rec.hash, epoch,
                      rec.seq, now)  # fmt: skip
    ws.asset_types = [AssetTypeRow(site, t.name, t.model_dump_json()) for t in rec.asset_types]
    ws.assets = [
        AssetRow(site, a.id, a.type, a.name, a.area, a.line, json.dumps(a.attributes))
        for a in rec.assets
    ]
    types = {t.name: frozenset(s.name for s in t.signals) for t in rec.asset_types}
    return _Registry(site=site, signals={a.id: types[a.type] for a in rec.assets})


def _event(edge: EdgeRow, epoch: str, site: str | None, rec: Event, ws: WriteSet) -> None:
    if rec.kind in (EventKind.alarm_raise, EventKind.alarm_clear):
        if rec.alarm_id is None:
            raise RecordRejected(f"{rec.kind.value} needs an alarm_id (shared by raise and clear)")
        if site is None:
            raise RecordRejected("this edge has no site yet (fix: send the site manifest first)")
        when = ts(rec.ts)
        alarm = AlarmRow(
            site, rec.alarm_id, edge.edge_id, rec.asset, rec.signal, rec.severity.value,
            rec.message, raised_at=when if rec.kind == EventKind.alarm_raise else None,
            cleared_at=when if rec.kind == EventKind.alarm_clear else None,
        )  # fmt: skip
        (ws.alarm_raises if rec.kind == EventKind.alarm_raise else ws.alarm_clears).append(alarm)
    ws.events.append(
        EventRow(
            edge.edge_id, epoch, rec.seq, site, rec.kind.value, ts(rec.ts), rec.asset, rec.signal,
            rec.severity.value, rec.message, rec.alarm_id, rec.model_dump_json(),
        )
    )  # fmt: skip
