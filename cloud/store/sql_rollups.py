"""Rollup tiers and retention, in portable SQL (the aggregation itself is in the service).

Rollup rows are one row per (tier, site, asset, bucket start), statistics packed; raw windows
are chunks (``chunks``), so retention of the raw tier cuts the chunks that straddle the cutoff.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .base import WindowRecord
from .chunks import chunk_arrays
from .sql_windows import RECORD_COLS
from .sqlbase import SqlBase, marks


class RollupSql(SqlBase):
    """Rollup and retention methods of the Store interface."""

    def rollup_pending(self, limit: int = 10_000) -> list[tuple[str, str, float, float, float]]:
        """Return (site, asset, first bucket, last bucket, marked_at) ranges to recompute.

        The oldest marks first (by marked_at, the index), then by asset and range.
        """
        return [
            (r[0], r[1], r[2], r[3], r[4])
            for r in self._read(
                "SELECT site, asset, lo, hi, marked_at FROM rollup_pending "
                "ORDER BY marked_at, site, asset, lo LIMIT ?",
                (limit,),
            )
        ]

    def replace_rollups(
        self,
        tier: int,
        records: Sequence[WindowRecord],
        done: Sequence[tuple[str, str, float, float, float]] = (),
    ) -> None:
        """Upsert a tier's records (a recomputed bucket replaces its row); forget ``done``.

        Buckets without source rows are left alone: their raw windows may be gone by
        retention while the rollup is kept longer.
        """
        with self._tx(self._conn()) as cur:
            self._many(
                cur,
                f"INSERT INTO rollup_records (tier, {RECORD_COLS}) VALUES ({marks(8)}) "
                "ON CONFLICT (tier, site, asset, start) DO UPDATE SET "
                "length_s = excluded.length_s, n = excluded.n, signals = excluded.signals, "
                "stats = excluded.stats",
                [(tier, *r) for r in records],
            )
            self._many(
                cur,
                "DELETE FROM rollup_pending WHERE marked_at = ? AND site = ? AND asset = ? "
                "AND lo = ? AND hi = ?",
                [(d[4], d[0], d[1], d[2], d[3]) for d in done],
            )

    def delete_before(self, tier: int, cutoff: float) -> int:
        """Delete rows of a tier (0 = raw) starting before ``cutoff``; return signal windows."""
        with self._tx(self._conn()) as cur:
            if tier == 0:
                return self._delete_raw_before(cur, cutoff)
            n = self._exec(
                cur,
                "SELECT COALESCE(SUM(n), 0) FROM rollup_records WHERE tier = ? AND start < ?",
                (tier, cutoff),
            ).fetchone()[0]
            self._exec(cur, "DELETE FROM rollup_records WHERE tier = ? AND start < ?",
                       (tier, cutoff))  # fmt: skip
            return int(n)

    def _delete_raw_before(self, cur: Any, cutoff: float) -> int:
        """Drop chunks wholly before ``cutoff``; cut the older records out of straddling ones."""
        n = int(self._exec(
            cur, "SELECT COALESCE(SUM(n), 0) FROM window_chunks WHERE lo < ? AND hi < ?",
            (cutoff, cutoff),
        ).fetchone()[0])  # fmt: skip
        self._exec(cur, "DELETE FROM window_chunks WHERE lo < ? AND hi < ?", (cutoff, cutoff))
        straddling = self._exec(
            cur, "SELECT id, k, n, body FROM window_chunks WHERE lo < ? AND hi >= ?",
            (cutoff, cutoff),
        ).fetchall()  # fmt: skip
        for cid, k, total, body in straddling:
            starts, lengths, stats = chunk_arrays(k, body)
            keep = int(np.searchsorted(starts, cutoff, side="left"))  # starts are ordered
            width = len(stats) // k
            left = k - keep
            self._exec(
                cur, "UPDATE window_chunks SET lo = ?, k = ?, n = ?, body = ? WHERE id = ?",
                (float(starts[keep]), left, total // k * left,
                 starts[keep:].tobytes() + lengths[keep:].tobytes()
                 + bytes(stats[keep * width :]), cid),
            )  # fmt: skip
            n += total // k * keep
        return n

    def _count_logical(self, table: str) -> int | None:
        """Counts in the units the tables had before packing (one per signal window / key)."""
        if table == "windows":
            return int(self._read("SELECT COALESCE(SUM(n), 0) FROM window_chunks")[0][0])
        if table == "rollups":
            return int(self._read("SELECT COALESCE(SUM(n), 0) FROM rollup_records")[0][0])
        if table == "rollup_dirty":
            return int(self._read("SELECT COUNT(*) FROM rollup_pending")[0][0])
        if table == "ingested":
            return self.ingested_count()  # type: ignore[attr-defined]
        return None
