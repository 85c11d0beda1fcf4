"""PostgreSQL store (psycopg 3): the production backend that N stateless replicas share."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg

from ..errors import StoreError
from .base import WindowRecord
from .migrations import POSTGRES_TYPES
from .sql import SqlStore

#: Arbitrary constant key of the advisory lock that serializes migrating replicas.
_MIGRATION_LOCK = 0x45_47_49_5A


class PostgresStore(SqlStore):
    """Store in a PostgreSQL database given by a ``postgresql://`` URL."""

    types = POSTGRES_TYPES
    placeholder = "%s"

    def _connect(self) -> psycopg.Connection[Any]:
        try:
            return psycopg.connect(self.url, autocommit=True, connect_timeout=10)
        except psycopg.Error as err:
            raise StoreError(
                f"{self.url}: cannot connect to PostgreSQL: {err} "
                "(fix: check host, port, user and that the database exists)"
            ) from err

    @contextmanager
    def _tx(self, conn: Any) -> Iterator[Any]:
        with conn.transaction(), conn.cursor() as cur:
            yield cur

    def _insert_records(self, cur: Any, records: Sequence[WindowRecord]) -> None:
        """COPY the records into a session staging table, then insert the new ones.

        COPY (binary) moves a batch in one round trip without per-row statement work; the
        INSERT .. SELECT keeps the first-stored-wins rule of the primary key.
        """
        conn = cur.connection
        if getattr(self._local, "staged", None) is not conn:
            cur.execute(
                "CREATE TEMP TABLE IF NOT EXISTS window_stage "
                "(LIKE window_records) ON COMMIT DELETE ROWS"
            )
            self._local.staged = conn
        with cur.copy(
            "COPY window_stage (site, asset, start, length_s, n, signals, stats) "
            "FROM STDIN (FORMAT BINARY)"
        ) as copy:
            copy.set_types(["text", "text", "float8", "float8", "int8", "text", "bytea"])
            for r in records:
                copy.write_row(r)
        cur.execute(
            "INSERT INTO window_records (site, asset, start, length_s, n, signals, stats) "
            "SELECT site, asset, start, length_s, n, signals, stats FROM window_stage "
            "ON CONFLICT DO NOTHING"
        )

    def _bulk(
        self,
        cur: Any,
        table: str,
        cols: str,
        pg_types: Sequence[str],
        rows: Sequence[Sequence[Any]],
        tail: str = "",
    ) -> None:
        """One INSERT .. SELECT FROM unnest(arrays): one round trip for any number of rows."""
        if not rows:
            return
        arrays = [list(col) for col in zip(*rows, strict=True)]
        unnest = ", ".join(f"%s::{t}[]" for t in pg_types)
        cur.execute(f"INSERT INTO {table} ({cols}) SELECT * FROM unnest({unnest}) {tail}", arrays)

    def _migration_lock(self, cur: Any) -> None:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))

    def server_version(self) -> str:
        """Return the server's ``version()`` string, e.g. ``PostgreSQL 15.2 ...``."""
        return str(self._read("SELECT version()")[0][0])
