"""Ingest of uplink batches (ARCHITECTURE.md §3 steps 8–9): validate each record, store once.

Only a body that cannot be parsed at all is refused whole; every other record is stored or
rejected on its own, and the answer names exactly which seqs of the batch the cloud holds.
"""

from __future__ import annotations

import gzip
import json
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from egiz.contracts import (
    ACCEPTED_SCHEMA_VERSIONS,
    RECORD_ADAPTER,
    Event,
    EventKind,
    Heartbeat,
    ModelScores,
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
    Chunk,
    EdgeRow,
    EventRow,
    HeartbeatRow,
    ScoresRow,
    ShadowRow,
    SiteRow,
    WindowRecord,
    WindowRow,
)
from ..store.chunks import expand
from ..store.packing import NONE, decode, opt, pack_one, to_rows

#: Largest integer both stores hold (SQLite INTEGER and PostgreSQL BIGINT are signed 64-bit).
MAX_INT = 2**63 - 1


@dataclass
class IngestStats:
    """What one batch did: records newly stored, retried (already held), rejected."""

    stored: int = 0
    duplicates: int = 0
    rejected: int = 0
    write_s: float = 0.0
    chunks: list[Chunk] = field(default_factory=list)  # raw records newly stored, for sinks
    alarm_raises: list[AlarmRow] = field(default_factory=list)  # newly stored, for webhooks
    alarm_clears: list[AlarmRow] = field(default_factory=list)

    @property
    def windows(self) -> list[WindowRow]:
        """The newly stored windows, one row per signal (decoded only when a sink asks)."""
        out: list[WindowRow] = []
        for c in self.chunks:
            out += to_rows(c.site, c.asset, decode(expand([(0, c.k, c.signals, c.body)], None, None)))
        return out


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
    return _apply(store, edge, batch, valid, rejected, now, stats)


def _apply(
    store: Store,
    edge: EdgeRow,
    batch: UplinkBatch,
    valid: list[tuple[int, WindowSummary | Event | Heartbeat | SiteManifest]],
    rejected: list[Rejection],
    now: float,
    stats: IngestStats | None,
) -> UplinkAnswer:
    n_unparsed = len(rejected)
    held = store.held_seqs(edge.edge_id, batch.epoch, [r.seq for _, r in valid if r.seq <= MAX_INT])
    # The edge row may predate a manifest that bound the edge to its site: read it afresh.
    edge = store.edge(edge.edge_id) or edge
    reg = _Registry.load(store, edge.site)
    ws = WriteSet(edge_id=edge.edge_id, epoch=batch.epoch, received_at=now)
    newest: _Newest = {}
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
    ws.shadow = _shadow_rows(reg.site, newest)
    fresh = [r for _, r in valid if isinstance(r, Event | SiteManifest) and r.seq in done]
    n_duplicates = len(valid) - len(done) - (len(rejected) - n_unparsed)
    return finish(store, edge.edge_id, batch, ws, held | done, rejected, n_duplicates, fresh,
                  now, stats)  # fmt: skip


def finish(
    store: Store,
    edge_id: str,
    batch: UplinkBatch,
    ws: WriteSet,
    held: set[int],
    rejected: list[Rejection],
    n_duplicates: int,
    fresh: list[Event | SiteManifest],
    now: float,
    stats: IngestStats | None,
) -> UplinkAnswer:
    """Write a batch's changes in one transaction and answer the edge (both ingest paths)."""
    t0 = time.perf_counter()
    if ws.keys:
        store.write(ws)
    if stats is not None:
        stats.stored, stats.rejected = len(ws.keys), len(rejected)
        stats.duplicates = n_duplicates
        stats.write_s = time.perf_counter() - t0
        stats.chunks = ws.chunks
        stats.alarm_raises, stats.alarm_clears = ws.alarm_raises, ws.alarm_clears
    # Control and trust hook (issue 7): signed ledger head, command receipts and results of
    # newly stored events only (a retried batch is not applied twice), commands to deliver.
    from .commands import after_ingest

    commands = after_ingest(store, edge_id, batch, fresh, now)
    return UplinkAnswer(
        epoch=batch.epoch,
        stored=to_ranges(held),
        rejected=sorted(rejected, key=lambda r: r.index),
        commands=commands,
        server_time=datetime.fromtimestamp(now, UTC),
    )


#: Newest window per (asset, signal) in a batch: (start, length_s, statistics, last_ts).
_Newest = dict[tuple[str, str], tuple[float, float, Any, float | None]]


def _window(reg: _Registry, rec: WindowSummary, ws: WriteSet, newest: _Newest) -> None:
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
    for name, s in rec.signals.items():
        if max(s.count, s.bad, s.uncertain, s.out_of_range) > MAX_INT:
            raise RecordRejected(f"signal {name!r}: a count exceeds {MAX_INT} (64-bit storage)")
    start = ts(rec.start)
    _add_window(reg.site, rec.asset, start, rec.length_s, rec.signals, ws, newest)
    sc = rec.scores
    if sc is not None:
        _add_scores(reg.site, rec.asset, start, sc, ws)


def _add_window(
    site: str,
    asset: str,
    start: float,
    length_s: float,
    signals: dict[str, Any],
    ws: WriteSet,
    newest: _Newest,
    to_ts: Callable[[Any], float] = ts,
) -> None:
    """Pack one checked window record (pydantic or fast-path statistics alike)."""
    names = sorted(signals) if len(signals) > 1 else list(signals)
    parts = []
    for name in names:
        s = signals[name]
        lts = None if s.last_ts is None else to_ts(s.last_ts)
        parts.append(pack_one(
            s.count, s.bad, s.uncertain, s.out_of_range, opt(s.min), opt(s.max), opt(s.mean),
            opt(s.std), opt(s.last), NONE if lts is None else lts,
        ))  # fmt: skip
        prev = newest.get((asset, name))
        if prev is None or start > prev[0]:
            newest[(asset, name)] = (start, length_s, s, lts)
    ws.records.append(
        WindowRecord(site, asset, start, length_s, len(names), ",".join(names), b"".join(parts))
    )


def _shadow_rows(site: str | None, newest: _Newest) -> list[ShadowRow]:
    """The shadow update of a batch: only the newest window of each signal."""
    out = []
    for (asset, name), (start, length_s, s, lts) in newest.items():
        assert site is not None
        out.append(ShadowRow(
            site, asset, name, start, length_s, s.last,
            lts if lts is not None else start + length_s,
            s.count, s.bad, s.uncertain, s.out_of_range,
        ))  # fmt: skip
    return out


def _add_scores(site: str, asset: str, start: float, sc: ModelScores, ws: WriteSet) -> None:
    ws.scores.append(ScoresRow(site, asset, start, sc.model_dump_json()))
    rul = sc.rul
    ws.asset_state.append(
        AssetStateRow(
            site, asset, start, sc.model, sc.version, sc.health, sc.anomaly,
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
