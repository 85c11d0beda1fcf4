"""PostgreSQL store (psycopg 3): the production backend that N stateless replicas share."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg

from ..errors import StoreError
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

    def _migration_lock(self, cur: Any) -> None:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))

    def server_version(self) -> str:
        """Return the server's ``version()`` string, e.g. ``PostgreSQL 15.2 ...``."""
        return str(self._read("SELECT version()")[0][0])
