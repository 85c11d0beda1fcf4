"""Cloud storage: one Store interface, SQLite and PostgreSQL backends, chosen by URL."""

from __future__ import annotations

from ..errors import StoreError
from .base import Store, WriteSet


def open_store(url: str, *, migrate: bool = True) -> Store:
    """Open the store at ``url`` (sqlite:///path or postgresql://...) and migrate it."""
    scheme = url.split(":", 1)[0]
    if scheme == "sqlite":
        from .sqlite import SqliteStore

        store: Store = SqliteStore(url)
    elif scheme in ("postgresql", "postgres"):
        # Imported here so an SQLite-only install never needs the PostgreSQL driver.
        from .postgres import PostgresStore

        store = PostgresStore(url)
    else:
        raise StoreError(
            f"unsupported database URL {url!r} (fix: sqlite:///path/cloud.db or "
            "postgresql://user@host:5432/dbname)"
        )
    if migrate:
        store.migrate()
    return store


__all__ = ["Store", "WriteSet", "open_store"]
