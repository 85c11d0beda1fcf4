"""The durable webhook outbox end to end: real apps over SQLite and PostgreSQL, real receivers.

A delivery queued while its receiver is down survives a cloud restart; two replicas over one
database deliver each notification exactly once and one at a time; a full hook drops its
oldest pending delivery (logged, counted); a delivery that keeps failing is kept as failed;
a crashed replica's lease runs out and another delivers the row.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from fastapi.testclient import TestClient

from egiz.cloud.app import create_app
from egiz.cloud.config import CloudSettings
from egiz.cloud.notify import WebhookConfig, sign
from egiz.cloud.services.edges import add_edge
from egiz.cloud.store import open_store

SECRET = "s3cret"


class Receiver:
    """A webhook receiver on loopback: records every POST; can answer an error status or hold
    requests until released; counts how many requests are in flight at once."""

    def __init__(self, port: int = 0, status: int = 204) -> None:
        self.got: list[tuple[dict[str, str], bytes]] = []
        self.arrived: list[float] = []  # wall clock of each POST
        self.status = status
        self.gate = threading.Event()
        self.gate.set()
        self.inflight = 0
        self.max_inflight = 0
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with outer._lock:
                    outer.inflight += 1
                    outer.max_inflight = max(outer.max_inflight, outer.inflight)
                    outer.got.append((dict(self.headers), body))
                    outer.arrived.append(time.time())
                outer.gate.wait(30)
                with outer._lock:
                    outer.inflight -= 1
                self.send_response(outer.status)
                self.end_headers()

            def log_message(self, *_args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def ids(self) -> list[str]:
        return [h["X-Egiz-Delivery"] for h, _ in self.got]

    def close(self) -> None:
        self.gate.set()
        self.server.shutdown()
        self.server.server_close()


def wait_for(cond: Callable[[], bool], what: str, limit_s: float = 30.0) -> None:
    """Poll ``cond`` until it holds; fail naming ``what`` when it never does."""
    deadline = time.monotonic() + limit_s
    while not cond():
        if time.monotonic() > deadline:
            pytest.fail(f"never happened: {what}")
        time.sleep(0.02)


def _settings(url: str, *hooks: WebhookConfig) -> CloudSettings:
    return CloudSettings(db_url=url, webhooks=hooks, maintenance_interval_s=None)


@contextmanager
def _running(settings: CloudSettings, **notifier: Any) -> Iterator[Any]:
    """A started app (its delivery loops run); yields the app; stops it on exit."""
    app = create_app(settings)
    for name, value in notifier.items():
        setattr(app.state.notifier, name, value)
    with TestClient(app):
        yield app


def _ack(app: Any, n: int) -> None:
    app.state.notifier.publish("alarm_ack", {"alarm": {"site": "plant", "alarm_id": f"al-{n}"}})


def _check_signed(headers: dict[str, str], body: bytes) -> dict[str, Any]:
    assert headers["X-Egiz-Signature"] == sign(SECRET, headers["X-Egiz-Timestamp"], body)
    payload = json.loads(body)
    assert payload["delivery_id"] == headers["X-Egiz-Delivery"]
    assert payload["event"] == headers["X-Egiz-Event"]
    return payload


def test_delivery_survives_a_cloud_restart(store_url: str, unused_port: int) -> None:
    port = unused_port  # nothing listens here yet: the receiver is down
    hook = WebhookConfig(url=f"http://127.0.0.1:{port}/hook", secret=SECRET, backoff_s=0.05,
                         backoff_max_s=0.2, max_attempts=20)  # fmt: skip
    with _running(_settings(store_url, hook), drain_s=0.0) as first:
        _ack(first, 1)
        wait_for(lambda: first.state.notifier.retried >= 2, "two failed attempts")
        assert first.state.notifier.delivered == 0
    store = open_store(store_url)
    try:
        (queued,) = store.webhook_deliveries(state="pending")
        assert queued.attempts >= 2 and "ConnectError" in (queued.last_error or "")
        assert queued.lease_owner is None  # the stopping app gave its lease back
        receiver = Receiver(port)
        try:
            with _running(_settings(store_url, hook)) as second:
                wait_for(lambda: len(receiver.got) == 1, "delivery by the restarted cloud")
                wait_for(lambda: second.state.notifier.delivered == 1, "settled")
        finally:
            receiver.close()
        headers, body = receiver.got[0]
        assert headers["X-Egiz-Delivery"] == queued.delivery_id
        assert _check_signed(headers, body)["alarm"]["alarm_id"] == "al-1"
        (done,) = store.webhook_deliveries()
        assert (done.delivery_id, done.state, done.attempts) == (
            queued.delivery_id, "delivered", queued.attempts + 1)  # fmt: skip
    finally:
        store.close()


def test_two_replicas_deliver_each_notification_exactly_once(store_url: str) -> None:
    receiver = Receiver()
    hook = WebhookConfig(url=receiver.url, secret=SECRET, name="ops")
    n = 40
    try:
        with _running(_settings(store_url, hook), poll_s=0.05) as a, \
                _running(_settings(store_url, hook), poll_s=0.05) as b:  # fmt: skip
            replicas = (a.state.notifier, b.state.notifier)
            receiver.gate.clear()  # the first post is held at the receiver
            for i in range(n):
                _ack((a, b)[i % 2], i)
            wait_for(lambda: receiver.inflight == 1, "the first post held")
            # While one replica's post is in flight the other keeps finding the head leased.
            misses = sum(r.claim_misses for r in replicas)
            wait_for(lambda: sum(r.claim_misses for r in replicas) >= misses + 3,
                     "the other replica trying to claim")  # fmt: skip
            assert len(receiver.got) == 1
            receiver.gate.set()
            wait_for(lambda: len(receiver.got) >= n, f"{n} deliveries")
            wait_for(lambda: sum(r.delivered for r in replicas) == n, "all settled")
            counts = a.state.store.webhook_counts()
    finally:
        receiver.close()
    ids = receiver.ids()
    assert len(ids) == n and len(set(ids)) == n  # each once
    assert receiver.max_inflight == 1  # one at a time per hook across both replicas
    assert counts == {("ops", "delivered"): n}
    acked = sorted(_check_signed(h, body)["alarm"]["alarm_id"] for h, body in receiver.got)
    assert acked == sorted(f"al-{i}" for i in range(n))


def test_full_hook_drops_its_oldest_pending_and_says_so(
    store_url: str, unused_port: int, caplog: pytest.LogCaptureFixture
) -> None:
    port = unused_port
    hook = WebhookConfig(url=f"http://127.0.0.1:{port}/hook", secret=SECRET, max_pending=3)
    app = create_app(_settings(store_url, hook))  # not started: nothing is delivered yet
    try:
        with caplog.at_level(logging.WARNING, logger="egiz.cloud.notify"):
            for i in range(5):
                _ack(app, i)
        warned = [r.getMessage() for r in caplog.records if "dropped the oldest" in r.getMessage()]
        assert len(warned) == 2 and "more than 3 pending" in warned[0]
        assert app.state.notifier.dropped == 2
        metrics = app.state.metrics.render().decode()
        assert "egiz_webhook_dropped_total 2.0" in metrics
        assert f'egiz_webhook_deliveries{{hook="{hook.url}",state="dropped"}} 2.0' in metrics
        assert f'egiz_webhook_deliveries{{hook="{hook.url}",state="pending"}} 3.0' in metrics
        gone = app.state.store.webhook_deliveries(state="dropped")
        assert [json.loads(r.body)["alarm"]["alarm_id"] for r in gone] == ["al-0", "al-1"]
    finally:
        app.state.store.close()
    receiver = Receiver(port)
    try:
        with _running(_settings(store_url, hook)) as started:
            wait_for(lambda: started.state.notifier.delivered == 3, "the three kept ones")
    finally:
        receiver.close()
    acked = [_check_signed(h, body)["alarm"]["alarm_id"] for h, body in receiver.got]
    assert acked == ["al-2", "al-3", "al-4"]  # the newest three, in order


def test_delivery_failing_every_attempt_is_kept_as_failed(store_url: str) -> None:
    receiver = Receiver(status=500)
    hook = WebhookConfig(url=receiver.url, secret=SECRET, max_attempts=3, backoff_s=0.05)
    try:
        with _running(_settings(store_url, hook)) as app:
            _ack(app, 1)
            wait_for(lambda: app.state.notifier.failed == 1, "failed after 3 attempts")
            metrics = app.state.metrics.render().decode()
            (failed,) = app.state.store.webhook_deliveries(state="failed")
    finally:
        receiver.close()
    assert len(receiver.got) == 3 and len(set(receiver.ids())) == 1  # one delivery, 3 tries
    assert (failed.attempts, failed.last_error) == (3, "HTTP 500")
    assert f'egiz_webhook_deliveries{{hook="{hook.url}",state="failed"}} 1.0' in metrics
    assert 'egiz_webhook_attempts_total{outcome="retried"} 2.0' in metrics


def test_lease_of_a_crashed_replica_runs_out_then_another_delivers(store_url: str) -> None:
    receiver = Receiver()
    hook = WebhookConfig(url=receiver.url, secret=SECRET)
    crashed_app = create_app(_settings(store_url, hook))  # never started: its loop never runs
    try:
        _ack(crashed_app, 9)
        # The "crashed" replica claimed the row and died before posting it.
        crashed = crashed_app.state.store.claim_webhook_delivery(hook.url, "dead", time.time(), 1.0)
        assert crashed is not None
    finally:
        crashed_app.state.store.close()
    try:
        with _running(_settings(store_url, hook), poll_s=0.05) as app:
            wait_for(lambda: app.state.notifier.delivered == 1, "delivery after the lease ran out")
            (row,) = app.state.store.webhook_deliveries()
    finally:
        receiver.close()
    assert receiver.ids() == [crashed.delivery_id]
    assert receiver.arrived[0] >= crashed.lease_until  # not posted while the lease held
    assert (row.state, row.attempts) == ("delivered", 2)  # the crashed attempt counts


def test_ingested_raise_and_clear_are_written_with_their_batch_in_order(
    store_url: str, mk: Any
) -> None:
    """The outbox rows of a batch's alarms commit with the batch: a retry notifies nobody, and
    a raise and clear of one batch (one instant) reach the receiver in batch order."""
    receiver = Receiver()
    hook = WebhookConfig(
        url=receiver.url, secret=SECRET, events=frozenset({"alarm_raise", "alarm_clear"})
    )
    app = create_app(_settings(store_url, hook))
    token = add_edge(app.state.store, "edge-1")
    raise_ = {**mk.event(2), "alarm_id": "al-7"}
    clear = {**mk.event(3), "kind": "alarm_clear", "alarm_id": "al-7"}
    body = mk.batch([mk.manifest(1), raise_, clear])
    try:
        with TestClient(app) as c:
            for _ in range(2):  # the retry is a duplicate: nothing more is written
                r = c.post(
                    "/api/v1/ingest", json=body, headers={"Authorization": f"Bearer {token}"}
                )
                assert r.status_code == 200
            wait_for(lambda: app.state.notifier.delivered == 2, "raise and clear delivered")
            counts = app.state.store.webhook_counts()
    finally:
        receiver.close()
    assert counts == {(hook.url, "delivered"): 2}
    events = [
        (h["X-Egiz-Event"], _check_signed(h, b)["alarm"]["alarm_id"]) for h, b in receiver.got
    ]
    assert events == [("alarm_raise", "al-7"), ("alarm_clear", "al-7")]


def test_delivered_rows_are_pruned_after_their_retention(store_url: str) -> None:
    receiver = Receiver()
    hook = WebhookConfig(url=receiver.url, secret=SECRET)
    try:
        with _running(_settings(store_url, hook), delivered_retention_s=0.2,
                      prune_every_s=0.05) as app:  # fmt: skip
            _ack(app, 1)
            wait_for(lambda: app.state.notifier.delivered == 1, "delivered")
            wait_for(lambda: app.state.store.webhook_counts() == {}, "the delivered row pruned")
    finally:
        receiver.close()
    assert len(receiver.got) == 1
