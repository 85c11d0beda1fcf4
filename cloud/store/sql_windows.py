"""Window records, idempotency keys as seq ranges, and history reads, in portable SQL.

Raw windows are stored in chunks of records (``window_chunks``, see ``chunks``), rollup
tiers one row per record (``rollup_records``, statistics packed, see ``packing``); the
idempotency keys ``(edge_id, epoch, seq)`` are stored as runs of
consecutive seqs of one record type (``ingested_ranges``): a 1,000-record batch adds one key
row and one row per record instead of ~2,000 b-tree inserts per signal.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from .base import Chunk, WindowRecord, WindowRow, WriteSet
from .chunks import CHUNK_COLS, chunk_arrays, expand, keep_only, starts_of, to_chunks
from .packing import STATS, decode, pack_rows, to_rows
from .sqlbase import SqlBase, marks

#: Length of the finest rollup bucket; ingest marks ranges of these buckets pending.
BUCKET_S = 60.0
#: Pending buckets of one asset closer than this are merged into one range to recompute.
MERGE_GAP_S = 3600.0
RECORD_COLS = "site, asset, start, length_s, n, signals, stats"
#: Chunks read per page by history queries.
_PAGE = 256
#: Records holding a signal: ``signals`` is a comma-separated list of names.
_HAS_SIGNAL = "(',' || signals || ',') LIKE ? ESCAPE '!'"


def _like(signal: str) -> str:
    escaped = signal.replace("!", "!!").replace("%", "!%").replace("_", "!_")
    return f"%,{escaped},%"


def _where(
    conds: list[str], args: list[Any], bounds: tuple[tuple[str, float | None], ...],
    signal: str | None,
) -> tuple[list[str], list[Any]]:
    """Add the given bounds (None: unbounded) and "holds the signal" to a WHERE clause."""
    for cond, value in bounds:
        if value is not None:
            conds.append(cond)
            args.append(value)
    if signal is not None:
        conds.append(_HAS_SIGNAL)
        args.append(_like(signal))
    return conds, args


def seq_runs(keys: Iterable[tuple[int, str]]) -> list[tuple[int, int, str]]:
    """Return (lo, hi, kind) runs of consecutive seqs of one kind."""
    by_kind: dict[str, list[int]] = defaultdict(list)
    for seq, kind in keys:
        by_kind[kind].append(seq)
    runs = []
    for kind, seqs in by_kind.items():
        ordered = sorted(set(seqs))
        lo = ordered[0]
        if ordered[-1] - lo + 1 == len(ordered):  # the usual batch: one run
            runs.append((lo, ordered[-1], kind))
            continue
        prev = lo
        for seq in ordered[1:]:
            if seq != prev + 1:
                runs.append((lo, prev, kind))
                lo = seq
            prev = seq
        runs.append((lo, prev, kind))
    return sorted(runs)


def pending_ranges(chunks: Sequence[Chunk]) -> list[tuple[str, str, float, float]]:
    """Return (site, asset, first bucket, last bucket) ranges covering the chunks' buckets.

    Buckets of one asset closer than MERGE_GAP_S share a range (recomputing the few empty
    buckets between them is harmless).
    """
    spans: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for c in chunks:
        spans.setdefault((c.site, c.asset), []).append(
            (c.lo // BUCKET_S * BUCKET_S, c.hi // BUCKET_S * BUCKET_S)
        )
    out = []
    for key, ranges in spans.items():
        ranges.sort()
        lo, hi = ranges[0]
        for a, b in ranges[1:]:
            if a - hi > MERGE_GAP_S:
                out.append((*key, lo, hi))
                lo, hi = a, b
            else:
                hi = max(hi, b)
        out.append((*key, lo, hi))
    return sorted(out)


class WindowSql(SqlBase):
    """Ingest keys, window records and history reads of the Store interface."""

    # ingest --------------------------------------------------------------------------------
    def held_seqs(self, edge_id: str, epoch: str, seqs: list[int]) -> set[int]:
        """Return which of ``seqs`` are stored: one index range scan over the seq runs."""
        if not seqs:
            return set()
        wanted = set(seqs)
        lo, hi = min(wanted), max(wanted)
        rows = self._read(
            "SELECT lo, hi FROM ingested_ranges WHERE edge_id = ? AND epoch = ? AND hi >= ? "
            "AND lo <= ?",
            (edge_id, epoch, lo, hi),
        )
        held: set[int] = set()
        for a, b in rows:
            a, b = max(a, lo), min(b, hi)
            if b - a + 1 <= len(wanted):
                held.update(s for s in range(a, b + 1) if s in wanted)
            else:
                held.update(s for s in wanted if a <= s <= b)
        return held

    def _write_keys(self, cur: Any, ws: WriteSet) -> None:
        self._many(
            cur,
            "INSERT INTO ingested_ranges (edge_id, epoch, lo, hi, kind, received_at) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            [(ws.edge_id, ws.epoch, lo, hi, kind, ws.received_at) for lo, hi, kind in
             seq_runs(ws.keys)],
        )  # fmt: skip

    def _lock_windows(self, cur: Any, sites: list[str]) -> None:
        """Serialize writers of a site's windows (SQLite's write transaction already does)."""

    def _asset_in(self, assets: list[str]) -> tuple[str, Any]:
        """SQL condition ``asset in the list`` and its one parameter."""
        return "asset IN (SELECT value FROM json_each(?))", json.dumps(assets)

    def _new_only(self, cur: Any, chunks: list[Chunk]) -> list[Chunk]:
        """Drop records whose (site, asset, start) is stored already: the first stored wins.

        One indexed probe per site: chunks of the batch's assets that overlap its time span
        (none when, as usual, the batch is newer than what is stored).
        """
        spans: dict[str, tuple[set[str], float, float]] = {}
        for c in chunks:
            span = spans.get(c.site)
            if span is None:
                spans[c.site] = ({c.asset}, c.lo, c.hi)
            else:
                span[0].add(c.asset)
                spans[c.site] = (span[0], min(span[1], c.lo), max(span[2], c.hi))
        stored: dict[tuple[str, str], set[float]] = {}
        for site, (assets, lo, hi) in spans.items():
            cond, param = self._asset_in(sorted(assets))
            rows = self._exec(
                cur,
                f"SELECT asset, k, body FROM window_chunks WHERE site = ? AND {cond} "
                "AND hi >= ? AND lo <= ?",
                (site, param, lo, hi),
            ).fetchall()
            for asset, starts in starts_of(rows).items():
                stored[(site, asset)] = starts
        if not stored:
            return chunks
        out = []
        for c in chunks:
            old = stored.get((c.site, c.asset))
            kept: Chunk | None = c
            if old:
                starts = chunk_arrays(c.k, c.body)[0]
                kept = keep_only(c, ~np.isin(starts, np.fromiter(old, np.float64, len(old))))
            if kept is not None:
                out.append(kept)
        return out

    def _insert_chunks(self, cur: Any, chunks: Sequence[Chunk]) -> None:
        self._many(
            cur, f"INSERT INTO window_chunks ({CHUNK_COLS}) VALUES ({marks(8)})",
            chunks,  # type: ignore[arg-type]
        )  # fmt: skip

    def _write_records(self, cur: Any, ws: WriteSet) -> None:
        """Store the batch's raw windows as chunks; ``ws.chunks`` becomes what was stored."""
        chunks = list(ws.chunks)
        records = list(ws.records)
        if ws.windows:
            records += pack_rows(ws.windows)
        if records:
            chunks += to_chunks(records, set())
        if not chunks:
            return
        self._lock_windows(cur, sorted({c.site for c in chunks}))
        ws.chunks = chunks = self._new_only(cur, chunks)
        self._insert_chunks(cur, chunks)
        self._bulk(
            cur, "rollup_pending", "site, asset, lo, hi, marked_at",
            ("text", "text", "float8", "float8", "float8"),
            [(*r, ws.received_at) for r in pending_ranges(chunks)],
        )  # fmt: skip

    # reads ---------------------------------------------------------------------------------
    def window_records(
        self, tier: int, site: str, asset: str, lo: float, hi: float
    ) -> list[tuple[float, float, str, bytes]]:
        """Return (start, length_s, signals, stats) of a tier's records in ``[lo, hi)``."""
        if tier == 0:
            return expand(self._chunks(site, asset, lo, hi), lo, hi)
        return self._read(
            "SELECT start, length_s, signals, stats FROM rollup_records WHERE tier = ? "
            "AND site = ? AND asset = ? AND start >= ? AND start < ? ORDER BY start",
            (tier, site, asset, lo, hi),
        )

    def _chunks(
        self, site: str, asset: str, lo: float, hi: float
    ) -> list[tuple[int, int, str, bytes]]:
        """Return (id, k, signals, body) of the chunks that may hold records in ``[lo, hi)``."""
        conds, args = _where(["site = ?", "asset = ?"], [site, asset],
                             (("hi >= ?", lo), ("lo < ?", hi)), None)  # fmt: skip
        return self._read(
            f"SELECT id, k, signals, body FROM window_chunks WHERE {' AND '.join(conds)} "
            "ORDER BY id",
            args,
        )

    def windows(
        self,
        site: str,
        asset: str,
        signal: str | None,
        start: float | None,
        end: float | None,
        limit: int,
        tier: int = 0,
    ) -> list[WindowRow]:
        """Return rows of a tier (0 = raw windows) in ``[start, end)``, by start and signal."""
        if tier == 0:
            return self._raw_windows(site, asset, signal, start, end, limit)
        # Only records holding the signal: each gives exactly one row, so LIMIT is exact.
        conds, args = _where(["tier = ?", "site = ?", "asset = ?"], [tier, site, asset],
                             (("start >= ?", start), ("start < ?", end)), signal)  # fmt: skip
        out: list[WindowRow] = []
        after: float | None = None
        while len(out) < limit:
            page_conds = conds if after is None else [*conds, "start > ?"]
            page_args = args if after is None else [*args, after]
            page = max(1, limit - len(out))
            rows = self._read(
                f"SELECT start, length_s, signals, stats FROM rollup_records "
                f"WHERE {' AND '.join(page_conds)} ORDER BY start LIMIT ?",
                (*page_args, page),
            )
            if not rows:
                break
            out += self._unpack(site, asset, rows, signal)
            if len(rows) < page:
                break
            after = rows[-1][0]
        return out[:limit]

    def _raw_windows(
        self,
        site: str,
        asset: str,
        signal: str | None,
        start: float | None,
        end: float | None,
        limit: int,
    ) -> list[WindowRow]:
        """Raw rows from chunks, read in pages by first start until ``limit`` rows are certain.

        After a page whose last chunk starts at ``lo``, no later chunk holds a record before
        ``lo``: once the records before it give ``limit`` rows, the answer is complete.
        """
        conds, args = _where(["site = ?", "asset = ?"], [site, asset],
                             (("hi >= ?", start), ("lo < ?", end)), signal)  # fmt: skip
        chunks: list[tuple[int, int, str, bytes]] = []
        after: tuple[float, int] | None = None
        page, fetched = _PAGE, 0
        while True:
            page_conds = conds if after is None else [*conds, "(lo > ? OR (lo = ? AND id > ?))"]
            page_args = args if after is None else [*args, after[0], after[0], after[1]]
            rows = self._read(
                f"SELECT id, k, signals, body, lo, n FROM window_chunks "
                f"WHERE {' AND '.join(page_conds)} ORDER BY lo, id LIMIT ?",
                (*page_args, page),
            )
            chunks += [r[:4] for r in rows]
            if len(rows) < page:
                break
            after = (rows[-1][4], rows[-1][0])
            fetched += sum(r[5] for r in rows)  # signal windows: at least the rows they give
            bound = after[0] if end is None else min(end, after[0])
            if fetched >= limit and len(
                self._unpack(site, asset, expand(chunks, start, bound), signal)
            ) >= limit:
                break
            page *= 2  # pages grow, so the checks above cost O(n log n) in all
        return self._unpack(site, asset, expand(chunks, start, end), signal)[:limit]

    @staticmethod
    def _unpack(
        site: str, asset: str, rows: Sequence[tuple[float, float, str, bytes]], signal: str | None
    ) -> list[WindowRow]:
        if signal is None:
            return to_rows(site, asset, decode(rows))
        # Cut the one signal's struct out of each blob instead of decoding all of them.
        size = STATS.itemsize
        position: dict[str, int] = {}
        picked = []
        for start, length_s, names, stats in rows:
            i = position.get(names)
            if i is None:
                split = names.split(",")
                # SQLite's LIKE ignores case: a near miss is skipped here.
                i = position[names] = split.index(signal) if signal in split else -1
            if i < 0:
                continue
            picked.append((start, length_s, signal, bytes(stats)[i * size : (i + 1) * size]))
        return to_rows(site, asset, decode(picked))

    def ingested_count(self, kind: str | None = None) -> int:
        """Return how many (edge_id, epoch, seq) keys are stored (of one record type)."""
        where, params = ("WHERE kind = ?", (kind,)) if kind else ("", ())
        rows = self._read(
            f"SELECT edge_id, epoch, lo, hi FROM ingested_ranges {where} "
            "ORDER BY edge_id, epoch, lo",
            params,
        )
        # Runs written by concurrent retries of one batch may overlap: count the union.
        total, key, reach = 0, None, 0
        for edge_id, epoch, lo, hi in rows:
            if (edge_id, epoch) != key:
                key, reach = (edge_id, epoch), 0
            if hi > reach:
                total += hi - max(lo, reach + 1) + 1
                reach = hi
        return total


def migrate_to_packed(store: WindowSql, cur: Any) -> None:
    """Migration 5: copy per-signal windows, rollups, keys and dirty buckets to the new tables."""
    ins = f"INSERT INTO window_records ({RECORD_COLS}) VALUES ({marks(7)})"
    cols = ("site, asset, signal, start, length_s, count, bad, uncertain, out_of_range, "
            "min, max, mean, std, last, last_ts")  # fmt: skip
    # One asset at a time keeps memory bounded by the largest asset's history.
    for site, asset in store._exec(cur, "SELECT DISTINCT site, asset FROM windows").fetchall():
        rows = store._exec(
            cur, f"SELECT {cols} FROM windows WHERE site = ? AND asset = ?", (site, asset)
        ).fetchall()
        store._many(cur, ins, pack_rows(WindowRow(*r) for r in rows))
    ins_r = f"INSERT INTO rollup_records (tier, {RECORD_COLS}) VALUES ({marks(8)})"
    keys = store._exec(cur, "SELECT DISTINCT tier, site, asset FROM rollups").fetchall()
    for tier, site, asset in keys:
        rows = store._exec(
            cur,
            f"SELECT {cols} FROM rollups WHERE tier = ? AND site = ? AND asset = ?",
            (tier, site, asset),
        ).fetchall()
        store._many(cur, ins_r, [(tier, *p) for p in pack_rows(WindowRow(*r) for r in rows)])
    by_epoch: dict[tuple[str, str], list[tuple[int, str]]] = defaultdict(list)
    received: dict[tuple[str, str], float] = {}
    for edge_id, epoch, seq, kind, at in store._exec(
        cur, "SELECT edge_id, epoch, seq, kind, received_at FROM ingested"
    ).fetchall():
        by_epoch[(edge_id, epoch)].append((seq, kind))
        received[(edge_id, epoch)] = min(at, received.get((edge_id, epoch), at))
    store._many(
        cur,
        "INSERT INTO ingested_ranges (edge_id, epoch, lo, hi, kind, received_at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        [(e, ep, lo, hi, kind, received[(e, ep)]) for (e, ep), keys_ in by_epoch.items()
         for lo, hi, kind in seq_runs(keys_)],
    )  # fmt: skip
    store._exec(
        cur,
        "INSERT INTO rollup_pending (site, asset, lo, hi, marked_at) "
        "SELECT site, asset, bucket, bucket, 0 FROM rollup_dirty",
    )


def migrate_to_chunks(store: WindowSql, cur: Any) -> None:
    """Migration 7: copy the one-row-per-record raw windows into chunks, asset by asset."""
    ins = f"INSERT INTO window_chunks ({CHUNK_COLS}) VALUES ({marks(8)})"
    pairs = store._exec(cur, "SELECT DISTINCT site, asset FROM window_records").fetchall()
    for site, asset in pairs:
        rows = store._exec(
            cur,
            f"SELECT {RECORD_COLS} FROM window_records WHERE site = ? AND asset = ? "
            "ORDER BY start",
            (site, asset),
        ).fetchall()
        records = [WindowRecord(*r[:6], bytes(r[6])) for r in rows]
        store._many(cur, ins, to_chunks(records, set()))  # type: ignore[arg-type]
