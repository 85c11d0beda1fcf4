"""Uplink: ship outbox batches to the cloud over HTTP(S); the answer's stored set decides deletes."""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
import ssl
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from pydantic import ValidationError

from egiz.contracts import SCHEMA_VERSION, UplinkAnswer, UplinkConfig, from_ranges

from .backoff import Retry
from .errors import UplinkError
from .outbox import PHASE_HOLD_S, Batch, Outbox, phase

log = logging.getLogger(__name__)

INGEST_PATH = "/api/v1/ingest"


def read_token(config: UplinkConfig, base_dir: Path) -> str | None:
    """Return the bearer token from the config or its token file (relative to the config)."""
    if config.token is not None:
        return config.token.get_secret_value()
    if config.token_file:
        path = Path(config.token_file)
        if not path.is_absolute():
            path = base_dir / path
        try:
            return path.read_text(encoding="utf-8").strip()
        except OSError as err:
            raise UplinkError(f"uplink.token_file {path}: {err.strerror}") from err
    return None


class Uplink:
    """Sends batches while there is something to send; backs off with jitter when refused."""

    def __init__(
        self,
        config: UplinkConfig,
        outbox: Outbox,
        *,
        token: str | None,
        heartbeat: Callable[[], dict[str, Any]] | None = None,
        client: httpx.AsyncClient | None = None,
        extras: Callable[[], dict[str, Any]] | None = None,
        on_answer: Callable[[UplinkAnswer], None] | None = None,
    ) -> None:
        self.config = config
        self.outbox = outbox
        self.heartbeat = heartbeat
        # Control hooks (edge/control): ledger head + command receipts out, commands in.
        self.extras = extras
        self.on_answer = on_answer
        self._token = token
        self._client = client
        self._own_client = client is None
        self._retry = Retry(config.backoff)
        self._last_heartbeat = 0.0
        self.wake = asyncio.Event()
        self.state = "idle"
        self.batches = 0
        self.synced = 0
        self.rejected = 0
        self.failures = 0
        self.bytes_sent = 0
        self.last_error = ""
        self.last_ok: float | None = None
        self.clock_offset_s: float | None = None

    def stats(self) -> dict[str, Any]:
        """Return the uplink's state and counters."""
        return {
            "url": self.config.url,
            "state": self.state,
            "batches": self.batches,
            "records_synced": self.synced,
            "rejected": self.rejected,
            "failures": self.failures,
            "bytes_sent": self.bytes_sent,
            "last_error": self.last_error,
            "last_ok_s_ago": None if self.last_ok is None else time.time() - self.last_ok,
            "clock_offset_s": self.clock_offset_s,
        }

    async def run(self, stop: asyncio.Event) -> None:
        """Send until ``stop`` is set, then try briefly to drain what is left."""
        if self._client is None:
            # httpx deprecates verify=<path>; an SSLContext with our CA is the supported form.
            verify: Any = (
                ssl.create_default_context(cafile=self.config.ca_file)
                if self.config.ca_file
                else True
            )
            self._client = httpx.AsyncClient(timeout=self.config.timeout_s, verify=verify)
        try:
            while not stop.is_set():
                delay = await self._step()
                self.wake.clear()
                waiters = [
                    asyncio.ensure_future(stop.wait()),
                    asyncio.ensure_future(self.wake.wait()),
                ]
                try:
                    await asyncio.wait(waiters, timeout=delay, return_when="FIRST_COMPLETED")
                finally:
                    for w in waiters:
                        w.cancel()
            # A last short drain so a clean stop leaves little behind; the outbox keeps the rest.
            deadline = time.monotonic() + min(5.0, self.config.timeout_s)
            while time.monotonic() < deadline and self.state != "backoff":
                if await self._step() > 0:
                    break
        finally:
            if self._own_client and self._client is not None:
                await self._client.aclose()

    async def _step(self) -> float:
        """Send at most one batch; return how long to wait before the next step."""
        self._maybe_heartbeat()
        batch = self.outbox.begin(self.config.max_batch_records)
        if not batch:
            self.outbox.end(batch, set())
            self.state = "idle" if self.state != "backoff" else self.state
            return self.config.interval_s
        try:
            await self.send(batch)
        except UplinkError as err:
            self.failures += 1
            self.last_error = str(err)
            self.state = "backoff"
            delay = self._retry.next_delay()
            log.warning("uplink: %s; retrying in %.1f s", err, delay)
            return delay
        self._retry.reset()
        self.state = "ok"
        self.last_error = ""
        # A full batch means a backlog: go again at once (the bandwidth cap still applies).
        return 0.0 if len(batch) >= self.config.max_batch_records else self.config.interval_s

    def _maybe_heartbeat(self) -> None:
        now = time.monotonic()
        if self.heartbeat is None or now - self._last_heartbeat < self.config.heartbeat_interval_s:
            return
        self._last_heartbeat = now
        from .outbox import LANE_HEARTBEAT, Item

        self.outbox.replace_heartbeat(Item(LANE_HEARTBEAT, self.heartbeat(), data_ts=time.time()))

    def body(self, batch: Batch) -> bytes:
        """Return the UplinkBatch JSON of ``batch`` (records spliced in without re-encoding)."""
        head = json.dumps(
            {
                "schema": SCHEMA_VERSION,
                "edge_id": self.config.edge_id,
                "epoch": self.outbox.epoch,
                "batch_id": str(uuid.uuid4()),
                "sent_at": datetime.now(UTC).isoformat(),
                **(self.extras() if self.extras else {}),
            },
            separators=(",", ":"),
        )
        return (head[:-1] + ',"records":[' + ",".join(batch.bodies) + "]}").encode()

    async def send(self, batch: Batch) -> UplinkAnswer:
        """POST one batch and settle it in the outbox; raise UplinkError when it did not land."""
        assert self._client is not None
        if not self.config.url:
            self.outbox.end(batch, set())
            raise UplinkError("no uplink.url configured (offline edge)")
        raw = self.body(batch)
        headers = {"Content-Type": "application/json"}
        data = raw
        if self.config.gzip:
            data = gzip.compress(raw, compresslevel=6)
            headers["Content-Encoding"] = "gzip"
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        url = self.config.url.rstrip("/") + INGEST_PATH
        t0 = time.time()
        phase("upload-begin")
        try:
            resp = await self._client.post(url, content=data, headers=headers)
        except httpx.HTTPError as err:
            self.outbox.end(batch, set())
            phase("upload-end")
            raise UplinkError(f"{url}: {type(err).__name__}: {err}") from err
        t1 = time.time()
        self.bytes_sent += len(data)
        try:
            if resp.status_code != 200:
                raise UplinkError(f"{url}: HTTP {resp.status_code}: {resp.text[:200]}")
            try:
                answer = UplinkAnswer.model_validate_json(resp.content)
            except ValidationError as err:
                raise UplinkError(f"{url}: unreadable answer: {err.errors()[0]['msg']}") from err
            if answer.epoch != self.outbox.epoch:
                raise UplinkError(
                    f"answer is for epoch {answer.epoch}, ours is {self.outbox.epoch}"
                )
        except UplinkError:
            self.outbox.end(batch, set())
            phase("upload-end")
            raise
        stored = from_ranges(answer.stored)
        rejected: dict[int, str] = {}
        for r in answer.rejected:
            seq = (
                r.seq
                if r.seq is not None
                else (batch.seqs[r.index] if r.index < len(batch.seqs) else None)
            )
            if seq is not None:
                rejected[seq] = r.reason
        if PHASE_HOLD_S:
            # Test hook: the cloud has stored the batch, the outbox does not know it yet.
            await asyncio.sleep(PHASE_HOLD_S)
        self.outbox.end(batch, stored, rejected)
        phase("upload-end")
        if self.on_answer is not None:
            self.on_answer(answer)
        mine = set(batch.seqs)
        self.synced += len(stored & mine)
        self.rejected += len(set(rejected) & mine)
        self.batches += 1
        self.last_ok = t1
        # Edge clock minus cloud clock, taking the request's midpoint as the server's instant.
        server = answer.server_time
        if server.tzinfo is None:
            server = server.replace(tzinfo=UTC)
        self.clock_offset_s = (t0 + t1) / 2 - server.timestamp()
        await self._throttle(len(data), t1 - t0)
        return answer

    async def _throttle(self, nbytes: int, took: float) -> None:
        cap = self.config.bandwidth_cap_bytes_s
        if cap:
            await asyncio.sleep(max(0.0, nbytes / cap - took))
