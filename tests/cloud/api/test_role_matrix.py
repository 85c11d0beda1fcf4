"""Every endpoint × every identity gives the hand-written status (issue 5 acceptance 3).

The table is the specification; the test enumerates the app's routes, so an endpoint that is
missing from the table (or a table row without an endpoint) fails it.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from egiz.cloud.app import create_app
from egiz.cloud.config import CloudSettings
from egiz.cloud.services.auth import add_user, issue_token
from egiz.cloud.services.edges import add_edge
from egiz.cloud.services.ingest import ingest
from egiz.contracts import UplinkBatch

WHO = ("none", "device", "viewer", "engineer", "operator", "admin", "fleet_admin", "other_op")
GRANTS = {
    "viewer": {"plant": "viewer"},
    "engineer": {"plant": "engineer"},
    "operator": {"plant": "operator"},
    "admin": {"plant": "admin"},
    "fleet_admin": {"*": "admin"},
    "other_op": {"mine": "operator", "plant-b": "viewer"},
}

#        method  path                                        none dev view eng  op  adm fleet other
MATRIX = """
GET    /healthz                                      200 200 200 200 200 200 200 200
GET    /readyz                                       200 200 200 200 200 200 200 200
GET    /openapi.json                                 200 200 200 200 200 200 200 200
GET    /docs                                         200 200 200 200 200 200 200 200
GET    /                                             307 307 307 307 307 307 307 307
GET    /dashboard/settings.json                      200 200 200 200 200 200 200 200
MOUNT  /dashboard                                    200 200 200 200 200 200 200 200
MOUNT  /static/swagger                               200 200 200 200 200 200 200 200
POST   /api/v1/auth/login                            200 200 200 200 200 200 200 200
POST   /api/v1/auth/logout                           401 401 204 204 204 204 204 204
GET    /api/v1/auth/me                               401 401 200 200 200 200 200 200
POST   /api/v1/ingest                                401 200 401 401 401 401 401 401
GET    /api/v1/users                                 401 401 403 403 403 403 200 403
POST   /api/v1/users                                 401 401 403 403 403 403 201 403
DELETE /api/v1/users/{username}                      401 401 403 403 403 403 204 403
GET    /api/v1/assets                                401 401 200 200 200 200 200 200
GET    /api/v1/assets/{asset_id}                     401 401 200 200 200 200 200 403
GET    /api/v1/assets/{asset_id}/history             401 401 200 200 200 200 200 403
GET    /api/v1/assets/{asset_id}/history.csv         401 401 403 200 200 200 200 403
GET    /api/v1/alarms                                401 401 200 200 200 200 200 200
POST   /api/v1/alarms/{site}/{alarm_id}/ack          401 401 403 403 200 200 200 403
POST   /api/v1/alarms/{site}/{alarm_id}/shelve       401 401 403 403 200 200 200 403
POST   /api/v1/alarms/{site}/{alarm_id}/unshelve     401 401 403 403 200 200 200 403
POST   /api/v1/alarms/{site}/{alarm_id}/clear        401 401 403 403 200 200 200 403
GET    /api/v1/events                                401 401 200 200 200 200 200 200
GET    /api/v1/edges                                 401 401 200 200 200 200 200 200
POST   /api/v1/edges                                 401 401 403 403 403 201 201 403
POST   /api/v1/edges/{edge_id}/rotate                401 401 403 403 403 200 200 403
POST   /api/v1/edges/{edge_id}/revoke                401 401 403 403 403 204 204 403
GET    /api/v1/fleet/health                          401 401 200 200 200 200 200 200
GET    /metrics                                      401 401 200 200 200 200 200 200
GET    /api/v1/stream                                401 401 200 200 200 200 200 200
GET    /api/v1/sites                                 401 401 200 200 200 200 200 200
PUT    /api/v1/sites/{site}                          401 401 403 200 403 200 200 403
GET    /api/v1/assets/{asset_id}/commands            401 401 200 200 200 200 200 403
POST   /api/v1/assets/{asset_id}/commands            401 401 403 403 201 201 201 403
GET    /api/v1/commands/{command_id}                 401 401 200 200 200 200 200 403
POST   /api/v1/commands/{command_id}/approve         401 401 403 403 200 200 200 403
GET    /api/v1/assets/{asset_id}/maintenance         401 401 200 200 200 200 200 403
POST   /api/v1/assets/{asset_id}/maintenance         401 401 403 201 201 201 201 403
GET    /api/v1/ledger/verify                         401 401 403 403 403 403 200 403
"""


def _table() -> dict[tuple[str, str], dict[str, int]]:
    out = {}
    for line in MATRIX.strip().splitlines():
        method, path, *codes = line.split()
        assert len(codes) == len(WHO), line
        out[(method, path)] = dict(zip(WHO, map(int, codes), strict=True))
    return out


def app_routes(app: FastAPI) -> set[tuple[str, str]]:
    """Every (method, path) the app serves; mounts as ('MOUNT', path)."""
    found: set[tuple[str, str]] = set()
    for route in app.routes:
        contexts = getattr(route, "effective_route_contexts", None)
        # FastAPI >= 0.150 keeps included routers as one entry that expands to its routes.
        for r in contexts() if contexts else [route]:
            methods = getattr(r, "methods", None)
            if methods:
                found |= {(m, r.path) for m in methods if m != "HEAD"}
            else:
                found.add(("MOUNT", r.path))
    return found


class World:
    """The app with a site, an alarm source and one token per identity."""

    def __init__(self, app: FastAPI, client: TestClient) -> None:
        self.app, self.client, self.store = app, client, app.state.store
        self.edge_token = add_edge(self.store, "edge-1")
        for name, grants in GRANTS.items():
            add_user(self.store, name, f"{name}-password", grants)
        self.n = itertools.count(1)
        self.seq = itertools.count(1)
        self._ingest([{"type": "manifest", "seq": next(self.seq),
                       "site": {"id": "plant"}, "hash": "0" * 64,
                       "asset_types": [{"name": "pump", "signals": [{"name": "flow", "unit": "m3/h"}],
                                        "commands": [{"name": "stop"},
                                                     {"name": "start", "critical": True}]}],
                       "assets": [{"id": "pump-1", "type": "pump", "area": "a"}]}])  # fmt: skip

    def _ingest(self, records: list[dict[str, Any]]) -> None:
        body = {"edge_id": "edge-1", "epoch": "e", "batch_id": "b", "sent_at": "2026-01-01T00:00:00Z",
                "records": records}  # fmt: skip
        edge = self.store.edge("edge-1")
        ans = ingest(self.store, edge, UplinkBatch.model_validate(body))
        assert not ans.rejected, ans.rejected

    def headers(self, who: str) -> dict[str, str]:
        if who == "none":
            return {}
        if who == "device":
            return {"Authorization": f"Bearer {self.edge_token}"}
        return {"Authorization": f"Bearer {issue_token(self.store, who)[0]}"}

    def request(self, method: str, path: str, who: str) -> int:
        n = next(self.n)
        fill = {"asset_id": "plant.pump-1", "site": "plant", "alarm_id": f"al-{n}",
                "edge_id": f"ex-{n}", "username": f"u-{n}"}  # fmt: skip
        if "{alarm_id}" in path:
            self._ingest([{"type": "event", "seq": next(self.seq), "kind": "alarm_raise",
                           "ts": "2026-01-01T00:00:00Z", "asset": "pump-1", "alarm_id": f"al-{n}"}])  # fmt: skip
        if "{edge_id}" in path:
            add_edge(self.store, f"ex-{n}", site="plant")
        if "{command_id}" in path:  # a critical command by someone else, awaiting approval
            from egiz.cloud.services import commands
            from egiz.cloud.services.auth import authenticate_user

            if self.store.user("cmd-issuer") is None:
                add_user(self.store, "cmd-issuer", "issuer-password", {"*": "admin"})
            issuer = authenticate_user(
                self.store, f"Bearer {issue_token(self.store, 'cmd-issuer')[0]}"
            )
            fill["command_id"] = commands.create(
                self.store, issuer, "plant", "pump-1", commands.CommandCreate(action="start")
            ).id
        if "{username}" in path:
            add_user(self.store, f"u-{n}", "password-1", {"plant": "viewer"})
        url = path.format(**fill)
        body: Any = {
            "/api/v1/auth/login": {"username": "viewer", "password": "viewer-password"},
            "/api/v1/users": {"username": f"new-{n}", "password": "password-1", "grants": {"plant": "viewer"}},
            "/api/v1/edges": {"edge_id": f"new-{n}", "site": "plant"},
            "/api/v1/sites/{site}": {  # the same twin the edge registered: later rows need it
                "site": {"id": "plant"}, "assets": [{"id": "pump-1", "type": "pump", "area": "a"}],
                "asset_types": [{"name": "pump", "signals": [{"name": "flow", "unit": "m3/h"}],
                                 "commands": [{"name": "stop"},
                                              {"name": "start", "critical": True}]}]},
            "/api/v1/assets/{asset_id}/commands": {"action": "stop"},
            "/api/v1/assets/{asset_id}/maintenance": {"action": "bearing_replaced"},
            "/api/v1/ingest": {"edge_id": "edge-1", "epoch": "e2", "batch_id": "b",
                               "sent_at": "2026-01-01T00:00:00Z", "records": []},
        }.get(path)  # fmt: skip
        if path.endswith("/shelve"):
            body = {"duration_s": 60}
        if method == "MOUNT":
            method, url = "GET", {"/dashboard": "/dashboard/app.js",
                                  "/static/swagger": "/static/swagger/swagger-ui.css"}[path]  # fmt: skip
        params = {"timeout_s": 0} if path == "/api/v1/stream" else None  # end the SSE stream
        r = self.client.request(method, url, json=body, headers=self.headers(who), params=params,
                                follow_redirects=False)  # fmt: skip
        if r.status_code >= 400:
            assert r.json()["detail"], (method, url, who)  # every refusal says why
        return r.status_code


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Iterator[World]:
    db = tmp_path_factory.mktemp("matrix") / "c.db"
    app = create_app(CloudSettings(db_url=f"sqlite:///{db}"))
    with TestClient(app) as client:
        yield World(app, client)


def test_role_matrix_covers_every_route(world: World) -> None:
    table = set(_table())
    routes = app_routes(world.app)
    assert routes - table == set(), "endpoints missing from the role matrix"
    assert table - routes == set(), "role matrix rows without an endpoint"


@pytest.mark.parametrize(("method", "path"), list(_table()))
def test_role_matrix_status(world: World, method: str, path: str) -> None:
    expected = _table()[(method, path)]
    got = {who: world.request(method, path, who) for who in WHO}
    assert got == expected
