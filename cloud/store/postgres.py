"""PostgreSQL store (psycopg 3): the production backend that N stateless replicas share."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg

from ..errors import StoreError
from .base import Chunk
from .chunks import CHUNK_COLS, CHUNK_TYPES
from .migrations import POSTGRES_TYPES
from .sql import SqlStore

#: Arbitrary constant key of the advisory lock that serializes migrating replicas.
_MIGRATION_LOCK = 0x45_47_49_5A
#: First key of the advisory locks that serialize the window writers of one site.
_WINDOWS_LOCK = 0x45_47_57_49


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

    def _insert_chunks(self, cur: Any, chunks: Sequence[Chunk]) -> None:
        """COPY (binary) the chunks: one round trip without per-row statement work."""
        if not chunks:
            return
        with cur.copy(f"COPY window_chunks ({CHUNK_COLS}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(list(CHUNK_TYPES))
            for c in chunks:
                copy.write_row(c)

    def _lock_windows(self, cur: Any, sites: list[str]) -> None:
        """Writers of one site's windows take turns, so no start is stored twice by a race."""
        for site in sites:  # sorted by the caller: no lock-order deadlock between replicas
            cur.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (_WINDOWS_LOCK, site))

    def _asset_in(self, assets: list[str]) -> tuple[str, Any]:
        return "asset = ANY(?)", assets

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
