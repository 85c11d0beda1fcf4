"""The store in portable SQL: both backends run these statements; they differ in connections.

Each thread gets its own connection (FastAPI runs sync work in a thread pool); a backend
supplies ``_connect``, ``_tx`` and its placeholder style.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from . import migrations
from .base import (
    EdgeRow,
    Store,
    WriteSet,
)
from .sql_alarms import AlarmSql
from .sql_auth import AuthSql
from .sql_commands import ControlSql
from .sql_notify import NotifySql
from .sql_reads import ReadSql
from .sql_rollups import RollupSql
from .sql_windows import WindowSql
from .sqlbase import EVENT_COLS, SHADOW_COLS, SHADOW_TYPES, marks


class SqlStore(ReadSql, AuthSql, AlarmSql, ControlSql, NotifySql, RollupSql, WindowSql, Store):
    """The Store in portable SQL; backends add connections, transactions and column types."""

    # migrations ----------------------------------------------------------------------------
    def migrate(self, upto: int | None = None) -> int:
        """Apply every migration newer than the database (up to ``upto``), in one transaction."""
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
                if version <= current or (upto is not None and version > upto):
                    continue
                for step in migrations.statements(version, self.types):
                    if isinstance(step, str):
                        self._exec(cur, step)
                    else:
                        step(self, cur)
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
                edge,
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
    def write(self, ws: WriteSet) -> None:
        """Write one batch's changes in one transaction; every insert is keyed and idempotent."""
        with self._tx(self._conn()) as cur:
            self._write_keys(cur, ws)
            if ws.site is not None:
                self._write_manifest(cur, ws)
            self._write_records(cur, ws)
            # Only a newer window moves the shadow: batches arrive in any order.
            self._bulk(
                cur, "shadow", SHADOW_COLS, SHADOW_TYPES, ws.shadow,
                "ON CONFLICT (site, asset, signal) DO UPDATE SET start = excluded.start, "
                "length_s = excluded.length_s, value = excluded.value, ts = excluded.ts, "
                "count = excluded.count, bad = excluded.bad, uncertain = excluded.uncertain, "
                "out_of_range = excluded.out_of_range WHERE excluded.start > shadow.start",
            )  # fmt: skip
            self._many(
                cur,
                "INSERT INTO scores (site, asset, start, body) VALUES (?, ?, ?, ?) "
                "ON CONFLICT DO NOTHING",
                ws.scores,
            )
            self._many(
                cur,
                f"INSERT INTO events ({EVENT_COLS}) VALUES ({marks(12)}) ON CONFLICT DO NOTHING",
                ws.events,
            )
            self._many(
                cur,
                "INSERT INTO heartbeats (edge_id, epoch, seq, ts, body) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT DO NOTHING",
                ws.heartbeats,
            )
            self._write_alarms_and_state(cur, ws)
            self._exec(
                cur,
                "UPDATE edges SET last_seen = ? WHERE edge_id = ?",
                (ws.received_at, ws.edge_id),
            )
            self._write_webhook_deliveries(cur, ws)  # the alarms' notifications, atomically

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
            s,
        )
        # Assets left out of a new manifest are retired, not deleted: their history stays.
        self._exec(cur, "UPDATE assets SET active = 0 WHERE site = ?", (s.site,))
        self._many(
            cur,
            "INSERT INTO assets (site, asset, type, name, area, line, attributes, active) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, 1) ON CONFLICT (site, asset) DO UPDATE SET "
            "type = excluded.type, name = excluded.name, area = excluded.area, "
            "line = excluded.line, attributes = excluded.attributes, active = 1",
            [a[:7] for a in ws.assets],
        )
        self._many(
            cur,
            "INSERT INTO asset_types (site, name, body) VALUES (?, ?, ?) "
            "ON CONFLICT (site, name) DO UPDATE SET body = excluded.body",
            ws.asset_types,
        )
        self._exec(cur, "UPDATE edges SET site = ? WHERE edge_id = ?", (s.site, ws.edge_id))
