"""Reads of the twin registry, shadow, history and events, in portable SQL."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .base import AssetRow, AssetTypeRow, EventRow, ScoresRow, ShadowRow, SiteRow
from .sqlbase import EVENT_COLS, SHADOW_COLS, SqlBase

TABLES = frozenset(
    {"edges", "ingested", "sites", "asset_types", "assets", "windows", "shadow", "scores",
     "events", "heartbeats", "users", "grants", "user_tokens", "alarms", "asset_state", "rollups",
     "rollup_dirty", "window_chunks", "rollup_records", "ingested_ranges", "rollup_pending"}
)  # fmt: skip


class ReadSql(SqlBase):
    """Read methods of the Store interface."""

    def _sites(self, where: str, params: Sequence[Any]) -> list[SiteRow]:
        rows = self._read(
            "SELECT site, name, enterprise, edge_id, manifest_hash, manifest_epoch, manifest_seq, "
            f"updated_at FROM sites {where} ORDER BY site",
            params,
        )
        return [SiteRow(*r) for r in rows]

    def site(self, site: str) -> SiteRow | None:
        """Return one site or None."""
        rows = self._sites("WHERE site = ?", (site,))
        return rows[0] if rows else None

    def sites(self) -> list[SiteRow]:
        """Return every site."""
        return self._sites("", ())

    def assets(self, site: str | None = None) -> list[AssetRow]:
        """Return the active assets, by site and id."""
        where, params = ("AND site = ?", (site,)) if site else ("", ())
        rows = self._read(
            "SELECT site, asset, type, name, area, line, attributes, active FROM assets "
            f"WHERE active = 1 {where} ORDER BY site, asset",
            params,
        )
        return [AssetRow(*r[:7], active=bool(r[7])) for r in rows]

    def asset_types(self, site: str) -> list[AssetTypeRow]:
        """Return a site's asset types."""
        rows = self._read(
            "SELECT site, name, body FROM asset_types WHERE site = ? ORDER BY name", (site,)
        )
        return [AssetTypeRow(*r) for r in rows]

    def shadow(self, site: str | None = None, asset: str | None = None) -> list[ShadowRow]:
        """Return the latest state of signals, by site, asset and signal."""
        conds, params = [], []
        if site is not None:
            conds.append("site = ?")
            params.append(site)
        if asset is not None:
            conds.append("asset = ?")
            params.append(asset)
        where = f"WHERE {' AND '.join(conds)}" if conds else ""
        rows = self._read(
            f"SELECT {SHADOW_COLS} FROM shadow {where} ORDER BY site, asset, signal", params
        )
        return [ShadowRow(*r) for r in rows]

    def latest_scores(self, site: str, asset: str) -> ScoresRow | None:
        """Return the newest scores of an asset."""
        rows = self._read(
            "SELECT site, asset, start, body FROM scores WHERE site = ? AND asset = ? "
            "ORDER BY start DESC LIMIT 1",
            (site, asset),
        )
        return ScoresRow(*rows[0]) if rows else None

    def events(
        self,
        site: str | None = None,
        asset: str | None = None,
        limit: int = 100,
        kind: str | None = None,
        before: float | None = None,
    ) -> list[EventRow]:
        """Return events, newest first (``before``: only events older than that time)."""
        conds, params = [], []
        for cond, value in (("site = ?", site), ("asset = ?", asset), ("kind = ?", kind),
                            ("ts < ?", before)):  # fmt: skip
            if value is not None:
                conds.append(cond)
                params.append(value)
        where = f"WHERE {' AND '.join(conds)}" if conds else ""
        rows = self._read(
            f"SELECT {EVENT_COLS} FROM events {where} ORDER BY ts DESC, seq DESC LIMIT ?",
            (*params, limit),
        )
        return [EventRow(*r) for r in rows]

    def count(self, table: str) -> int:
        """Return the row count of a known table."""
        if table not in TABLES:
            raise ValueError(f"unknown table {table!r}; known: {', '.join(sorted(TABLES))}")
        logical = self._count_logical(table)  # type: ignore[attr-defined]
        if logical is not None:
            return logical
        return self._read(f"SELECT COUNT(*) FROM {table}")[0][0]
