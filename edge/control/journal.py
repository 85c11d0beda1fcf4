"""The at-most-once execution journal: SQLite, committed *before* each OPC UA write.

A command moves received → accepted → writing → executed/failed (or rejected/expired). The
write happens only after ``writing`` is committed, so after a crash a ``writing`` row means
"maybe written": it becomes ``unknown`` and is resolved by reading back — never re-executed.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

from egiz.contracts import Command

#: States reported to the cloud (its state machine walks through any it missed).
REPORTED = ("accepted", "rejected", "expired", "executed", "failed", "unknown")


class Journal:
    """Commands the edge has seen, with their local state and what was reported and acked."""

    def __init__(self, path: str | Path) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        # FULL: the 'writing' mark must be on disk before the write reaches the PLC.
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS commands (id TEXT PRIMARY KEY, body TEXT NOT NULL, "
            "state TEXT NOT NULL, reason TEXT, readback REAL, received_at REAL NOT NULL, "
            "updated_at REAL NOT NULL, reported TEXT, acked INTEGER NOT NULL DEFAULT 0)"
        )

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    def receive(self, cmd: Command) -> bool:
        """Record a command; False when it was seen before (a retried delivery)."""
        now = time.time()
        with self._lock:
            cur = self._db.execute(
                "INSERT OR IGNORE INTO commands (id, body, state, received_at, updated_at) "
                "VALUES (?, ?, 'received', ?, ?)",
                (cmd.id, cmd.model_dump_json(), now, now),
            )
            return cur.rowcount == 1

    def move(self, cid: str, expect: str, state: str, reason: str | None = None,
             readback: float | None = None) -> bool:  # fmt: skip
        """Compare-and-set the state of a command; False when it was not in ``expect``."""
        with self._lock:
            cur = self._db.execute(
                "UPDATE commands SET state = ?, reason = COALESCE(?, reason), "
                "readback = COALESCE(?, readback), updated_at = ? WHERE id = ? AND state = ?",
                (state, reason, readback, time.time(), cid, expect),
            )
            return cur.rowcount == 1

    def in_state(self, state: str) -> list[Command]:
        """Return the commands in ``state``, oldest first."""
        rows = self._db.execute(
            "SELECT body FROM commands WHERE state = ? ORDER BY received_at", (state,)
        ).fetchall()
        return [Command.model_validate_json(r[0]) for r in rows]

    def state(self, cid: str) -> tuple[str, str | None, float | None] | None:
        """Return (state, reason, readback) of a command."""
        row = self._db.execute(
            "SELECT state, reason, readback FROM commands WHERE id = ?", (cid,)
        ).fetchone()
        return None if row is None else (row[0], row[1], row[2])

    def last_executed_at(self, asset: str, setpoint: str) -> float | None:
        """Return when a command last changed this setpoint, or None."""
        row = self._db.execute(
            "SELECT MAX(updated_at) FROM commands WHERE state = 'executed' AND "
            "json_extract(body, '$.asset') = ? AND json_extract(body, '$.setpoint') = ?",
            (asset, setpoint),
        ).fetchone()
        return row[0] if row else None

    def unreported(self) -> list[tuple[Command, str, str | None, float | None]]:
        """Return commands whose current state the cloud has not been told yet."""
        marks = ", ".join("?" * len(REPORTED))
        rows = self._db.execute(
            f"SELECT body, state, reason, readback FROM commands WHERE state IN ({marks}) "
            "AND (reported IS NULL OR reported != state) ORDER BY updated_at",
            REPORTED,
        ).fetchall()
        return [(Command.model_validate_json(b), s, r, v) for b, s, r, v in rows]

    def mark_reported(self, cid: str, state: str) -> None:
        """Remember that ``state`` of ``cid`` is in the outbox."""
        with self._lock:
            self._db.execute("UPDATE commands SET reported = ? WHERE id = ?", (state, cid))

    def unacked(self) -> list[str]:
        """Return ids whose receipt the cloud has not confirmed processing."""
        return [r[0] for r in self._db.execute("SELECT id FROM commands WHERE acked = 0")]

    def mark_acked(self, ids: list[str]) -> None:
        """The cloud answered a batch carrying these receipts."""
        with self._lock:
            self._db.executemany("UPDATE commands SET acked = 1 WHERE id = ?", [(i,) for i in ids])
