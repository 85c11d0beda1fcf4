"""Fast path of the ingest: a body of window records only, decoded in one pass by msgspec.

Validating each record with pydantic (``RECORD_ADAPTER``) costs 6-9 µs per window record on
the development machine, which alone caps ingest near 120,000 records/s. Most batches are
nothing but window summaries of known assets, so such a body is decoded straight into
msgspec structs (~1-2 µs per record) and packed. The fast path only ever *accepts* what the
pydantic contracts accept, and gives up on anything else: a record of another type, a value
msgspec refuses, an unknown asset or signal, a scores block pydantic refuses. The whole batch
then goes through the per-record path (``ingest.ingest``), which names each rejected record
with its reason exactly as before. Agreement with the contracts, where the two validators
differ in what they accept:

- patterns of asset and signal names are not checked here: a record is only taken when its
  asset and signals are in the site's manifest, whose ids pydantic validated;
- datetimes are decoded as text and parsed by pydantic (cached per batch: windows of one
  sweep share their start), since msgspec rounds sub-microsecond digits pydantic truncates;
- counts and seqs are bounded by the 64-bit storage limit, so the per-record path's
  "exceeds" rejection is the one that speaks;
- model scores are validated by the ``ModelScores`` contract itself (they are stored as its
  JSON).
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Annotated, Literal

import msgspec
from msgspec import UNSET, Meta, Raw, UnsetType
from pydantic import TypeAdapter, ValidationError

from egiz.contracts import ACCEPTED_SCHEMA_VERSIONS, ModelScores, UplinkAnswer, UplinkBatch

from ..errors import Forbidden
from ..store import Store, WriteSet
from ..store.base import Chunk, EdgeRow, ShadowRow
from ..store.chunks import make_chunk
from ..store.packing import NONE, pack_one
from .ingest import (
    MAX_INT,
    IngestStats,
    _add_scores,
    _Newest,
    _Registry,
    _shadow_rows,
    finish,
    ingest,
    parse_batch,
    ts,
)

Count = Annotated[int, Meta(ge=0, le=MAX_INT)]

# gc=False: the decoded structs hold no reference cycles, and tracking a batch's thousands
# of them would make the garbage collector scan them over and over.


class _Stats(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    count: Count
    bad: Count = 0
    uncertain: Count = 0
    out_of_range: Count = 0
    min: float | None = None
    max: float | None = None
    mean: float | None = None
    std: float | None = None
    last: float | None = None
    last_ts: str | None = None
    # UNSET, not {}: a mutable default is copied per decoded struct (2/3 of the decode time).
    features: dict[str, float] | UnsetType = UNSET


class _Window(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    type: Literal["window"]
    seq: Annotated[int, Meta(ge=1, le=MAX_INT)]
    asset: str
    start: str
    length_s: Annotated[float, Meta(gt=0)]
    signals: dict[str, _Stats]
    scores: Raw | UnsetType = UNSET


class _Batch(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    records: list[_Window]
    # The envelope is validated by the UplinkBatch contract; kept raw here.
    schema: Raw | UnsetType = UNSET
    edge_id: Raw | UnsetType = UNSET
    epoch: Raw | UnsetType = UNSET
    batch_id: Raw | UnsetType = UNSET
    sent_at: Raw | UnsetType = UNSET
    ledger_head: Raw | UnsetType = UNSET
    command_acks: Raw | UnsetType = UNSET


_DECODER = msgspec.json.Decoder(_Batch)
_ENVELOPE = ("schema", "edge_id", "epoch", "batch_id", "sent_at", "ledger_head", "command_acks")
_DATETIME: TypeAdapter[datetime] = TypeAdapter(datetime)
_MAX_RECORDS = UplinkBatch.model_fields["records"].metadata[0].max_length


def parse_windows(body: bytes) -> tuple[UplinkBatch, list[_Window]] | None:
    """Decode a body of window records only; None when the fast path does not apply."""
    try:
        fast = _DECODER.decode(body)
    except msgspec.DecodeError:
        return None
    if len(fast.records) > _MAX_RECORDS:
        return None
    parts = [f'"{k}":'.encode() + bytes(v) for k in _ENVELOPE
             if (v := getattr(fast, k)) is not UNSET]  # fmt: skip
    try:
        batch = UplinkBatch.model_validate_json(b"{" + b",".join([*parts, b'"records":[]']) + b"}")
    except ValidationError:
        return None
    if batch.schema_version not in ACCEPTED_SCHEMA_VERSIONS:
        return None
    return batch, fast.records


class _Times(dict[str, float]):
    """Epoch seconds of datetime texts, parsed once per batch by the pydantic rules."""

    def __missing__(self, text: str) -> float:
        value = self[text] = ts(_DATETIME.validate_python(text))
        return value


#: (store, site) -> (manifest version, registry); a manifest write changes the version.
_REGISTRIES: dict[tuple[int, str, str], tuple[tuple[object, ...], _Registry]] = {}


def _registry(store: Store, site: str | None) -> _Registry:
    """The site's registry, re-read only when its manifest changed (one small query)."""
    if site is None:
        return _Registry(site=None)
    row = store.site(site)
    if row is None:
        return _Registry.load(store, site)
    # Assets and asset types are written only with a manifest, which sets all of these.
    version = (row.manifest_hash, row.manifest_epoch, row.manifest_seq, row.updated_at,
               row.edge_id)  # fmt: skip
    key = (id(store), store.url, site)
    hit = _REGISTRIES.get(key)
    if hit is not None and hit[0] == version:
        return hit[1]
    reg = _Registry.load(store, site)
    if len(_REGISTRIES) > 1000:  # many stores only in test runs; stay bounded
        _REGISTRIES.clear()
    _REGISTRIES[key] = (version, reg)
    return reg


def _scores(rec: _Window) -> ModelScores | None:
    if rec.scores is UNSET:
        return None
    raw = bytes(rec.scores)
    return None if raw == b"null" else ModelScores.model_validate_json(raw)


def ingest_windows(
    store: Store,
    edge: EdgeRow,
    batch: UplinkBatch,
    records: list[_Window],
    *,
    now: float | None = None,
    stats: IngestStats | None = None,
) -> UplinkAnswer | None:
    """Store a batch of decoded window records; None when a record needs the per-record path."""
    if batch.edge_id != edge.edge_id:
        raise Forbidden(f"token of edge {edge.edge_id!r} cannot send for edge {batch.edge_id!r}")
    now = time.time() if now is None else now
    held = store.held_seqs(edge.edge_id, batch.epoch, [r.seq for r in records])
    edge = store.edge(edge.edge_id) or edge
    reg = _registry(store, edge.site)
    site = reg.site
    if site is None:
        return None
    ws = WriteSet(edge_id=edge.edge_id, epoch=batch.epoch, received_at=now)
    times = _Times()
    signals_of = reg.signals
    kept: list[_Window] = []
    starts: list[float] = []
    done: set[int] = set()
    try:
        for rec in records:
            start = times[rec.start]
            seq = rec.seq
            if seq in held or seq in done:
                # A retry is acknowledged, but only if the contracts would have taken it.
                for st in rec.signals.values():
                    if st.last_ts is not None:
                        times[st.last_ts]
                _scores(rec)
                continue
            known = signals_of.get(rec.asset)
            if known is None or not known.issuperset(rec.signals):
                return None
            if rec.scores is not UNSET:
                scores = _scores(rec)
                if scores is not None:
                    _add_scores(site, rec.asset, start, scores, ws)
            kept.append(rec)
            starts.append(start)
            done.add(seq)
        ws.chunks, ws.shadow = _pack(site, kept, starts, times)
    except ValidationError:
        return None
    ws.keys = [(r.seq, "window") for r in kept]
    n_duplicates = len(records) - len(done)
    return finish(store, edge.edge_id, batch, ws, held | done, [], n_duplicates, [], now, stats)


def _pack(
    site: str, kept: list[_Window], starts: list[float], times: _Times
) -> tuple[list[Chunk], list[ShadowRow]]:
    """Pack the records into chunks (one per asset and signal set); find the shadow.

    Chunks come out exactly as the store's ``to_chunks`` makes them of the per-record path's
    records: same groups in order of first appearance, the first record of an
    (asset, start) kept, records ordered by start (stable).
    """
    canon: dict[tuple[str, ...], str] = {}
    groups: dict[tuple[str, str], list[int]] = {}
    seen: set[tuple[str, float]] = set()
    for i, rec in enumerate(kept):
        asset = rec.asset
        key = (asset, starts[i])
        if key in seen:
            continue
        seen.add(key)
        order = tuple(rec.signals)
        names = canon.get(order)
        if names is None:
            names = canon[order] = ",".join(sorted(order))
        group = groups.get((asset, names))
        if group is None:
            groups[(asset, names)] = [i]
        else:
            group.append(i)
    chunks = []
    best: _Newest = {}
    for (asset, joined), idx in groups.items():
        st = [starts[i] for i in idx]
        if st != sorted(st):
            order_ = sorted(range(len(st)), key=st.__getitem__)  # stable, as to_chunks
            st = [st[j] for j in order_]
            idx = [idx[j] for j in order_]
        recs = [kept[i] for i in idx]
        names = joined.split(",") if joined else []
        blob = b"".join([
            pack_one(s.count, s.bad, s.uncertain, s.out_of_range,
                     NONE if (v := s.min) is None else v, NONE if (v := s.max) is None else v,
                     NONE if (v := s.mean) is None else v, NONE if (v := s.std) is None else v,
                     NONE if (v := s.last) is None else v,
                     NONE if (t := s.last_ts) is None else times[t])
            for r in recs for s in map(r.signals.__getitem__, names)
        ])  # fmt: skip
        chunks.append(make_chunk(site, asset, joined, st, [r.length_s for r in recs], blob))
        # The shadow needs only the newest record of each (asset, signal).
        newest = recs[-1]
        start = st[-1]
        for name, stat in newest.signals.items():
            prev = best.get((asset, name))
            if prev is None or start > prev[0]:
                lts = None if stat.last_ts is None else times[stat.last_ts]
                best[(asset, name)] = (start, newest.length_s, stat, lts)
    return chunks, _shadow_rows(site, best)


def ingest_body(
    store: Store,
    edge: EdgeRow,
    body: bytes,
    *,
    now: float | None = None,
    stats: IngestStats | None = None,
) -> UplinkAnswer:
    """Ingest a raw (decoded) uplink body: the fast path when it applies, else per record."""
    fast = parse_windows(body)
    if fast is not None:
        answer = ingest_windows(store, edge, *fast, now=now, stats=stats)
        if answer is not None:
            return answer
    return ingest(store, edge, parse_batch(body), now=now, stats=stats)
