"""Webhook notifications of alarm raise, clear and acknowledgement: signed, retried.

Each delivery is a JSON POST with ``X-Egiz-Event``, ``X-Egiz-Timestamp`` and
``X-Egiz-Signature: sha256=<hex HMAC of "<timestamp>.<body>" with the hook's secret>``, so a
receiver can check origin and freshness. Failed deliveries are retried with exponential
backoff; pending deliveries live in memory (a restart drops them; the alarm state stays in the
store and the API).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr

log = logging.getLogger(__name__)
EVENTS = frozenset({"alarm_raise", "alarm_clear", "alarm_ack"})


class WebhookConfig(BaseModel):
    """One receiver of alarm notifications."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    url: str = Field(pattern=r"^https?://")
    secret: SecretStr
    events: frozenset[str] = EVENTS
    max_attempts: int = Field(6, ge=1, le=20)
    backoff_s: float = Field(1.0, gt=0, description="first retry delay; doubles each time")


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """Return the signature header value of a delivery."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


class Notifier:
    """Queues notifications from any thread and delivers them from the event loop."""

    def __init__(self, hooks: list[WebhookConfig]) -> None:
        self.hooks = hooks
        self.delivered = 0
        self.failed = 0
        self._queue: asyncio.Queue[tuple[WebhookConfig, str, bytes]] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start delivering (call from the running loop)."""
        self._loop = asyncio.get_running_loop()
        self._queue = asyncio.Queue()
        self._task = asyncio.create_task(self._run())

    async def stop(self, drain_s: float = 5.0) -> None:
        """Deliver what is queued (for at most ``drain_s``), then stop."""
        if self._queue is not None:
            try:
                await asyncio.wait_for(self._queue.join(), drain_s)
            except TimeoutError:
                log.warning("webhooks: %d notifications not delivered", self._queue.qsize())
        if self._task is not None:
            self._task.cancel()

    def publish(self, event: str, payload: dict[str, Any]) -> None:
        """Queue ``event`` for every hook that wants it; safe to call from worker threads."""
        if self._loop is None or self._queue is None:
            return
        body = json.dumps({"event": event, "sent_at": time.time(), **payload}, default=str).encode()
        for hook in self.hooks:
            if event in hook.events:
                self._loop.call_soon_threadsafe(self._queue.put_nowait, (hook, event, body))

    async def _run(self) -> None:
        assert self._queue is not None
        async with httpx.AsyncClient(timeout=10) as client:
            while True:
                hook, event, body = await self._queue.get()
                try:
                    await self._deliver(client, hook, event, body)
                finally:
                    self._queue.task_done()

    async def _deliver(self, client: httpx.AsyncClient, hook: WebhookConfig, event: str,
                       body: bytes) -> None:  # fmt: skip
        delay = hook.backoff_s
        for attempt in range(1, hook.max_attempts + 1):
            ts = str(int(time.time()))
            headers = {
                "Content-Type": "application/json",
                "X-Egiz-Event": event,
                "X-Egiz-Timestamp": ts,
                "X-Egiz-Signature": sign(hook.secret.get_secret_value(), ts, body),
            }
            try:
                r = await client.post(hook.url, content=body, headers=headers)
                if r.status_code < 300:
                    self.delivered += 1
                    return
                reason = f"HTTP {r.status_code}"
            except httpx.HTTPError as err:
                reason = str(err) or type(err).__name__
            log.warning("webhook %s attempt %d/%d failed: %s", hook.url, attempt,
                        hook.max_attempts, reason)  # fmt: skip
            if attempt < hook.max_attempts:
                await asyncio.sleep(delay)
                delay *= 2
        self.failed += 1
