"""Provisioning and authentication of edge devices (per-device tokens, stored hashed)."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time

from ..errors import Conflict, InvalidInput, NotFound, Unauthorized
from ..store import Store
from ..store.base import EdgeRow

_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
TOKEN_PREFIX = "egz_"


def hash_token(token: str) -> str:
    """Return the sha256 of a token; tokens carry 256 random bits, so no slow KDF is needed."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    """Return a fresh random bearer token."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def _check_slug(what: str, value: str) -> None:
    if not _SLUG.match(value):
        raise InvalidInput(
            f"{what} {value!r} is not a valid id (fix: lowercase letters, digits, '-')"
        )


def add_edge(store: Store, edge_id: str, site: str | None = None) -> str:
    """Provision edge ``edge_id`` (optionally bound to ``site``); return its bearer token."""
    _check_slug("edge id", edge_id)
    if site is not None:
        _check_slug("site id", site)
    token = new_token()
    store.add_edge(EdgeRow(edge_id=edge_id, site=site, token_hash=hash_token(token),
                           created_at=time.time()))  # fmt: skip
    return token


def rotate_edge(store: Store, edge_id: str) -> str:
    """Give edge ``edge_id`` a new token (the old one stops working at once); return it."""
    edge = store.edge(edge_id)
    if edge is None:
        raise NotFound(f"no edge {edge_id!r} (fix: egiz cloud edge add {edge_id})")
    if edge.revoked_at is not None:
        raise Conflict(f"edge {edge_id!r} is revoked (fix: add it under a new id)")
    token = new_token()
    store.update_edge(edge_id, token_hash=hash_token(token))
    return token


def revoke_edge(store: Store, edge_id: str) -> None:
    """Revoke edge ``edge_id``: its token is refused from now on."""
    if not store.update_edge(edge_id, revoked_at=time.time()):
        raise NotFound(f"no edge {edge_id!r} (see: egiz cloud edge list)")


def list_edges(store: Store) -> list[EdgeRow]:
    """Return every provisioned edge."""
    return store.edges()


def authenticate_edge(store: Store, authorization: str | None) -> EdgeRow:
    """Return the edge of an ``Authorization: Bearer <token>`` header; Unauthorized otherwise."""
    if not authorization:
        raise Unauthorized("missing Authorization header (fix: send 'Bearer <edge token>')")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Authorization must be 'Bearer <edge token>'")
    digest = hash_token(token.strip())
    edge = store.edge_by_token_hash(digest)
    # compare_digest keeps the final check constant-time even though the lookup is by hash.
    if edge is None or not hmac.compare_digest(edge.token_hash, digest):
        raise Unauthorized(
            "unknown edge token (fix: egiz cloud edge rotate, then update site.yaml)"
        )
    if edge.revoked_at is not None:
        raise Unauthorized(f"edge {edge.edge_id!r} is revoked")
    return edge
