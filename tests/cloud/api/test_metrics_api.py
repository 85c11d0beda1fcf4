"""``/metrics``: ingest outcomes, store latency and per-edge backlog in Prometheus format."""

from __future__ import annotations

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from egiz.cloud.app import create_app
from egiz.cloud.config import CloudSettings
from egiz.cloud.services.edges import add_edge


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for fam in text_string_to_metric_families(text)
        for s in fam.samples
    }


def test_metrics_count_ingest_outcomes_and_edge_backlog(tmp_path, mk) -> None:
    app = create_app(CloudSettings(db_url=f"sqlite:///{tmp_path}/c.db", metrics_token="scrape-me"))
    token = add_edge(app.state.store, "edge-1")
    auth = {"Authorization": f"Bearer {token}"}
    bad = {**mk.window(4), "length_s": 0}
    with TestClient(app) as c:
        c.post("/api/v1/ingest", json=mk.batch([mk.manifest(1), mk.window(2)]), headers=auth)
        c.post("/api/v1/ingest", json=mk.batch([mk.window(2), mk.heartbeat(3), bad]), headers=auth)
        c.post("/api/v1/ingest", json=mk.batch([]), headers={"Authorization": "Bearer nope"})
        assert c.get("/metrics").status_code == 401
        assert c.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
        r = c.get("/metrics", headers={"Authorization": "Bearer scrape-me"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    s = _samples(r.text)
    rec = "egiz_ingest_records_total"
    assert s[(rec, (("edge", "edge-1"), ("outcome", "stored")))] == 3
    assert s[(rec, (("edge", "edge-1"), ("outcome", "duplicates")))] == 1
    assert s[(rec, (("edge", "edge-1"), ("outcome", "rejected")))] == 1
    assert s[("egiz_ingest_batches_total", (("status", "200"),))] == 2
    assert s[("egiz_ingest_batches_total", (("status", "401"),))] == 1
    assert s[("egiz_store_write_seconds_count", ())] == 2
    assert s[("egiz_edge_outbox_depth", (("edge", "edge-1"),))] == 3
    assert 0 <= s[("egiz_edge_last_seen_age_seconds", (("edge", "edge-1"),))] < 3600
