"""Window records, idempotency keys as seq ranges, and history reads, in portable SQL.

Raw windows are stored one row per record (``window_records``, statistics packed, see
``packing``); the idempotency keys ``(edge_id, epoch, seq)`` are stored as runs of
consecutive seqs of one record type (``ingested_ranges``): a 1,000-record batch adds one key
row and one row per record instead of ~2,000 b-tree inserts per signal.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from .base import WindowRecord, WindowRow, WriteSet
from .packing import STATS, decode, pack_rows, to_rows
from .sqlbase import SqlBase, marks

#: Length of the finest rollup bucket; ingest marks ranges of these buckets pending.
BUCKET_S = 60.0
#: Pending buckets of one asset closer than this are merged into one range to recompute.
MERGE_GAP_S = 3600.0
RECORD_COLS = "site, asset, start, length_s, n, signals, stats"


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


def pending_ranges(records: Sequence[WindowRecord]) -> list[tuple[str, str, float, float]]:
    """Return (site, asset, first bucket, last bucket) ranges covering the records' buckets.

    Buckets of one asset closer than MERGE_GAP_S share a range (recomputing the few empty
    buckets between them is harmless). Vectorized: a batch holds thousands of records.
    """
    if not records:
        return []
    index: dict[tuple[str, str], int] = {}
    ids = np.fromiter((index.setdefault((r.site, r.asset), len(index)) for r in records),
                      np.int64, len(records))  # fmt: skip
    starts = np.fromiter((r.start for r in records), np.float64, len(records))
    bucket = np.floor_divide(starts, BUCKET_S) * BUCKET_S
    order = np.lexsort((bucket, ids))
    ids, bucket = ids[order], bucket[order]
    new = np.empty(len(ids), dtype=bool)
    new[0] = True
    new[1:] = (ids[1:] != ids[:-1]) | (bucket[1:] - bucket[:-1] > MERGE_GAP_S)
    first = np.flatnonzero(new)
    last = np.append(first[1:] - 1, len(ids) - 1)
    keys = list(index)
    out = [
        (*keys[i], lo, hi)
        for i, lo, hi in zip(
            ids[first].tolist(), bucket[first].tolist(), bucket[last].tolist(), strict=True
        )
    ]
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

    def _insert_records(self, cur: Any, records: Sequence[WindowRecord]) -> None:
        """Insert raw window records; the first stored record of (site, asset, start) wins."""
        self._many(
            cur,
            f"INSERT INTO window_records ({RECORD_COLS}) VALUES ({marks(7)}) "
            "ON CONFLICT DO NOTHING",
            records,  # type: ignore[arg-type]
        )

    def _write_records(self, cur: Any, ws: WriteSet) -> None:
        records = list(ws.records)
        if ws.windows:
            records += pack_rows(ws.windows)
        if not records:
            return
        self._insert_records(cur, records)
        self._bulk(
            cur, "rollup_pending", "site, asset, lo, hi, marked_at",
            ("text", "text", "float8", "float8", "float8"),
            [(*r, ws.received_at) for r in pending_ranges(records)],
        )  # fmt: skip

    # reads ---------------------------------------------------------------------------------
    def window_records(
        self, tier: int, site: str, asset: str, lo: float, hi: float
    ) -> list[tuple[float, float, str, bytes]]:
        """Return (start, length_s, signals, stats) of a tier's records in ``[lo, hi)``."""
        table, cond, params = self._tier(tier)
        return self._read(
            f"SELECT start, length_s, signals, stats FROM {table} WHERE {cond}site = ? "
            "AND asset = ? AND start >= ? AND start < ? ORDER BY start",
            (*params, site, asset, lo, hi),
        )

    @staticmethod
    def _tier(tier: int) -> tuple[str, str, tuple[Any, ...]]:
        if tier:
            return "rollup_records", "tier = ? AND ", (tier,)
        return "window_records", "", ()

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
        table, cond, params = self._tier(tier)
        conds, args = [f"{cond}site = ?", "asset = ?"], [*params, site, asset]
        for c, value in (("start >= ?", start), ("start < ?", end)):
            if value is not None:
                conds.append(c)
                args.append(value)
        if signal is not None:
            # Only records holding the signal: each gives exactly one row, so LIMIT is exact.
            conds.append("(',' || signals || ',') LIKE ? ESCAPE '!'")
            escaped = signal.replace("!", "!!").replace("%", "!%").replace("_", "!_")
            args.append(f"%,{escaped},%")
        out: list[WindowRow] = []
        after: float | None = None
        while len(out) < limit:
            page_conds = conds if after is None else [*conds, "start > ?"]
            page_args = args if after is None else [*args, after]
            page = max(1, limit - len(out))
            rows = self._read(
                f"SELECT start, length_s, signals, stats FROM {table} "
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
