"""Contract suite over the source registry: every kind lives with no peer and recovers."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from egiz.contracts import SiteConfig, load_yaml_model
from egiz.edge.sources import REGISTRY, make_source
from egiz.edge.sources.mqtt import compile_template, parse_ts

SAMPLES = {
    load_yaml_model(SiteConfig, p).sources[0].kind: p
    for p in (Path(__file__).parents[2] / "edge" / "sources").glob("*.sample.yaml")
}


@pytest.mark.parametrize("kind", sorted(REGISTRY))
def test_source_without_peer_reports_reconnecting_and_stops_cleanly(kind, kit):
    cfg = load_yaml_model(SiteConfig, SAMPLES[kind]).sources[0]
    port = kit.free_port()  # nobody listens here
    if kind == "opcua":
        cfg = cfg.model_copy(update={"endpoint": f"opc.tcp://127.0.0.1:{port}/x"})
    else:
        cfg = cfg.model_copy(update={"url": f"mqtt://127.0.0.1:{port}"})
    notes = []

    async def go():
        async with make_source(cfg, on_note=notes.append) as src:
            consumer = asyncio.create_task(anext(src.stream()))
            for _ in range(100):
                if src.state == "reconnecting":
                    break
                await asyncio.sleep(0.05)
            state = src.state
            consumer.cancel()
            return state, src.stats()

    state, stats = asyncio.run(go())
    assert state == "reconnecting" and stats["kind"] == kind
    assert any(n.data.get("state") == "reconnecting" for n in notes)


def test_mqtt_template_and_timestamps():
    assert compile_template("egiz/s/{asset}/{signal}") == (
        "egiz/s/+/+",
        ["egiz", "s", "{asset}", "{signal}"],
    )
    assert parse_ts(1_800_000_000_000) == 1_800_000_000.0
    assert parse_ts("2027-01-15T08:00:00Z") == parse_ts("2027-01-15T08:00:00+00:00")
