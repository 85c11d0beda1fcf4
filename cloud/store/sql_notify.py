"""Store mixin of the webhook outbox: durable, bounded, leased deliveries of notifications.

One row per (hook, notification). A delivery loop in every cloud replica claims the oldest
pending row of a hook with a lease (a conditional UPDATE: of replicas racing for a row exactly
one wins, in SQLite and in PostgreSQL), posts it and settles it. Only the head of a hook's queue
is ever claimed, so each receiver gets its notifications one at a time and in order, and a
crashed replica's claimed row is claimed again once its lease has run out.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .base import WebhookDeliveryRow, WriteSet
from .sqlbase import SqlBase

NOTIFY_MIGRATION = (
    "webhook outbox: pending, delivered, failed and dropped notification deliveries",
    [
        """CREATE TABLE webhook_outbox (
            delivery_id TEXT PRIMARY KEY, hook TEXT NOT NULL, event TEXT NOT NULL,
            body TEXT NOT NULL, state TEXT NOT NULL, created_at {real} NOT NULL,
            next_at {real} NOT NULL, attempts {big} NOT NULL DEFAULT 0, lease_owner TEXT,
            lease_until {real} NOT NULL DEFAULT 0, last_error TEXT, done_at {real})""",
        # The head of a hook's queue and its pending count; pruning by state and age.
        "CREATE INDEX webhook_outbox_queue ON webhook_outbox (hook, state, created_at)",
        "CREATE INDEX webhook_outbox_done ON webhook_outbox (state, done_at)",
    ],
)

_COLS = (
    "delivery_id, hook, event, body, state, created_at, next_at, attempts, lease_owner, "
    "lease_until, last_error, done_at"
)
#: The oldest pending row of one hook (ties of one instant broken by id).
_HEAD = (
    "SELECT delivery_id FROM webhook_outbox WHERE hook = ? AND state = 'pending' "
    "ORDER BY created_at, delivery_id LIMIT 1"
)


class NotifySql(SqlBase):
    """The webhook outbox methods of the Store interface."""

    #: The cloud's Notifier when it has hooks: ``outbox_rows(ws)`` gives the deliveries of a
    #: batch's newly stored alarm raises and clears, written in the batch's own transaction
    #: (a crash cannot keep the alarm and lose its notification, and the edge's retry of such
    #: a batch is a duplicate that notifies nobody); ``on_dropped(rows)`` reports cap drops.
    webhook_source: Any = None

    def _write_webhook_deliveries(self, cur: Any, ws: WriteSet) -> None:
        source = self.webhook_source
        if source is None or not (ws.alarm_raises or ws.alarm_clears):
            return
        rows, caps = source.outbox_rows(ws)
        if rows:
            source.on_dropped(self._insert_outbox(cur, rows, caps, ws.received_at))

    def add_webhook_deliveries(
        self, rows: Sequence[WebhookDeliveryRow], caps: dict[str, int], now: float
    ) -> list[WebhookDeliveryRow]:
        """Insert pending deliveries; keep each hook at most ``caps[hook]`` pending rows by
        marking its oldest unleased pending rows ``dropped``; return the dropped rows."""
        with self._tx(self._conn()) as cur:
            return self._insert_outbox(cur, rows, caps, now)

    def _insert_outbox(
        self, cur: Any, rows: Sequence[WebhookDeliveryRow], caps: dict[str, int], now: float
    ) -> list[WebhookDeliveryRow]:
        dropped: list[WebhookDeliveryRow] = []
        self._many(cur, f"INSERT INTO webhook_outbox ({_COLS}) VALUES ({', '.join('?' * 12)})",
                   [tuple(r) for r in rows])  # fmt: skip
        for hook in sorted({r.hook for r in rows}):
            pending = self._exec(
                cur,
                "SELECT COUNT(*) FROM webhook_outbox WHERE hook = ? AND state = 'pending'",
                (hook,),
            ).fetchone()[0]
            excess = pending - caps[hook]
            if excess <= 0:
                continue
            # A row in flight (leased) is not dropped: its post may already have landed.
            victims = self._exec(
                cur,
                f"SELECT {_COLS} FROM webhook_outbox WHERE hook = ? AND state = 'pending' "
                "AND lease_until <= ? ORDER BY created_at, delivery_id LIMIT ?",
                (hook, now, excess),
            ).fetchall()
            for v in victims:
                self._exec(
                    cur,
                    "UPDATE webhook_outbox SET state = 'dropped', done_at = ?, last_error = ? "
                    "WHERE delivery_id = ? AND state = 'pending'",
                    (now, f"dropped: more than {caps[hook]} pending for this hook", v[0]),
                )
            dropped += [WebhookDeliveryRow(*v) for v in victims]
        return dropped

    def claim_webhook_delivery(
        self, hook: str, owner: str, now: float, lease_s: float
    ) -> WebhookDeliveryRow | None:
        """Lease the head of a hook's queue when it is due and not leased; count the attempt.

        One statement: the row is re-checked under its row lock, so of replicas racing for
        the same head exactly one updates it; the others get None and try again later.
        """
        with self._tx(self._conn()) as cur:
            claimed = self._exec(
                cur,
                "UPDATE webhook_outbox SET lease_owner = ?, lease_until = ?, "
                f"attempts = attempts + 1 WHERE delivery_id = ({_HEAD}) AND state = 'pending' "
                "AND next_at <= ? AND lease_until <= ?",
                (owner, now + lease_s, hook, now, now),
            ).rowcount
            if claimed != 1:
                return None
            row = self._exec(
                cur,
                f"SELECT {_COLS} FROM webhook_outbox WHERE hook = ? AND state = 'pending' "
                "AND lease_owner = ? AND lease_until = ?",
                (hook, owner, now + lease_s),
            ).fetchone()
        return WebhookDeliveryRow(*row) if row else None

    def webhook_head_due(self, hook: str) -> float | None:
        """Return when the head of a hook's queue may be claimed (None: nothing pending)."""
        rows = self._read(
            "SELECT next_at, lease_until FROM webhook_outbox WHERE hook = ? AND "
            "state = 'pending' ORDER BY created_at, delivery_id LIMIT 1",
            (hook,),
        )
        return max(rows[0]) if rows else None

    def settle_webhook_delivery(
        self,
        delivery_id: str,
        owner: str,
        now: float,
        *,
        error: str | None = None,
        retry_at: float | None = None,
    ) -> bool:
        """Record the outcome of a claimed attempt: delivered (no ``error``), pending again at
        ``retry_at``, or failed (``error`` and no ``retry_at``). False when the lease was lost."""
        if error is None:
            sets, params = "state = 'delivered', done_at = ?, last_error = NULL", [now]
        elif retry_at is not None:
            sets, params = "next_at = ?, last_error = ?", [retry_at, error]
        else:
            sets, params = "state = 'failed', done_at = ?, last_error = ?", [now, error]
        with self._tx(self._conn()) as cur:
            return bool(
                self._exec(
                    cur,
                    f"UPDATE webhook_outbox SET {sets}, lease_owner = NULL, lease_until = 0 "
                    "WHERE delivery_id = ? AND lease_owner = ? AND state = 'pending'",
                    (*params, delivery_id, owner),
                ).rowcount
            )

    def release_webhook_leases(self, owner: str) -> int:
        """Give back every lease of ``owner`` (a stopping replica); return how many."""
        with self._tx(self._conn()) as cur:
            return int(
                self._exec(
                    cur,
                    "UPDATE webhook_outbox SET lease_owner = NULL, lease_until = 0 "
                    "WHERE lease_owner = ? AND state = 'pending'",
                    (owner,),
                ).rowcount
            )

    def webhook_deliveries(
        self, hook: str | None = None, state: str | None = None, limit: int = 100
    ) -> list[WebhookDeliveryRow]:
        """Return deliveries (of one hook, in one state), oldest first."""
        conds: list[str] = []
        params: list[Any] = []
        for col, val in (("hook", hook), ("state", state)):
            if val is not None:
                conds.append(f"{col} = ?")
                params.append(val)
        where = f"WHERE {' AND '.join(conds)}" if conds else ""
        rows = self._read(
            f"SELECT {_COLS} FROM webhook_outbox {where} ORDER BY created_at, delivery_id "
            "LIMIT ?",
            (*params, limit),
        )
        return [WebhookDeliveryRow(*r) for r in rows]

    def webhook_counts(self) -> dict[tuple[str, str], int]:
        """Return the number of deliveries per (hook, state)."""
        rows = self._read("SELECT hook, state, COUNT(*) FROM webhook_outbox GROUP BY hook, state")
        return {(h, s): int(n) for h, s, n in rows}

    def prune_webhook_deliveries(self, delivered_before: float, closed_before: float) -> int:
        """Delete delivered rows settled before ``delivered_before`` and failed or dropped
        rows settled before ``closed_before``; return how many."""
        with self._tx(self._conn()) as cur:
            return int(
                self._exec(
                    cur,
                    "DELETE FROM webhook_outbox WHERE (state = 'delivered' AND done_at < ?) "
                    "OR (state IN ('failed', 'dropped') AND done_at < ?)",
                    (delivered_before, closed_before),
                ).rowcount
            )
