"""An app over each store backend, with one provisioned edge."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from egiz.cloud.app import create_app
from egiz.cloud.config import CloudSettings
from egiz.cloud.services.auth import add_user, issue_token
from egiz.cloud.services.edges import add_edge
from egiz.cloud.store import Store


@dataclass
class Cloud:
    """A test client, the app's store and the edge's auth header."""

    client: TestClient
    store: Store
    auth: dict[str, str]  # the edge's
    admin: dict[str, str]  # a fleet-wide admin user's


@pytest.fixture
def cloud(store_url: str) -> Iterator[Cloud]:
    app = create_app(CloudSettings(db_url=store_url, max_body_bytes=64 * 1024))
    token = add_edge(app.state.store, "edge-1")
    add_user(app.state.store, "root", "root-password", {"*": "admin"})
    user_token, _ = issue_token(app.state.store, "root")
    with TestClient(app) as client:
        yield Cloud(
            client,
            app.state.store,
            {"Authorization": f"Bearer {token}"},
            {"Authorization": f"Bearer {user_token}"},
        )
