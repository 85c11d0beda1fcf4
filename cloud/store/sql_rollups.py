"""Rollup tiers and retention, in portable SQL (the aggregation itself is in the service)."""

from __future__ import annotations

from typing import Any

from .base import WindowRow, WriteSet
from .sqlbase import WINDOW_COLS, SqlBase, marks

#: Length of the finest rollup bucket; ingest marks these buckets dirty.
DIRTY_BUCKET_S = 60.0


class RollupSql(SqlBase):
    """Rollup and retention methods of the Store interface."""

    #: SQL of ``floor(start / {t}) * {t}`` in this dialect (times are positive).
    floor_sql = "FLOOR(start / {t}) * {t}"

    def rollup_sums(
        self, source_tier: int, tier: int, site: str, asset: str, lo: float, hi: float
    ) -> list[tuple[Any, ...]]:
        """Aggregate a source tier (0 = raw) into ``tier`` buckets in SQL.

        Rows: (signal, bucket, count, bad, uncertain, out_of_range, min, max, n, Σn·mean,
        Σn·(std²+mean²), last, last_ts) with n the good samples; the caller takes the root.
        """
        src = "rollups" if source_tier else "windows"
        cond = "tier = ? AND " if source_tier else ""
        good = "count > bad AND mean IS NOT NULL"
        floor = self.floor_sql.format(t=int(tier))
        sql = (
            f"WITH w AS (SELECT signal, {floor} AS b, start, count, bad, uncertain, out_of_range,"
            f" min, max, mean, std, last, last_ts FROM {src}"
            f" WHERE {cond}site = ? AND asset = ? AND start >= ? AND start < ?) "
            "SELECT a.signal, a.b, a.c, a.bad, a.unc, a.oor, a.mn, a.mx, a.n, a.s1, a.s2,"
            " l.last, l.last_ts FROM ("
            "SELECT signal, b, SUM(count) AS c, SUM(bad) AS bad, SUM(uncertain) AS unc,"
            " SUM(out_of_range) AS oor, MIN(min) AS mn, MAX(max) AS mx,"
            f" SUM(CASE WHEN {good} THEN count - bad ELSE 0 END) AS n,"
            f" SUM(CASE WHEN {good} THEN (count - bad) * mean ELSE 0 END) AS s1,"
            f" SUM(CASE WHEN {good} THEN (count - bad) * (COALESCE(std, 0) * COALESCE(std, 0)"
            " + mean * mean) ELSE 0 END) AS s2 FROM w GROUP BY signal, b) a LEFT JOIN ("
            "SELECT signal, b, last, last_ts FROM (SELECT signal, b, last, last_ts, ROW_NUMBER()"
            " OVER (PARTITION BY signal, b ORDER BY start DESC) AS rn FROM w"
            " WHERE last IS NOT NULL) z WHERE rn = 1) l ON a.signal = l.signal AND a.b = l.b"
            " ORDER BY a.b, a.signal"
        )
        params = ([source_tier] if source_tier else []) + [site, asset, lo, hi]
        return self._read(sql, params)

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
