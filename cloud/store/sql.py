"""The store in portable SQL: both backends run these statements; they differ in connections.

Each thread gets its own connection (FastAPI runs sync work in a thread pool); a backend
supplies ``_connect``, ``_tx`` and its placeholder style.
"""

from __future__ import annotations

import contextlib
import threading
import time
from abc import abstractmethod
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import astuple
from typing import Any

from . import migrations
from .base import (
    AssetRow,
    AssetTypeRow,
    EdgeRow,
    EventRow,
    ScoresRow,
    ShadowRow,
    SiteRow,
    Store,
    WindowRow,
    WriteSet,
)

_TABLES = frozenset(
    {"edges", "ingested", "sites", "asset_types", "assets", "windows", "shadow", "scores",
     "events", "heartbeats"}
)  # fmt: skip

_WINDOW_COLS = (
    "site, asset, signal, start, length_s, count, bad, uncertain, out_of_range, "
    "min, max, mean, std, last, last_ts"
)
_SHADOW_COLS = (
    "site, asset, signal, start, length_s, value, ts, count, bad, uncertain, out_of_range"
)
_EVENT_COLS = (
    "edge_id, epoch, seq, site, kind, ts, asset, signal, severity, message, alarm_id, body"
)


def _marks(n: int) -> str:
    return ", ".join("?" * n)


class SqlStore(Store):
    """Store over a DB-API connection per thread; SQL written with ``?`` placeholders."""

    types: dict[str, str]
    placeholder = "?"

    def __init__(self, url: str) -> None:
        self.url = url
        self._local = threading.local()
        self._all: list[Any] = []
        self._lock = threading.Lock()
        self._sql_cache: dict[str, str] = {}

    # backend hooks ------------------------------------------------------------------------
    @abstractmethod
    def _connect(self) -> Any:
        """Open a new connection."""

    @abstractmethod
    def _tx(self, conn: Any) -> AbstractContextManager[Any]:
        """Return a context manager running one write transaction; yields a cursor."""

    def _migration_lock(self, cur: Any) -> None:
        """Serialize concurrent migrators (PostgreSQL replicas); SQLite's write lock suffices."""

    # plumbing ------------------------------------------------------------------------------
    def _conn(self) -> Any:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    def _sql(self, sql: str) -> str:
        if self.placeholder == "?":
            return sql
        out = self._sql_cache.get(sql)
        if out is None:
            out = self._sql_cache[sql] = sql.replace("?", self.placeholder)
        return out

    def _exec(self, cur: Any, sql: str, params: Sequence[Any] = ()) -> Any:
        return cur.execute(self._sql(sql), params)

    def _many(self, cur: Any, sql: str, rows: list[tuple[Any, ...]]) -> None:
        if rows:
            cur.executemany(self._sql(sql), rows)

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        # Both drivers run in autocommit mode, so a read is one statement-level snapshot.
        return list(self._conn().execute(self._sql(sql), params).fetchall())

    def close(self) -> None:
        """Close every connection any thread opened."""
        with self._lock:
            conns, self._all = self._all, []
        for conn in conns:
            with contextlib.suppress(Exception):  # closing is best effort at shutdown
                conn.close()
        self._local = threading.local()

    def ping(self) -> bool:
        """Return True when the database answers ``SELECT 1``."""
        try:
            return self._read("SELECT 1")[0][0] == 1
        except Exception:
            return False

    # migrations ----------------------------------------------------------------------------
    def migrate(self) -> int:
        """Apply every migration newer than the database, each in its own transaction."""
        conn = self._conn()
        with self._tx(conn) as cur:
            self._migration_lock(cur)
            self._exec(
                cur,
                "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
                f"name TEXT NOT NULL, applied_at {self.types['real']} NOT NULL)",
            )
            row = self._exec(cur, "SELECT MAX(version) FROM schema_migrations").fetchone()
            current = row[0] or 0
            for version, name, _ in migrations.MIGRATIONS:
                if version <= current:
                    continue
                for stmt in migrations.statements(version, self.types):
                    self._exec(cur, stmt)
                self._exec(
                    cur,
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                    (version, name, time.time()),
                )
        return self.schema_version()

    def schema_version(self) -> int:
        """Return the newest applied migration, 0 for an empty database."""
        try:
            return self._read("SELECT MAX(version) FROM schema_migrations")[0][0] or 0
        except Exception:
            return 0

    # edges ---------------------------------------------------------------------------------
    def add_edge(self, edge: EdgeRow) -> None:
        """Insert an edge; Conflict when its id is taken."""
        from ..errors import Conflict

        with self._tx(self._conn()) as cur:
            if self._exec(cur, "SELECT 1 FROM edges WHERE edge_id = ?", (edge.edge_id,)).fetchone():
                raise Conflict(f"edge {edge.edge_id!r} exists (fix: rotate its token instead)")
            self._exec(
                cur,
                "INSERT INTO edges (edge_id, site, token_hash, created_at, revoked_at, last_seen) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                astuple(edge),
            )

    def _edges(self, where: str, params: Sequence[Any]) -> list[EdgeRow]:
        rows = self._read(
            "SELECT edge_id, site, token_hash, created_at, revoked_at, last_seen FROM edges "
            f"{where} ORDER BY edge_id",
            params,
        )
        return [EdgeRow(*r) for r in rows]

    def edge(self, edge_id: str) -> EdgeRow | None:
        """Return one edge or None."""
        rows = self._edges("WHERE edge_id = ?", (edge_id,))
        return rows[0] if rows else None

    def edge_by_token_hash(self, token_hash: str) -> EdgeRow | None:
        """Return the edge whose token hashes to ``token_hash``."""
        rows = self._edges("WHERE token_hash = ?", (token_hash,))
        return rows[0] if rows else None

    def edges(self) -> list[EdgeRow]:
        """Return every edge."""
        return self._edges("", ())

    def update_edge(
        self,
        edge_id: str,
        *,
        token_hash: str | None = None,
        revoked_at: float | None = None,
        last_seen: float | None = None,
        site: str | None = None,
    ) -> bool:
        """Set the given edge fields; False when the edge does not exist."""
        fields = {"token_hash": token_hash, "revoked_at": revoked_at, "last_seen": last_seen}
        fields["site"] = site
        sets = {k: v for k, v in fields.items() if v is not None}
        if not sets:
            return self.edge(edge_id) is not None
        assignments = ", ".join(f"{k} = ?" for k in sets)
        with self._tx(self._conn()) as cur:
            cur = self._exec(
                cur, f"UPDATE edges SET {assignments} WHERE edge_id = ?", (*sets.values(), edge_id)
            )
            return cur.rowcount > 0

    # ingest --------------------------------------------------------------------------------
    def held_seqs(self, edge_id: str, epoch: str, seqs: list[int]) -> set[int]:
        """Return which of ``seqs`` are stored, by one range scan of the key table."""
        if not seqs:
            return set()
        wanted = set(seqs)
        rows = self._read(
            "SELECT seq FROM ingested WHERE edge_id = ? AND epoch = ? AND seq BETWEEN ? AND ?",
            (edge_id, epoch, min(wanted), max(wanted)),
        )
        return {r[0] for r in rows} & wanted

    def write(self, ws: WriteSet) -> None:
        """Write one batch's changes in one transaction; every insert is keyed and idempotent."""
        with self._tx(self._conn()) as cur:
            self._many(
                cur,
                "INSERT INTO ingested (edge_id, epoch, seq, kind, received_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                [(ws.edge_id, ws.epoch, seq, kind, ws.received_at) for seq, kind in ws.keys],
            )
            if ws.site is not None:
                self._write_manifest(cur, ws)
            self._many(
                cur,
                f"INSERT INTO windows ({_WINDOW_COLS}) VALUES ({_marks(15)}) "
                "ON CONFLICT DO NOTHING",
                [astuple(w) for w in ws.windows],
            )
            # Only a newer window moves the shadow: batches arrive in any order.
            self._many(
                cur,
                f"INSERT INTO shadow ({_SHADOW_COLS}) VALUES ({_marks(11)}) "
                "ON CONFLICT (site, asset, signal) DO UPDATE SET start = excluded.start, "
                "length_s = excluded.length_s, value = excluded.value, ts = excluded.ts, "
                "count = excluded.count, bad = excluded.bad, uncertain = excluded.uncertain, "
                "out_of_range = excluded.out_of_range WHERE excluded.start > shadow.start",
                [astuple(s) for s in ws.shadow],
            )
            self._many(
                cur,
                "INSERT INTO scores (site, asset, start, body) VALUES (?, ?, ?, ?) "
                "ON CONFLICT DO NOTHING",
                [astuple(s) for s in ws.scores],
            )
            self._many(
                cur,
                f"INSERT INTO events ({_EVENT_COLS}) VALUES ({_marks(12)}) ON CONFLICT DO NOTHING",
                [astuple(e) for e in ws.events],
            )
            self._many(
                cur,
                "INSERT INTO heartbeats (edge_id, epoch, seq, ts, body) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT DO NOTHING",
                [astuple(h) for h in ws.heartbeats],
            )
            self._exec(
                cur,
                "UPDATE edges SET last_seen = ? WHERE edge_id = ?",
                (ws.received_at, ws.edge_id),
            )

    def _write_manifest(self, cur: Any, ws: WriteSet) -> None:
        s = ws.site
        assert s is not None
        self._exec(
            cur,
            "INSERT INTO sites (site, name, enterprise, edge_id, manifest_hash, manifest_epoch, "
            "manifest_seq, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (site) DO UPDATE "
            "SET name = excluded.name, enterprise = excluded.enterprise, "
            "edge_id = excluded.edge_id, manifest_hash = excluded.manifest_hash, "
            "manifest_epoch = excluded.manifest_epoch, manifest_seq = excluded.manifest_seq, "
            "updated_at = excluded.updated_at",
            astuple(s),
        )
        # Assets left out of a new manifest are retired, not deleted: their history stays.
        self._exec(cur, "UPDATE assets SET active = 0 WHERE site = ?", (s.site,))
        self._many(
            cur,
            "INSERT INTO assets (site, asset, type, name, area, line, attributes, active) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, 1) ON CONFLICT (site, asset) DO UPDATE SET "
            "type = excluded.type, name = excluded.name, area = excluded.area, "
            "line = excluded.line, attributes = excluded.attributes, active = 1",
            [astuple(a)[:7] for a in ws.assets],
        )
        self._many(
            cur,
            "INSERT INTO asset_types (site, name, body) VALUES (?, ?, ?) "
            "ON CONFLICT (site, name) DO UPDATE SET body = excluded.body",
            [astuple(t) for t in ws.asset_types],
        )
        self._exec(cur, "UPDATE edges SET site = ? WHERE edge_id = ?", (s.site, ws.edge_id))

    # reads ---------------------------------------------------------------------------------
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
            f"SELECT {_SHADOW_COLS} FROM shadow {where} ORDER BY site, asset, signal", params
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

    def windows(
        self,
        site: str,
        asset: str,
        signal: str | None,
        start: float | None,
        end: float | None,
        limit: int,
    ) -> list[WindowRow]:
        """Return window rows in ``[start, end)``, oldest first, at most ``limit``."""
        conds, params = ["site = ?", "asset = ?"], [site, asset]
        for cond, value in (("signal = ?", signal), ("start >= ?", start), ("start < ?", end)):
            if value is not None:
                conds.append(cond)
                params.append(value)
        rows = self._read(
            f"SELECT {_WINDOW_COLS} FROM windows WHERE {' AND '.join(conds)} "
            "ORDER BY start, signal LIMIT ?",
            (*params, limit),
        )
        return [WindowRow(*r) for r in rows]

    def events(
        self, site: str | None = None, asset: str | None = None, limit: int = 100
    ) -> list[EventRow]:
        """Return events, newest first."""
        conds, params = [], []
        if site is not None:
            conds.append("site = ?")
            params.append(site)
        if asset is not None:
            conds.append("asset = ?")
            params.append(asset)
        where = f"WHERE {' AND '.join(conds)}" if conds else ""
        rows = self._read(
            f"SELECT {_EVENT_COLS} FROM events {where} ORDER BY ts DESC, seq DESC LIMIT ?",
            (*params, limit),
        )
        return [EventRow(*r) for r in rows]

    def count(self, table: str) -> int:
        """Return the row count of a known table."""
        if table not in _TABLES:
            raise ValueError(f"unknown table {table!r}; known: {', '.join(sorted(_TABLES))}")
        return self._read(f"SELECT COUNT(*) FROM {table}")[0][0]
