"""SQLite store: the embedded default, in WAL mode so readers never wait for the ingest."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..errors import StoreError
from .migrations import SQLITE_TYPES
from .sql import SqlStore


class SqliteStore(SqlStore):
    """Store in one SQLite file (``sqlite:///relative/path`` or ``sqlite:////absolute``)."""

    types = SQLITE_TYPES
    # SQLite has FLOOR only when built with math functions; CAST truncates, = floor for t > 0.
    floor_sql = "CAST(start / {t} AS INTEGER) * {t}"

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self._write_lock = threading.Lock()
        path = url.removeprefix("sqlite:///")
        if not path or path.startswith(":memory:"):
            # Each thread has its own connection; an in-memory database would differ per thread.
            raise StoreError(f"{url}: in-memory SQLite is not supported (fix: give a file path)")
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise StoreError(f"{url}: cannot create {self.path.parent}: {err}") from err

    def _connect(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=30.0
            )
            conn.execute("PRAGMA journal_mode=WAL")
            # NORMAL in WAL mode survives an application crash; a power cut loses at most the
            # last transactions, which the edge re-sends because it never saw them acked.
            conn.execute("PRAGMA synchronous=NORMAL")
            # Checkpoint the WAL every 64 MB instead of 4 MB: each checkpoint syncs the WAL and
            # the database file, and at ingest rates the default ran one every ~15 batches.
            conn.execute("PRAGMA wal_autocheckpoint=16384")
            conn.execute("PRAGMA foreign_keys=ON")
        except sqlite3.Error as err:
            raise StoreError(f"{self.url}: cannot open SQLite database: {err}") from err
        return conn

    @contextmanager
    def _tx(self, conn: Any) -> Iterator[Any]:
        # Writers of this process queue on a Python lock: SQLite's own busy handler sleeps
        # in steps of milliseconds, which left the database idle between concurrent batches.
        with self._write_lock:
            cur = conn.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                yield cur
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            cur.execute("COMMIT")

    def server_version(self) -> str:
        """Return ``SQLite <version>``."""
        return f"SQLite {self._read('SELECT sqlite_version()')[0][0]}"
