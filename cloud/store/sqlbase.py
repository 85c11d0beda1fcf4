"""Plumbing shared by the SQL store mixins: one connection per thread, portable SQL.

SQL is written with ``?`` placeholders; PostgreSQL's ``%s`` is substituted once per statement.
"""

from __future__ import annotations

import contextlib
import threading
from abc import abstractmethod
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any

WINDOW_COLS = (
    "site, asset, signal, start, length_s, count, bad, uncertain, out_of_range, "
    "min, max, mean, std, last, last_ts"
)
SHADOW_COLS = "site, asset, signal, start, length_s, value, ts, count, bad, uncertain, out_of_range"
#: PostgreSQL types of the shadow columns (for bulk inserts from arrays).
SHADOW_TYPES = ("text", "text", "text", "float8", "float8", "float8", "float8", "int8", "int8",
                "int8", "int8")  # fmt: skip
EVENT_COLS = "edge_id, epoch, seq, site, kind, ts, asset, signal, severity, message, alarm_id, body"


def marks(n: int) -> str:
    """Return ``n`` comma-separated placeholders."""
    return ", ".join("?" * n)


class SqlBase:
    """Connections (one per thread), transactions and placeholder translation."""

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

    def _bulk(
        self,
        cur: Any,
        table: str,
        cols: str,
        pg_types: Sequence[str],
        rows: Sequence[Sequence[Any]],
        tail: str = "",
    ) -> None:
        """``INSERT INTO table (cols) VALUES .. tail`` for many rows (``tail``: no placeholders).

        The default runs the statement per row (cheap in SQLite, in-process); PostgreSQL
        overrides it with one statement over arrays.
        """
        self._many(cur, f"INSERT INTO {table} ({cols}) VALUES ({marks(len(pg_types))}) {tail}",
                   rows)  # type: ignore[arg-type]  # fmt: skip

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
