"""Webhook notifications of alarm raise, clear and acknowledgement: durable, bounded, signed.

Each delivery is a JSON POST with ``X-Egiz-Event``, ``X-Egiz-Delivery`` (an id unique per
notification and hook, also in the body; receivers dedupe on it), ``X-Egiz-Timestamp`` and
``X-Egiz-Signature: sha256=<hex HMAC of "<timestamp>.<body>" with the hook's secret>``, so a
receiver can check origin and freshness.

``publish`` writes one outbox row per interested hook into the store at once (store.sql_notify),
so a pending delivery survives a restart and every replica sees the same queue. Each replica
runs one delivery loop per hook: it leases the oldest pending row of the hook, posts it, and
settles it (delivered; pending again after an exponential backoff, persisted as ``next_at``;
failed after ``max_attempts``, kept with its last error). A replica that dies holding a lease
leaves the row to be claimed again when the lease runs out: delivery is at least once.
Each hook holds at most ``max_pending`` pending rows; beyond that the oldest pending row that
is not in flight is marked ``dropped``, logged as a warning and counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import itertools
import json
import logging
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from .store import Store
from .store.base import AlarmRow, WebhookDeliveryRow, WriteSet

log = logging.getLogger(__name__)
EVENTS = frozenset({"alarm_raise", "alarm_clear", "alarm_ack"})
STATES = ("pending", "delivered", "failed", "dropped")
_SEQ = itertools.count()


class WebhookConfig(BaseModel):
    """One receiver of alarm notifications."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    url: str = Field(pattern=r"^https?://")
    secret: SecretStr
    name: str | None = Field(
        None,
        min_length=1,
        description="the hook's key in the outbox and in metrics (default: the URL); keep it "
        "when the URL changes so pending deliveries follow",
    )
    events: frozenset[str] = EVENTS
    max_attempts: int = Field(6, ge=1, le=20)
    backoff_s: float = Field(1.0, gt=0, description="first retry delay; doubles each time")
    backoff_max_s: float = Field(3600.0, gt=0, description="longest delay between two attempts")
    max_pending: int = Field(
        10_000,
        ge=1,
        description="pending deliveries kept for this hook; when full, the oldest pending one "
        "that is not in flight is dropped (state 'dropped', logged, counted)",
    )

    @property
    def key(self) -> str:
        """The hook's identity in the outbox."""
        return self.name or self.url


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """Return the signature header value of a delivery."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


class Notifier:
    """Writes notifications to the store's outbox and delivers them from the event loop."""

    def __init__(
        self,
        hooks: list[WebhookConfig],
        store: Store,
        *,
        alarm_payload: Callable[[AlarmRow], dict[str, Any]] | None = None,
        lease_s: float = 60.0,
        poll_s: float = 1.0,
        timeout_s: float = 10.0,
        drain_s: float = 5.0,
        delivered_retention_s: float = 7 * 86400.0,
        closed_retention_s: float = 30 * 86400.0,
        prune_every_s: float = 600.0,
    ) -> None:
        keys = [h.key for h in hooks]
        if len(set(keys)) != len(keys):
            raise ValueError(f"webhooks share a key {keys} (fix: give each a distinct name)")
        # The lease must outlast one post, or a slow post could be claimed again meanwhile.
        if lease_s <= timeout_s:
            raise ValueError(f"lease_s {lease_s} must exceed the HTTP timeout {timeout_s}")
        self.hooks = hooks
        self.store = store
        self.alarm_payload = alarm_payload or (lambda a: a._asdict())
        self.lease_s = lease_s
        self.poll_s = poll_s
        self.timeout_s = timeout_s
        self.drain_s = drain_s
        self.delivered_retention_s = delivered_retention_s
        self.closed_retention_s = closed_retention_s
        self.prune_every_s = prune_every_s
        #: This process's lease owner name (unique per start, so a restarted replica does not
        #: mistake the leases of its previous life for its own).
        self.owner = f"notifier-{uuid.uuid4().hex[:12]}"
        # Counters of this process (fleet-wide row counts come from the store).
        self.delivered = 0
        self.retried = 0
        self.failed = 0
        self.dropped = 0
        self.lease_lost = 0
        self.errors = 0
        self.claim_misses = 0  # rounds that found no head to claim (due, unleased); tests
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: dict[str, asyncio.Event] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False
        self._stopped = asyncio.Event()
        if hooks and hasattr(store, "webhook_source"):
            # The store writes the notifications of ingested alarm changes with the batch.
            store.webhook_source = self

    # publishing ------------------------------------------------------------------------
    def publish(self, event: str, payload: dict[str, Any]) -> None:
        """Write ``event`` for every hook that wants it to the outbox; safe from any thread.

        A store failure is logged and counted, not raised: the caller's change (an alarm) is
        already stored. Alarm raises and clears of ingested batches do not come through here:
        the store writes them in the batch's transaction (``outbox_rows``).
        """
        rows, caps = self._rows([(event, payload)], time.time())
        if not rows:
            return
        try:
            dropped = self.store.add_webhook_deliveries(rows, caps, rows[0].created_at)
        except Exception:
            self.errors += 1
            log.exception("webhooks: %s not written to the outbox (%d hooks)", event, len(rows))
            return
        self.on_dropped(dropped)
        self.wake()

    def outbox_rows(self, ws: WriteSet) -> tuple[list[WebhookDeliveryRow], dict[str, int]]:
        """The deliveries of a batch's newly stored alarm raises and clears (the store calls
        this inside the batch's write transaction)."""
        events = [("alarm_raise", {"alarm": self.alarm_payload(a)}) for a in ws.alarm_raises]
        events += [("alarm_clear", {"alarm": self.alarm_payload(a)}) for a in ws.alarm_clears]
        return self._rows(events, time.time())

    def on_dropped(self, dropped: list[WebhookDeliveryRow]) -> None:
        """Log and count deliveries the per-hook cap dropped."""
        for row in dropped:
            self.dropped += 1
            log.warning(
                "webhook %s: more than %d pending deliveries; dropped the oldest (%s %s, "
                "%d attempts made)", row.hook, self._hook(row.hook).max_pending, row.event,
                row.delivery_id, row.attempts,
            )  # fmt: skip

    def _rows(
        self, events: list[tuple[str, dict[str, Any]]], now: float
    ) -> tuple[list[WebhookDeliveryRow], dict[str, int]]:
        rows, caps = [], {}
        for event, payload in events:
            for hook in self.hooks:
                if event not in hook.events:
                    continue
                # Time-ordered ids: a hook's queue is ordered by (created_at, delivery_id), so
                # a raise and a clear written at the same instant keep their order.
                delivery_id = f"{time.time_ns():016x}{next(_SEQ) & 0xFFFFFFFF:08x}"
                delivery_id += uuid.uuid4().hex[:8]
                body = json.dumps(
                    {"event": event, "delivery_id": delivery_id, "sent_at": now, **payload},
                    default=str,
                )
                rows.append(WebhookDeliveryRow(delivery_id, hook.key, event, body, "pending",
                                               now, now))  # fmt: skip
                caps[hook.key] = hook.max_pending
        return rows, caps

    def wake(self) -> None:
        """Wake this process's delivery loops after new rows were committed (from any thread;
        other replicas notice within ``poll_s``)."""
        if self._loop is None:
            return
        for event in self._wake.values():
            # RuntimeError: the loop has closed; the rows wait in the outbox.
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(event.set)

    # lifecycle -------------------------------------------------------------------------
    async def start(self) -> None:
        """Start one delivery loop per hook and the pruning loop (call from the running loop)."""
        self._loop = asyncio.get_running_loop()
        self._stopping = False
        self._stopped = asyncio.Event()
        if not self.hooks:
            return
        self._wake = {h.key: asyncio.Event() for h in self.hooks}
        client = httpx.AsyncClient(timeout=self.timeout_s)
        self._client = client
        self._tasks = [asyncio.create_task(self._hook_loop(client, h)) for h in self.hooks]
        self._tasks.append(asyncio.create_task(self._prune_loop()))
        try:
            counts = await asyncio.to_thread(self.store.webhook_counts)
        except Exception:
            self.errors += 1
            log.exception("webhooks: cannot read the outbox at start")
            return
        known = {h.key for h in self.hooks}
        for (hook, state), n in sorted(counts.items()):
            if state == "pending" and hook not in known:
                log.warning("webhooks: %d pending deliveries for %s, which is not configured "
                            "here; they wait until a cloud with that hook runs", n, hook)  # fmt: skip

    async def stop(self, drain_s: float | None = None) -> None:
        """Deliver what is pending (for at most ``drain_s``), stop, give back our leases."""
        drain = self.drain_s if drain_s is None else drain_s
        if not self._tasks:
            return
        deadline = time.monotonic() + drain
        pending = await self._pending()
        while pending and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
            pending = await self._pending()
        self._stopping = True
        self._stopped.set()
        for event in self._wake.values():
            event.set()
        # A post in flight finishes (bounded by the HTTP timeout) and settles its row.
        _done, late = await asyncio.wait(self._tasks, timeout=self.timeout_s + 1)
        for task in late:
            task.cancel()
        if late:
            await asyncio.wait(late)
        self._tasks = []
        await self._client.aclose()
        try:
            released = await asyncio.to_thread(self.store.release_webhook_leases, self.owner)
        except Exception:
            self.errors += 1
            log.exception("webhooks: cannot give back leases (they run out after %.0f s)",
                          self.lease_s)  # fmt: skip
            return
        if pending or released:
            log.info("webhooks: stopped with %d deliveries pending in the outbox; the next start "
                     "or another replica delivers them", pending)  # fmt: skip

    async def _pending(self) -> int:
        try:
            counts = await asyncio.to_thread(self.store.webhook_counts)
        except Exception:
            self.errors += 1
            log.exception("webhooks: cannot count the outbox")
            return 0
        return sum(counts.get((h.key, "pending"), 0) for h in self.hooks)

    # delivery --------------------------------------------------------------------------
    def _hook(self, key: str) -> WebhookConfig:
        return next(h for h in self.hooks if h.key == key)

    async def _hook_loop(self, client: httpx.AsyncClient, hook: WebhookConfig) -> None:
        wake = self._wake[hook.key]
        while not self._stopping:
            try:
                wake.clear()  # a publish from here on cuts the sleep below short
                # A read first: an idle loop takes no write lock (SQLite has one per database).
                due = await asyncio.to_thread(self.store.webhook_head_due, hook.key)
                if due is not None and due <= time.time():
                    row = await asyncio.to_thread(
                        self.store.claim_webhook_delivery, hook.key, self.owner, time.time(),
                        self.lease_s,
                    )  # fmt: skip
                    if row is not None:
                        await self._attempt(client, hook, row)
                        continue
                    # Another replica took the head meanwhile: its lease says when to look.
                    due = await asyncio.to_thread(self.store.webhook_head_due, hook.key)
                self.claim_misses += 1
                await self._sleep(wake, due)
            except Exception:  # keep delivering: the next round retries
                self.errors += 1
                log.exception("webhook %s: delivery loop failed; retrying in %.1f s",
                              hook.key, self.poll_s)  # fmt: skip
                await asyncio.sleep(self.poll_s)

    async def _sleep(self, wake: asyncio.Event, due: float | None) -> None:
        """Sleep until a local publish, the head's next attempt, or the poll interval (which
        notices rows other replicas wrote)."""
        wait = self.poll_s if due is None else min(self.poll_s, max(0.0, due - time.time()))
        if wait > 0 and not self._stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), wait)

    async def _attempt(self, client: httpx.AsyncClient, hook: WebhookConfig,
                       row: WebhookDeliveryRow) -> None:  # fmt: skip
        body = row.body.encode()
        ts = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "X-Egiz-Event": row.event,
            "X-Egiz-Delivery": row.delivery_id,
            "X-Egiz-Timestamp": ts,
            "X-Egiz-Signature": sign(hook.secret.get_secret_value(), ts, body),
        }
        error: str | None = None
        try:
            r = await client.post(hook.url, content=body, headers=headers)
            if r.status_code >= 300:
                error = f"HTTP {r.status_code}"
        except httpx.HTTPError as err:
            error = f"{type(err).__name__}: {err}".rstrip(": ")
        now = time.time()
        retry_at = delay = None
        if error is not None and row.attempts < hook.max_attempts:
            delay = min(hook.backoff_s * 2 ** (row.attempts - 1), hook.backoff_max_s)
            retry_at = now + delay
        settled = await asyncio.to_thread(
            self.store.settle_webhook_delivery, row.delivery_id, self.owner, now,
            error=error, retry_at=retry_at,
        )  # fmt: skip
        # Counted once the outcome is recorded, so a count never runs ahead of the outbox.
        if not settled:
            # Our lease ran out before the post finished: another replica may post it again.
            self.lease_lost += 1
            log.warning("webhook %s: lease of %s ran out during the attempt (%s); it may be "
                        "delivered twice (receivers dedupe on X-Egiz-Delivery)",
                        hook.key, row.delivery_id, error or "delivered")  # fmt: skip
        elif error is None:
            self.delivered += 1
        elif delay is None:
            self.failed += 1
            log.error("webhook %s: %s %s failed after %d attempts, kept as failed: %s",
                      hook.key, row.event, row.delivery_id, row.attempts, error)  # fmt: skip
        else:
            self.retried += 1
            log.warning("webhook %s: %s %s attempt %d/%d failed (%s); next in %.1f s",
                        hook.key, row.event, row.delivery_id, row.attempts, hook.max_attempts,
                        error, delay)  # fmt: skip

    async def _prune_loop(self) -> None:
        while not self._stopping:
            try:
                now = time.time()
                n = await asyncio.to_thread(
                    self.store.prune_webhook_deliveries, now - self.delivered_retention_s,
                    now - self.closed_retention_s,
                )  # fmt: skip
                if n:
                    log.info("webhooks: pruned %d settled deliveries", n)
            except Exception:
                self.errors += 1
                log.exception("webhooks: pruning the outbox failed; retrying later")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopped.wait(), self.prune_every_s)

    def collector(self) -> Collector:
        """A Prometheus collector: outbox rows per hook and state, and this process's counts."""
        return _NotifierCollector(self)


class _NotifierCollector(Collector):
    """Outbox rows per hook and state read at scrape time (the same on every replica), plus the
    attempt outcomes of this process."""

    def __init__(self, notifier: Notifier) -> None:
        self.notifier = notifier

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        n = self.notifier
        rows = GaugeMetricFamily(
            "egiz_webhook_deliveries",
            "webhook outbox rows by hook and state (pending, delivered, failed, dropped)",
            labels=["hook", "state"],
        )
        counts = n.store.webhook_counts() if n.hooks else {}
        for hook in n.hooks:
            for state in STATES:
                rows.add_metric([hook.key, state], counts.get((hook.key, state), 0))
        yield rows
        outcomes = CounterMetricFamily(
            "egiz_webhook_attempts",
            "webhook delivery attempts of this process, by outcome",
            labels=["outcome"],
        )
        for outcome in ("delivered", "retried", "failed", "lease_lost"):
            outcomes.add_metric([outcome], getattr(n, outcome))
        yield outcomes
        yield CounterMetricFamily(
            "egiz_webhook_dropped",
            "pending webhook deliveries this process dropped because a hook's queue was full",
            value=n.dropped,
        )
        yield CounterMetricFamily(
            "egiz_webhook_errors",
            "outbox store errors of this process (publish, delivery loop, pruning); logged",
            value=n.errors,
        )
