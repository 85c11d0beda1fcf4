"""Fixtures of the ledger tests: a cloud store on SQLite and on a fresh PostgreSQL database."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from egiz.cloud.store import Store, open_store

PG_ADMIN = os.environ.get("EGIZ_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


@pytest.fixture(scope="session")
def ledger_pg() -> Iterator[str]:
    """A fresh PostgreSQL database for this run (dropped after); fails under CI=true if absent."""
    import psycopg

    name = f"egiz_ledger_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5)
    except psycopg.Error as err:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true and PostgreSQL at {PG_ADMIN} is unreachable: {err}")
        pytest.skip(f"MISSING SERVICE (would fail under CI=true): PostgreSQL: {err}")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{PG_ADMIN.rsplit('/', 1)[0]}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path) -> Iterator[Store]:
    """A migrated cloud store of each backend; PostgreSQL gets a fresh schema per test."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/cloud.db"
    else:
        import psycopg

        base = request.getfixturevalue("ledger_pg")
        schema = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
        url = f"{base}?options=-csearch_path%3D{schema}"
    s = open_store(url)
    if request.param == "postgres":
        # Proof the suite really ran against PostgreSQL, not a silent fallback.
        assert s.server_version().startswith("PostgreSQL")
    yield s
    s.close()
