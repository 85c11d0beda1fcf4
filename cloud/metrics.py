"""Prometheus metrics of one app: ingest rate and outcome, store latency, lag per edge."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from .store import Store


class _EdgeCollector(Collector):
    """Per-edge gauges read from the store at scrape time (every replica reports the same)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def collect(self) -> Iterator[GaugeMetricFamily]:
        now = time.time()
        age = GaugeMetricFamily(
            "egiz_edge_last_seen_age_seconds",
            "seconds since the edge last sent a batch",
            labels=["edge"],
        )
        depth = GaugeMetricFamily(
            "egiz_edge_outbox_depth", "outbox depth in the newest heartbeat", labels=["edge"]
        )
        oldest = GaugeMetricFamily(
            "egiz_edge_oldest_unsent_seconds",
            "backlog age in the newest heartbeat",
            labels=["edge"],
        )
        for e in self.store.edges():
            if e.revoked_at is not None:
                continue
            if e.last_seen is not None:
                age.add_metric([e.edge_id], now - e.last_seen)
            hb = self.store.heartbeat(e.edge_id)
            if hb is not None:
                body = json.loads(hb.body)
                depth.add_metric([e.edge_id], body["outbox_depth"])
                if body.get("oldest_unsent_s") is not None:
                    oldest.add_metric([e.edge_id], body["oldest_unsent_s"])
        yield from (age, depth, oldest)


class CloudMetrics:
    """The app's metrics in their own registry."""

    def __init__(self, store: Store) -> None:
        self.registry = CollectorRegistry()
        self.records = Counter(
            "egiz_ingest_records", "records received, by outcome",
            ["edge", "outcome"], registry=self.registry,
        )  # fmt: skip
        self.batches = Counter(
            "egiz_ingest_batches", "ingest requests, by HTTP status", ["status"],
            registry=self.registry,
        )  # fmt: skip
        self.store_write = Histogram(
            "egiz_store_write_seconds", "time to write one batch to the store",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
            registry=self.registry,
        )  # fmt: skip
        self.registry.register(_EdgeCollector(store))

    def render(self) -> bytes:
        """Return the Prometheus text exposition."""
        return generate_latest(self.registry)
