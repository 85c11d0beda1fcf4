"""Fixtures of the cloud tests: stores over SQLite and a real PostgreSQL, and record builders.

PostgreSQL: one fresh database per test run on 127.0.0.1:5432 (user postgres), one schema per
test inside it, dropped at the end. Under CI=true a missing server fails; elsewhere it skips
loudly.
"""

from __future__ import annotations

import os
import uuid
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from egiz.cloud.store import Store, open_store

PG_ADMIN = os.environ.get("EGIZ_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _pg_unavailable(err: Exception) -> None:
    msg = f"PostgreSQL at {PG_ADMIN} is not reachable: {err}"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{msg} (CI must run the PostgreSQL store tests)")
    warnings.warn(f"SKIPPING PostgreSQL tests: {msg}", stacklevel=1)
    pytest.skip(f"SKIPPING PostgreSQL tests: {msg}")


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """Create a fresh database for this test run; yield its URL; drop it afterwards."""
    import psycopg

    name = f"egiz_test_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5)
    except psycopg.Error as err:
        _pg_unavailable(err)
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_url(pg_database: str) -> str:
    """Return a URL whose search_path is a fresh schema of the run's database."""
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_database, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    return f"{pg_database}?options=-csearch_path%3D{schema}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path) -> str:
    """A database URL of each backend (the same tests run on both)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/cloud.db"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    """A migrated, empty store of each backend."""
    s = open_store(store_url)
    yield s
    s.close()


# --- record builders (plain dicts, as they travel on the wire) -----------------------------


def pump_type() -> dict[str, Any]:
    """An asset type with two signals."""
    return {
        "name": "pump",
        "signals": [
            {"name": "flow", "unit": "m3/h", "kind": "flow"},
            {"name": "bearing_temp", "unit": "degC", "kind": "temperature"},
        ],
    }


def manifest(seq: int, site: str = "plant", assets: tuple[str, ...] = ("pump-1", "pump-2"),
             h: str = "0") -> dict[str, Any]:  # fmt: skip
    """A site manifest record registering ``assets`` (all pumps in area 'pumping')."""
    return {
        "type": "manifest",
        "seq": seq,
        "site": {"id": site, "name": site.title()},
        "asset_types": [pump_type()],
        "assets": [{"id": a, "type": "pump", "name": a, "area": "pumping"} for a in assets],
        "hash": h * 64,
    }


def window(seq: int, asset: str = "pump-1", k: int = 0, flow: float = 10.0,
           bad: int = 0) -> dict[str, Any]:  # fmt: skip
    """Window ``k`` (10 s long from T0) of ``asset`` with flow last = ``flow``."""
    start = T0 + timedelta(seconds=10 * k)
    return {
        "type": "window",
        "seq": seq,
        "asset": asset,
        "start": start.isoformat(),
        "length_s": 10.0,
        "signals": {
            "flow": {"count": 10, "bad": bad, "min": flow - 1, "max": flow + 1, "mean": flow,
                     "std": 0.5, "last": flow,
                     "last_ts": (start + timedelta(seconds=9.5)).isoformat()},
            "bearing_temp": {"count": 10, "min": 40.0, "max": 41.0, "mean": 40.5, "std": 0.1,
                             "last": 40.7},
        },
    }  # fmt: skip


def event(seq: int, asset: str = "pump-1") -> dict[str, Any]:
    """An alarm raise event."""
    return {
        "type": "event", "seq": seq, "kind": "alarm_raise", "ts": T0.isoformat(),
        "asset": asset, "signal": "flow", "severity": "high", "message": "flow high",
        "alarm_id": f"a-{seq}",
    }  # fmt: skip


def heartbeat(seq: int) -> dict[str, Any]:
    """A heartbeat."""
    return {"type": "heartbeat", "seq": seq, "ts": T0.isoformat(), "outbox_depth": 3}


def batch(records: list[dict[str, Any]], edge_id: str = "edge-1", epoch: str = "ep1",
          batch_id: str = "b1") -> dict[str, Any]:  # fmt: skip
    """An uplink batch body."""
    return {
        "schema": 1, "edge_id": edge_id, "epoch": epoch, "batch_id": batch_id,
        "sent_at": T0.isoformat(), "records": records,
    }  # fmt: skip


class Factory:
    """The builders above, handed to tests as a fixture (importlib mode has no conftest import)."""

    T0 = T0
    pump_type = staticmethod(pump_type)
    manifest = staticmethod(manifest)
    window = staticmethod(window)
    event = staticmethod(event)
    heartbeat = staticmethod(heartbeat)
    batch = staticmethod(batch)


@pytest.fixture
def mk() -> type[Factory]:
    """Record and batch builders."""
    return Factory
