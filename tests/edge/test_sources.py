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
            await asyncio.sleep(0.3)  # notes reach the sink through the stream's consumer
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


def _opcua_cfg(port: int, names: list[str], **over):
    from egiz.contracts import OpcUaSourceConfig

    nodes = [{"node": f"ns=2;s={n}", "asset": "pump-1", "signal": "flow"} for n in names]
    return OpcUaSourceConfig.model_validate(
        {
            "name": "plc",
            "endpoint": f"opc.tcp://127.0.0.1:{port}/egiz/",
            "subscription": {"publishing_interval_ms": 50},
            "nodes": nodes,
            **over,
        }
    )


async def _collect(src, want_refs: set[int], limit_s: float = 20.0) -> dict[int, list[float]]:
    got: dict[int, list[float]] = {}
    stream = src.stream()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit_s
    while not want_refs <= {r for r, v in got.items() if 7.0 in v}:
        assert loop.time() < deadline, f"only {sorted(got)} delivered"
        batch = await asyncio.wait_for(anext(stream), limit_s)
        for r, v in zip(batch.ref.tolist(), batch.value.tolist(), strict=True):
            got.setdefault(r, []).append(v)
    return got


def test_opcua_tags_split_over_sessions_and_a_bad_node_stops_nothing(kit):
    names = [f"t.n{i}" for i in range(5)]

    async def go():
        port = kit.free_port()
        async with kit.opcua_server(port, names) as (_server, nodes):
            cfg = _opcua_cfg(
                port,
                [*names, "t.missing"],
                subscription={
                    "publishing_interval_ms": 50,
                    "max_items_per_subscription": 2,
                    "max_subscriptions_per_session": 1,
                },
            )
            notes = []
            async with make_source(cfg, on_note=notes.append) as src:
                await kit.wait_until(lambda: src.state == "connected", 30, "3 sessions")
                for n in nodes.values():
                    await kit.write(n, 7.0, 1_800_000_000.0)
                got = await _collect(src, set(range(5)))
                return src.stats(), got, notes

    stats, got, notes = asyncio.run(go())
    assert len(stats["sessions"]) == 3  # 6 tags, 2 per subscription, 1 subscription a session
    assert set(got) >= set(range(5))
    assert list(stats["bad_nodes"]) == ["ns=2;s=t.missing"]
    assert any("t.missing" in n.message for n in notes)


def test_opcua_poll_mode_reads_values_with_their_timestamps(kit):
    async def go():
        port = kit.free_port()
        async with kit.opcua_server(port, ["t.p"]) as (_server, nodes):
            await kit.write(nodes["t.p"], 7.0, 1_800_000_123.5)
            cfg = _opcua_cfg(port, ["t.p"], mode="poll", poll_interval_s=0.1)
            async with make_source(cfg) as src:
                batch = await asyncio.wait_for(anext(src.stream()), 20)
                return batch

    batch = asyncio.run(go())
    assert batch.value.tolist() == [7.0] and batch.ts.tolist() == [1_800_000_123.5]


def test_opcua_basic256sha256_sign_and_encrypt_with_egiz_certs(tmp_path, kit):
    from asyncua import Server, ua

    from egiz.cli.certs import create

    _ca, (edge, sim) = create(tmp_path, names=("edge", "simulator"), hosts=["127.0.0.1"])

    async def go():
        port = kit.free_port()
        server = Server()
        await server.init()
        server.set_endpoint(f"opc.tcp://127.0.0.1:{port}/egiz/")
        # Only the encrypted endpoint: a client that fell back to None could not connect.
        server.set_security_policy([ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt])
        await server.load_certificate(str(sim.cert))
        await server.load_private_key(str(sim.key))
        await server.set_application_uri(sim.application_uri)
        idx = await server.register_namespace("urn:egiz:test")
        node = await server.nodes.objects.add_variable(ua.NodeId("t.s", idx), "s", 0.0)
        async with server:
            cfg = _opcua_cfg(
                port,
                ["t.s"],
                security={
                    "policy": "Basic256Sha256",
                    "mode": "SignAndEncrypt",
                    "certificate": str(edge.cert),
                    "private_key": str(edge.key),
                },
            )
            async with make_source(cfg) as src:
                await kit.wait_until(lambda: src.state == "connected", 30, "a secure session")
                await kit.write(node, 7.0, 1_800_000_000.0)
                return await _collect(src, {0})

    assert 7.0 in asyncio.run(go())[0]


def test_opcua_waiting_for_initial_data_is_not_a_sample(kit):
    """A node never written answers with BadWaitingForInitialData stamped with the server's
    clock; taken as a (bad) sample, that stamp would push data time past the real samples."""
    from asyncua import ua

    future = 1_900_000_000.0  # the server's wall clock, far ahead of the plant's data time

    async def go(mode: str):
        port = kit.free_port()
        async with kit.opcua_server(port, ["t.empty", "t.live"]) as (_server, nodes):
            await kit.write(nodes["t.empty"], 0.0, future, ua.StatusCodes.BadWaitingForInitialData)
            cfg = _opcua_cfg(port, ["t.empty", "t.live"], mode=mode, poll_interval_s=0.1)
            async with make_source(cfg) as src:
                await kit.wait_until(lambda: src.state == "connected", 30, "connected")
                await kit.write(nodes["t.live"], 7.0, 1_800_000_000.0)
                got = await _collect(src, {1})
                return got, src.stats()

    for mode in ("subscribe", "poll"):
        got, stats = asyncio.run(go(mode))
        assert 0 not in got, (mode, got)  # nothing from the node without a value
        assert stats["waiting_for_initial_data"] >= 1, (mode, stats)
