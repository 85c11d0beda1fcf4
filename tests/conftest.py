"""Fixtures every test folder shares: free ports, data paths, and the CI no-skip rule."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
#: ../shared/data beside the repo root, locally and in CI (read in place, never copied).
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
IN_CI = os.environ.get("CI", "").lower() == "true"


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_open(host: str, port: int, timeout: float = 1.0) -> bool:
    """Return True when something accepts TCP connections at host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def require(condition: bool, reason: str) -> None:
    """Skip loudly on a laptop when a needed service is missing; under CI=true, fail instead."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"CI=true and a required service is missing: {reason}")
    pytest.skip(f"MISSING SERVICE (would fail under CI=true): {reason}")


@pytest.fixture
def mosquitto() -> tuple[str, int]:
    """The machine's shared Mosquitto; tests must use a unique topic prefix."""
    require(port_open("127.0.0.1", 1883), "Mosquitto at 127.0.0.1:1883")
    return "127.0.0.1", 1883


@pytest.fixture
def shared_data() -> Path:
    """The datasets in ../shared/data."""
    require(SHARED_DATA.is_dir(), f"datasets at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture
def unused_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    return free_port()
