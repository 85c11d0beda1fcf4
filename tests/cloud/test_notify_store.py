"""The webhook outbox of the Store, on SQLite and PostgreSQL: claim, lease, settle, cap, prune."""

from __future__ import annotations

import threading

from egiz.cloud.store import Store
from egiz.cloud.store.base import WebhookDeliveryRow


def _row(n: int, hook: str = "h1", at: float = 100.0) -> WebhookDeliveryRow:
    return WebhookDeliveryRow(f"d{n:03d}", hook, "alarm_raise", f'{{"n": {n}}}', "pending",
                              at + n, at + n)  # fmt: skip


def test_outbox_claims_the_head_once_in_order_and_settles(store: Store) -> None:
    store.add_webhook_deliveries([_row(1), _row(2), _row(3, hook="h2")], {"h1": 9, "h2": 9}, 0)
    first = store.claim_webhook_delivery("h1", "r1", 200.0, 30.0)
    assert first is not None and first.delivery_id == "d001" and first.attempts == 1
    # The head is leased: nobody (not even its holder) claims the next row of that hook.
    assert store.claim_webhook_delivery("h1", "r2", 201.0, 30.0) is None
    assert store.claim_webhook_delivery("h1", "r1", 201.0, 30.0) is None
    assert store.webhook_head_due("h1") == 230.0
    other = store.claim_webhook_delivery("h2", "r2", 201.0, 30.0)
    assert other is not None and other.delivery_id == "d003"
    # Only the holder settles; a retry puts the head back with its next time.
    assert not store.settle_webhook_delivery("d001", "r2", 202.0)
    assert store.settle_webhook_delivery("d001", "r1", 202.0, error="HTTP 503", retry_at=210.0)
    assert store.claim_webhook_delivery("h1", "r2", 205.0, 30.0) is None  # not due yet
    again = store.claim_webhook_delivery("h1", "r2", 210.0, 30.0)
    assert again is not None and again.delivery_id == "d001" and again.attempts == 2
    assert again.last_error == "HTTP 503"
    assert store.settle_webhook_delivery("d001", "r2", 211.0)
    nxt = store.claim_webhook_delivery("h1", "r1", 212.0, 30.0)
    assert nxt is not None and nxt.delivery_id == "d002"
    assert store.settle_webhook_delivery("d002", "r1", 213.0, error="HTTP 410")  # failed
    assert store.webhook_head_due("h1") is None
    assert store.webhook_counts() == {("h1", "delivered"): 1, ("h1", "failed"): 1,
                                      ("h2", "pending"): 1}  # fmt: skip
    failed = store.webhook_deliveries(state="failed")
    assert [(r.delivery_id, r.last_error, r.done_at) for r in failed] == [("d002", "HTTP 410",
                                                                             213.0)]  # fmt: skip


def test_outbox_lease_of_a_crashed_owner_runs_out(store: Store) -> None:
    store.add_webhook_deliveries([_row(1)], {"h1": 9}, 0)
    assert store.claim_webhook_delivery("h1", "dead", 200.0, 30.0) is not None
    assert store.claim_webhook_delivery("h1", "alive", 229.0, 30.0) is None
    taken = store.claim_webhook_delivery("h1", "alive", 230.0, 30.0)
    assert taken is not None and taken.lease_owner == "alive" and taken.attempts == 2
    assert not store.settle_webhook_delivery("d001", "dead", 231.0)  # the dead lost its lease
    assert store.settle_webhook_delivery("d001", "alive", 231.0)


def test_outbox_release_gives_leases_back(store: Store) -> None:
    store.add_webhook_deliveries([_row(1)], {"h1": 9}, 0)
    assert store.claim_webhook_delivery("h1", "r1", 200.0, 30.0) is not None
    assert store.release_webhook_leases("r1") == 1
    assert store.claim_webhook_delivery("h1", "r2", 200.0, 30.0) is not None


def test_outbox_cap_drops_the_oldest_unleased_pending(store: Store) -> None:
    assert store.add_webhook_deliveries([_row(n) for n in range(3)], {"h1": 3}, 0) == []
    assert store.claim_webhook_delivery("h1", "r1", 200.0, 30.0) is not None  # d000 in flight
    dropped = store.add_webhook_deliveries([_row(3), _row(4), _row(9, hook="h2")],
                                           {"h1": 3, "h2": 3}, 201.0)  # fmt: skip
    # 5 pending for a cap of 3: the two oldest that are not in flight go.
    assert [r.delivery_id for r in dropped] == ["d001", "d002"]
    assert [r.delivery_id for r in store.webhook_deliveries("h1", "pending")] == [
        "d000", "d003", "d004"]  # fmt: skip
    gone = store.webhook_deliveries("h1", "dropped")
    assert [r.last_error for r in gone] == ["dropped: more than 3 pending for this hook"] * 2


def test_outbox_prune_by_state_and_age(store: Store) -> None:
    store.add_webhook_deliveries([_row(n) for n in range(4)], {"h1": 9}, 0)
    for n, error in ((0, None), (1, None), (2, "HTTP 500")):
        assert store.claim_webhook_delivery("h1", "r", 200.0 + n, 30.0) is not None
        store.settle_webhook_delivery(f"d00{n}", "r", 200.0 + n, error=error)
    assert store.prune_webhook_deliveries(delivered_before=201.5, closed_before=0) == 2
    assert store.prune_webhook_deliveries(delivered_before=999, closed_before=999) == 1
    assert store.webhook_counts() == {("h1", "pending"): 1}


def test_outbox_racing_claimers_get_each_row_once(store: Store) -> None:
    """Threads (own connections, like replicas) race for heads: each row is claimed once."""
    store.add_webhook_deliveries([_row(n) for n in range(60)], {"h1": 100}, 0)
    claimed: list[str] = []
    lock = threading.Lock()

    def replica(owner: str) -> None:
        while True:
            row = store.claim_webhook_delivery("h1", owner, 500.0, 30.0)
            if row is None:
                if store.webhook_head_due("h1") is None:
                    return
                continue
            with lock:  # before settling: nobody can claim the next row until then
                claimed.append(row.delivery_id)
            if not store.settle_webhook_delivery(row.delivery_id, owner, 500.0):
                with lock:
                    claimed.append(f"lost {row.delivery_id}")

    threads = [threading.Thread(target=replica, args=(f"r{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert claimed == [f"d{n:03d}" for n in range(60)]  # once each, and in order
