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


def bearer_digest(authorization: str | None) -> str:
    """Return the token hash of an ``Authorization: Bearer <token>`` header; Unauthorized if
    the header is missing or not a bearer token (no store access)."""
    if not authorization:
        raise Unauthorized("missing Authorization header (fix: send 'Bearer <edge token>')")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Authorization must be 'Bearer <edge token>'")
    return hash_token(token.strip())


def edge_for_digest(store: Store, digest: str) -> EdgeRow:
    """Return the edge whose token hashes to ``digest``, read from the store now; Unauthorized
    when no edge has that token (any more) or the edge is revoked."""
    edge = store.edge_by_token_hash(digest)
    # compare_digest keeps the final check constant-time even though the lookup is by hash.
    if edge is None or not hmac.compare_digest(edge.token_hash, digest):
        raise Unauthorized(
            "unknown edge token (fix: egiz cloud edge rotate, then update site.yaml)"
        )
    if edge.revoked_at is not None:
        raise Unauthorized(f"edge {edge.edge_id!r} is revoked")
    return edge


def authenticate_edge(store: Store, authorization: str | None) -> EdgeRow:
    """Return the edge of an ``Authorization: Bearer <token>`` header; Unauthorized otherwise."""
    return edge_for_digest(store, bearer_digest(authorization))


class EdgeTokenCache:
    """Edges recently authenticated, by token hash, each for at most ``ttl_s`` seconds.

    Only a first check: it lets ``POST /ingest`` accept a known token before reading the body
    without a store lookup on the event loop or a queue for the ingest thread. The ingest
    re-checks the token against the store (``edge_for_digest``) when it runs, so a revoke or
    rotate refuses the next batch at once; an entry outliving one only lets that edge's body
    be read before its 401. Unknown tokens are never cached. Used from one event loop only.
    """

    def __init__(self, ttl_s: float = 5.0, max_entries: int = 1024) -> None:
        self.ttl_s, self.max_entries = ttl_s, max_entries
        self._edges: dict[str, tuple[float, EdgeRow]] = {}

    def get(self, digest: str) -> EdgeRow | None:
        """Return the edge of a token hash authenticated less than ``ttl_s`` ago, else None."""
        hit = self._edges.get(digest)
        if hit is None or hit[0] < time.monotonic():
            return None
        return hit[1]

    def put(self, digest: str, edge: EdgeRow) -> None:
        """Remember an edge the store has just authenticated."""
        now = time.monotonic()
        if len(self._edges) >= self.max_entries:  # drop the expired, or all when none were
            live = {k: v for k, v in self._edges.items() if v[0] >= now}
            self._edges = live if len(live) < self.max_entries else {}
        self._edges[digest] = (now + self.ttl_s, edge)

    def discard(self, digest: str) -> None:
        """Forget a token hash (the store refused it)."""
        self._edges.pop(digest, None)
