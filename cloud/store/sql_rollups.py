"""Rollup tiers and retention, in portable SQL (the aggregation itself is in the service)."""

from __future__ import annotations

from typing import Any

from .base import WindowRow, WriteSet
from .sqlbase import WINDOW_COLS, SqlBase, marks

#: Length of the finest rollup bucket; ingest marks these buckets dirty.
DIRTY_BUCKET_S = 60.0


class RollupSql(SqlBase):
    """Rollup and retention methods of the Store interface."""

    def _mark_dirty(self, cur: Any, ws: WriteSet) -> None:
        keys = {(w.site, w.asset, w.start // DIRTY_BUCKET_S * DIRTY_BUCKET_S) for w in ws.windows}
        self._many(
            cur,
            "INSERT INTO rollup_dirty (site, asset, bucket) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            sorted(keys),
        )

    def dirty_buckets(self, limit: int = 10_000) -> list[tuple[str, str, float]]:
        """Return 1-minute buckets whose raw windows changed since they were rolled up."""
        rows = self._read(
            "SELECT site, asset, bucket FROM rollup_dirty ORDER BY site, asset, bucket LIMIT ?",
            (limit,),
        )
        return [(r[0], r[1], r[2]) for r in rows]

    def replace_rollups(
        self,
        tier: int,
        ranges: list[tuple[str, str, float, float]],
        rows: list[WindowRow],
        done: list[tuple[str, str, float]] = (),  # type: ignore[assignment]
    ) -> None:
        """Replace the tier's rows in ``ranges`` by ``rows``; forget the ``done`` dirty buckets."""
        with self._tx(self._conn()) as cur:
            self._many(
                cur,
                "DELETE FROM rollups WHERE tier = ? AND site = ? AND asset = ? "
                "AND start >= ? AND start < ?",
                [(tier, *r) for r in ranges],
            )
            self._many(
                cur,
                f"INSERT INTO rollups (tier, {WINDOW_COLS}) VALUES ({marks(16)})",
                [(tier, *w) for w in rows],
            )
            self._many(
                cur,
                "DELETE FROM rollup_dirty WHERE site = ? AND asset = ? AND bucket = ?",
                list(done),
            )

    def delete_before(self, tier: int, cutoff: float) -> int:
        """Delete rows of a tier (0 = raw windows) that start before ``cutoff``; return how many."""
        with self._tx(self._conn()) as cur:
            if tier == 0:
                cur = self._exec(cur, "DELETE FROM windows WHERE start < ?", (cutoff,))
            else:
                cur = self._exec(
                    cur, "DELETE FROM rollups WHERE tier = ? AND start < ?", (tier, cutoff)
                )
            return cur.rowcount
