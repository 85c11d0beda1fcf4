"""The outbox: a durable, bounded SQLite (WAL) queue with Telegraf-style transactions.

``add`` commits records (and optional meta such as the windower's progress) in one
transaction; ``begin(n)`` picks a batch by lane — manifest, events, heartbeat, then the newest
summaries and the oldest backlog side by side — without changing the database; ``end`` deletes
exactly the seqs the cloud stored and quarantines the ones it rejected. A crash between
``begin`` and ``end`` only means the batch is sent again; the cloud stores it once.

When full (bytes) or stale (age), records are evicted oldest summaries first, events last, and
every eviction becomes a ``data_gap`` event with exact bounds, in the same transaction.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import OutboxError
from .window import iso

LANE_MANIFEST, LANE_EVENT, LANE_HEARTBEAT, LANE_SUMMARY = 0, 1, 2, 3
#: Eviction order: summaries, then heartbeats, then events; the manifest is never evicted.
EVICTION_ORDER = (LANE_SUMMARY, LANE_HEARTBEAT, LANE_EVENT)
_ROW_OVERHEAD = 64  # bytes counted per row besides its body (SQLite's own bookkeeping)

log = logging.getLogger(__name__)

#: Fault-test hook, off unless set: EGIZ_PHASE_LOG names a file where every outbox commit and
#: every upload marks its begin and end (wall time, pid), and EGIZ_PHASE_HOLD_S holds inside
#: each for that long (a slow disk, a slow link), so a test that sends ``kill -9`` can show
#: where each kill landed. The markers also go to the debug log.
_PHASE_LOG = os.environ.get("EGIZ_PHASE_LOG") or None
PHASE_HOLD_S = float(os.environ.get("EGIZ_PHASE_HOLD_S") or 0.0)
_phase_fd: int | None = None


def phase(name: str) -> None:
    """Mark a phase boundary (``commit-begin``, ``upload-end``, ...) for fault tests."""
    global _phase_fd
    now = time.time()
    if log.isEnabledFor(logging.DEBUG):
        log.debug("phase %s at %.6f", name, now)
    if _PHASE_LOG is None:
        return
    if _phase_fd is None:
        _phase_fd = os.open(_PHASE_LOG, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    # One write(2) per line with O_APPEND: complete in the file the moment it returns, so a
    # SIGKILL right after it cannot lose or tear the marker.
    os.write(_phase_fd, f"{now:.6f} {os.getpid()} {name}\n".encode())


_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS records (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    lane INTEGER NOT NULL,
    asset TEXT,
    data_ts REAL,
    span REAL,
    created REAL NOT NULL,
    size INTEGER NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS records_lane ON records (lane, seq);
CREATE TABLE IF NOT EXISTS quarantine (
    seq INTEGER PRIMARY KEY,
    reason TEXT NOT NULL,
    at REAL NOT NULL,
    body TEXT NOT NULL
);
"""


@dataclass(frozen=True, slots=True)
class Item:
    """One record to add: its lane, body without seq, and the data time it covers."""

    lane: int
    body: dict[str, Any]
    asset: str | None = None
    data_ts: float | None = None  # window start or event time
    span: float | None = None  # window length


@dataclass(slots=True)
class Batch:
    """Records picked by ``begin``: seqs and their JSON text (seq included)."""

    seqs: list[int] = field(default_factory=list)
    bodies: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.seqs)


class Outbox:
    """The durable queue; ``path`` ':memory:' gives the same queue without a file (tests)."""

    def __init__(self, path: str | Path, max_bytes: int, max_age_s: float, clock=time.time) -> None:
        self.path = str(path)
        self.max_bytes = max_bytes
        self.max_age_s = max_age_s
        self.clock = clock
        self._inflight: set[int] = set()
        self.evicted = 0
        self.quarantined = 0
        try:
            if self.path != ":memory:":
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            # WAL + FULL: a committed transaction survives power loss; a torn one never shows.
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
            self.db.executescript(_SCHEMA)
            self.epoch, self.fresh = self._epoch()
        except sqlite3.Error as err:
            raise OutboxError(f"outbox {self.path}: {err}") from err
        self.bytes = int(
            self.db.execute("SELECT COALESCE(SUM(size), 0) FROM records").fetchone()[0]
        )

    def _epoch(self) -> tuple[str, bool]:
        row = self.db.execute("SELECT value FROM meta WHERE key='epoch'").fetchone()
        if row:
            return row[0], False
        epoch = str(uuid.uuid4())
        self.db.execute("INSERT INTO meta VALUES ('epoch', ?)", (epoch,))
        self.db.execute("INSERT INTO meta VALUES ('created', ?)", (str(self.clock()),))
        return epoch, True

    def close(self) -> None:
        """Close the database."""
        self.db.close()

    # -- meta -------------------------------------------------------------------------------

    def meta(self, key: str, default: str | None = None) -> str | None:
        """Return a stored meta value."""
        row = self.db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else default

    def meta_prefix(self, prefix: str) -> dict[str, str]:
        """Return every meta value whose key starts with ``prefix`` (a range scan of the key)."""
        if not prefix:
            raise ValueError("meta_prefix needs a non-empty prefix")
        upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
        rows = self.db.execute(
            "SELECT key, value FROM meta WHERE key >= ? AND key < ? ORDER BY key", (prefix, upper)
        )
        return dict(rows.fetchall())

    def set_meta(self, values: dict[str, str], delete: Iterable[str] = ()) -> None:
        """Store meta values (and delete the keys in ``delete``) in their own transaction."""
        gone = list(delete)

        def work() -> None:
            self._put_meta(values)
            self.db.executemany("DELETE FROM meta WHERE key=?", [(k,) for k in gone])

        self._txn(work)

    def _put_meta(self, values: dict[str, str]) -> None:
        self.db.executemany(
            "INSERT INTO meta VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
            list(values.items()),
        )

    def _txn(self, fn):  # type: ignore[no-untyped-def]
        try:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                out = fn()
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            self.db.execute("COMMIT")
            return out
        except sqlite3.Error as err:
            raise OutboxError(f"outbox {self.path}: {err}") from err

    # -- add --------------------------------------------------------------------------------

    def add(self, items: Iterable[Item], meta: dict[str, str] | None = None) -> list[int]:
        """Commit ``items`` (and ``meta``) atomically; evict if over a bound. Returns the seqs."""
        items = list(items)

        def work() -> list[int]:
            phase("commit-begin")
            seqs = self._insert(items)
            if meta:
                self._put_meta(meta)
            self._enforce()
            if PHASE_HOLD_S:
                time.sleep(PHASE_HOLD_S)  # test hook: the transaction is open, not committed
            return seqs

        seqs = self._txn(work)
        phase("commit-end")
        return seqs

    def replace_heartbeat(self, item: Item) -> int:
        """Add a heartbeat, dropping older ones never sent (a stale heartbeat says nothing)."""

        def work() -> int:
            old = [
                r[0]
                for r in self.db.execute("SELECT seq FROM records WHERE lane=?", (LANE_HEARTBEAT,))
                if r[0] not in self._inflight
            ]
            self._delete(old)
            return self._insert([item])[0]

        return self._txn(work)

    def _insert(self, items: list[Item]) -> list[int]:
        now = self.clock()
        seqs = []
        for it in items:
            body = json.dumps(it.body, separators=(",", ":"))
            size = len(body) + _ROW_OVERHEAD
            cur = self.db.execute(
                "INSERT INTO records (lane, asset, data_ts, span, created, size, body) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (it.lane, it.asset, it.data_ts, it.span, now, size, body),
            )
            seqs.append(int(cur.lastrowid))
            self.bytes += size
        return seqs

    def _delete(self, seqs: list[int]) -> None:
        for chunk in _chunks(seqs, 500):
            marks = ",".join("?" * len(chunk))
            freed = self.db.execute(
                f"SELECT COALESCE(SUM(size), 0) FROM records WHERE seq IN ({marks})", chunk
            ).fetchone()[0]
            self.db.execute(f"DELETE FROM records WHERE seq IN ({marks})", chunk)
            self.bytes -= int(freed)

    # -- eviction ---------------------------------------------------------------------------

    def enforce(self) -> int:
        """Apply the age and byte bounds now; return how many records were evicted."""
        before = self.evicted
        self._txn(self._enforce)
        return self.evicted - before

    def _enforce(self) -> None:
        cutoff = self.clock() - self.max_age_s
        for lane in EVICTION_ORDER:
            rows = self.db.execute(
                "SELECT seq, asset, data_ts, span, size FROM records "
                "WHERE lane=? AND created < ? ORDER BY seq",
                (lane, cutoff),
            ).fetchall()
            self._evict(lane, [r for r in rows if r[0] not in self._inflight], "max_age")
        # Evict down to 90 % so a full outbox does not evict (and report) on every add.
        target = int(self.max_bytes * 0.9)
        for lane in EVICTION_ORDER:
            if self.bytes <= self.max_bytes:
                return
            rows, freed = [], 0
            for row in self.db.execute(
                "SELECT seq, asset, data_ts, span, size FROM records WHERE lane=? ORDER BY seq",
                (lane,),
            ):
                if row[0] in self._inflight:
                    continue
                rows.append(row)
                freed += row[4]
                if self.bytes - freed <= target:
                    break
            self._evict(lane, rows, "outbox_full")

    def _evict(self, lane: int, rows: list[tuple], reason: str) -> None:
        if not rows:
            return
        self._delete([r[0] for r in rows])
        self.evicted += len(rows)
        self._insert(gap_events(lane, rows, reason, self.clock()))

    # -- transactions -----------------------------------------------------------------------

    def begin(self, n: int) -> Batch:
        """Pick up to ``n`` records not in flight: manifest, events, heartbeat, then summaries."""
        batch = Batch()
        picked: set[int] = set()

        def take(lane: int, newest_first: bool, limit: int) -> None:
            if limit <= 0:
                return
            order = "DESC" if newest_first else "ASC"
            sql = f"SELECT seq, body FROM records WHERE lane=? ORDER BY seq {order} LIMIT ?"
            got = 0
            for seq, body in self.db.execute(
                sql, (lane, limit + len(self._inflight) + len(picked))
            ):
                if seq in self._inflight or seq in picked:
                    continue
                picked.add(seq)
                batch.seqs.append(seq)
                batch.bodies.append(f'{{"seq":{seq},{body[1:]}')
                got += 1
                if got >= limit:
                    return

        for lane in (LANE_MANIFEST, LANE_EVENT, LANE_HEARTBEAT):
            take(lane, False, n - len(batch))
        room = n - len(batch)
        # Live first: half the room goes to the newest summaries, the rest drains the backlog
        # oldest-first, so a long outage never starves the live view nor the history.
        take(LANE_SUMMARY, True, (room + 1) // 2)
        take(LANE_SUMMARY, False, n - len(batch))
        self._inflight.update(batch.seqs)
        return batch

    def end(self, batch: Batch, stored: set[int], rejected: dict[int, str] | None = None) -> None:
        """Finish a batch: delete the stored seqs, quarantine the rejected, free the rest."""
        rejected = rejected or {}
        mine = set(batch.seqs)
        done = sorted(mine & stored)
        bad = {s: r for s, r in rejected.items() if s in mine and s not in stored}

        def work() -> None:
            self._delete(done)
            if bad:
                self._quarantine(bad)
            if done:
                last = int(self.meta("last_acked_seq", "0") or 0)
                self._put_meta({"last_acked_seq": str(max(last, done[-1]))})

        try:
            self._txn(work)
        finally:
            self._inflight.difference_update(batch.seqs)

    def _quarantine(self, bad: dict[int, str]) -> None:
        now = self.clock()
        events = []
        for seq, reason in bad.items():
            row = self.db.execute("SELECT body FROM records WHERE seq=?", (seq,)).fetchone()
            if row is None:
                continue
            self.db.execute(
                "INSERT OR REPLACE INTO quarantine VALUES (?, ?, ?, ?)", (seq, reason, now, row[0])
            )
            self.quarantined += 1
            body = json.loads(row[0])
            if body.get("type") == "event" and body.get("kind") == "quarantined":
                continue  # never an event about a refused event about a refused record (no loop)
            events.append(
                Item(
                    LANE_EVENT,
                    {
                        "type": "event",
                        "kind": "quarantined",
                        "ts": iso(now),
                        "severity": "medium",
                        "asset": body.get("asset"),
                        "message": f"the cloud refused record {seq} ({body.get('type')}): {reason}",
                        "data": {"seq": seq, "record_type": body.get("type"), "reason": reason},
                    },
                    data_ts=now,
                )
            )
        self._delete(list(bad))
        self._insert(events)

    # -- inspection -------------------------------------------------------------------------

    def depth(self) -> int:
        """Return how many records wait to be sent."""
        return int(self.db.execute("SELECT COUNT(*) FROM records").fetchone()[0])

    def oldest_unsent_s(self) -> float | None:
        """Return the age in seconds of the oldest record waiting, None when empty."""
        row = self.db.execute("SELECT MIN(created) FROM records").fetchone()
        return None if row[0] is None else max(0.0, self.clock() - row[0])

    def quarantine_rows(self) -> list[tuple[int, str, str]]:
        """Return (seq, reason, body) of every quarantined record."""
        return list(self.db.execute("SELECT seq, reason, body FROM quarantine ORDER BY seq"))

    def bodies(self, lane: int | None = None) -> list[dict[str, Any]]:
        """Return every waiting record with its seq (tests and the status page)."""
        sql, args = "SELECT seq, body FROM records", ()
        if lane is not None:
            sql, args = sql + " WHERE lane=?", (lane,)
        return [
            {"seq": s, **json.loads(b)} for s, b in self.db.execute(sql + " ORDER BY seq", args)
        ]


def gap_events(lane: int, rows: list[tuple], reason: str, now: float) -> list[Item]:
    """Turn evicted rows (seq, asset, data_ts, span, size) into data_gap events, exact bounds.

    Evicted window summaries become one event per asset per run of consecutive windows; other
    evicted records become one event naming their seqs and the span of their times.
    """
    from egiz.contracts import to_ranges

    out: list[Item] = []
    if lane == LANE_SUMMARY:
        by_asset: dict[str, list[tuple[float, float, int]]] = {}
        for seq, asset, start, span, _size in rows:
            by_asset.setdefault(asset or "", []).append((start, span, seq))
        for asset, wins in sorted(by_asset.items()):
            wins.sort()
            run = [wins[0]]
            for w in wins[1:]:
                prev = run[-1]
                if abs(w[0] - (prev[0] + prev[1])) < 1e-6:
                    run.append(w)
                else:
                    out.append(_gap(asset, run, reason, now))
                    run = [w]
            out.append(_gap(asset, run, reason, now))
        return out
    seqs = [r[0] for r in rows]
    times = [r[2] for r in rows if r[2] is not None]
    what = "event" if lane == LANE_EVENT else "heartbeat"
    body = {
        "type": "event",
        "kind": "data_gap",
        "ts": iso(now),
        "severity": "high" if lane == LANE_EVENT else "low",
        "message": f"{len(rows)} {what} record(s) evicted from the outbox ({reason})",
        "data": {
            "reason": reason,
            "record_type": what,
            "records": len(rows),
            "seqs": to_ranges(seqs),
        },
    }
    if times:
        body["start"], body["end"] = iso(min(times)), iso(max(times))
    return [Item(LANE_EVENT, body, data_ts=now)]


def _gap(asset: str, run: list[tuple[float, float, int]], reason: str, now: float) -> Item:
    from egiz.contracts import to_ranges

    start, end = run[0][0], run[-1][0] + run[-1][1]
    return Item(
        LANE_EVENT,
        {
            "type": "event",
            "kind": "data_gap",
            "ts": iso(now),
            "asset": asset or None,
            "severity": "medium",
            "start": iso(start),
            "end": iso(end),
            "message": f"{len(run)} window summar{'y' if len(run) == 1 else 'ies'} of {asset} "
            f"evicted from the outbox ({reason})",
            "data": {"reason": reason, "windows": len(run), "seqs": to_ranges([r[2] for r in run])},
        },
        asset=asset or None,
        data_ts=now,
    )


def _chunks(seq: list[int], size: int) -> Iterable[list[int]]:
    for i in range(0, len(seq), size):
        yield seq[i : i + size]
