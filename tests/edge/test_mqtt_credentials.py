"""A broker that refuses the MQTT source (wrong password, unknown CA) gives one clear event and
a steady ``refused`` state with the reason and the fix — not a silent reconnect loop."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from egiz.contracts import MqttSourceConfig
from egiz.edge.sources import make_source
from egiz.edge.sources.base import SourceNote

from .mqtt_kit import Broker


@pytest.fixture
def tls_broker(tmp_path: Path):  # type: ignore[no-untyped-def]
    with Broker(tmp_path, tls=True) as broker:
        yield broker


def _watch(cfg: MqttSourceConfig, seconds: float) -> tuple[dict, list[SourceNote]]:
    notes: list[SourceNote] = []

    async def main() -> dict:
        src = make_source(cfg, on_note=notes.append)
        async with src:
            stream = src.stream()
            consume = asyncio.create_task(anext(stream))  # notes are handed over by stream()
            await asyncio.sleep(seconds)
            consume.cancel()
            return src.stats()

    return asyncio.run(main()), notes


@pytest.mark.parametrize("problem", ["password", "ca"])
def test_refused_login_is_one_clear_event_and_a_steady_state(
    tls_broker: Broker, tmp_path: Path, problem: str
) -> None:
    assert tls_broker.tls is not None
    ca = tls_broker.tls.ca
    if problem == "ca":  # a CA that did not sign the broker's certificate
        from egiz.cli.certs import create

        ca, _ = create(tmp_path / "other-ca", ("x",))
    cfg = MqttSourceConfig(
        name="mq",
        url=tls_broker.url,
        username=tls_broker.tls.username,
        password="wrong" if problem == "password" else tls_broker.tls.password,
        ca_file=str(ca),
        clean_start=True,
        reconnect={"initial_s": 0.2, "max_s": 0.4},
        subscriptions=[{"topic": "cred-test/{asset}/{signal}"}],
    )
    stats, notes = _watch(cfg, 3.0)
    assert stats["state"] == "refused", stats
    assert stats["reconnects"] >= 3  # it keeps trying (the broker may be fixed meanwhile)...
    refused = [n for n in notes if n.data.get("state") == "refused"]
    assert len(refused) == 1, [n.message for n in notes]  # ...but says so once
    assert not [n for n in notes if n.data.get("state") == "reconnecting"]
    msg = refused[0].message
    if problem == "password":
        assert "refused the login" in msg and "fix: username and password" in msg, msg
    else:
        assert "TLS handshake" in msg and "CERTIFICATE_VERIFY_FAILED" in msg.upper(), msg
        assert "fix: ca_file" in msg
    assert stats["last_error"] in msg
