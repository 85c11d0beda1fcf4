"""Fixtures of the simulator tests: a free OPC UA port and a unique MQTT topic prefix."""

from __future__ import annotations

import socket
import uuid

import pytest


@pytest.fixture
def opcua_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def topic_prefix() -> str:
    """A topic prefix no other test (or engineer) uses."""
    return f"egiz-test-{uuid.uuid4().hex[:10]}"
