"""Users, roles granted per site, password KDF, expiring bearer tokens, login rate limiting."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass
from enum import StrEnum

from ..errors import Forbidden, InvalidInput, NotFound, TooManyRequests, Unauthorized
from ..store import Store
from ..store.base import UserRow
from .edges import hash_token

ALL_SITES = "*"
USER_TOKEN_PREFIX = "egu_"
TOKEN_TTL_S = 12 * 3600.0
MAX_FAILURES = 5  # failed logins per user per window before 429
FAILURE_WINDOW_S = 60.0
# scrypt at n=2**14, r=8 (16 MiB, ~50 ms): the interactive-login setting of RFC 7914 §2.
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}
_NAME = re.compile(r"^[a-z0-9][a-z0-9_.@-]{0,62}$")


class Role(StrEnum):
    """What a user may do on a site."""

    viewer = "viewer"  # reads the fleet
    engineer = "engineer"  # reads, exports history, registers assets through the API
    operator = "operator"  # reads, and acts on alarms (ack, shelve, clear)
    admin = "admin"  # everything, including edges (and users, when granted on '*')


class Action(StrEnum):
    """Things the API lets a user do; the role table below says who may."""

    read = "read"
    export = "export"
    alarm = "alarm"
    configure = "configure"
    manage_edges = "manage_edges"
    manage_users = "manage_users"


PERMISSIONS: dict[Action, frozenset[Role]] = {
    Action.read: frozenset(Role),
    Action.export: frozenset({Role.engineer, Role.operator, Role.admin}),
    Action.alarm: frozenset({Role.operator, Role.admin}),
    Action.configure: frozenset({Role.engineer, Role.admin}),
    Action.manage_edges: frozenset({Role.admin}),
    Action.manage_users: frozenset({Role.admin}),
}


@dataclass(frozen=True)
class Principal:
    """An authenticated user and the role it holds on each site ('*' = every site)."""

    username: str
    grants: dict[str, Role]

    def role_at(self, site: str) -> Role | None:
        """Return the role on ``site`` (a site grant wins over the '*' grant)."""
        return self.grants.get(site) or self.grants.get(ALL_SITES)

    def can(self, action: Action, site: str) -> bool:
        """Return whether the user may do ``action`` on ``site`` (``'*'`` = fleet-wide)."""
        role = self.grants.get(ALL_SITES) if site == ALL_SITES else self.role_at(site)
        return role is not None and role in PERMISSIONS[action]

    def sites(self, action: Action) -> set[str] | None:
        """Return the sites ``action`` is allowed on; None means every site."""
        if self.can(action, ALL_SITES):
            return None
        return {s for s, r in self.grants.items() if s != ALL_SITES and r in PERMISSIONS[action]}


def hash_password(password: str) -> str:
    """Return ``scrypt$n$r$p$salt$hash`` of ``password``."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, **_SCRYPT)
    b64 = base64.urlsafe_b64encode
    return f"scrypt${_SCRYPT['n']}${_SCRYPT['r']}${_SCRYPT['p']}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    """Return whether ``password`` matches a ``hash_password`` string."""
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        if kind != "scrypt":
            return False
        got = hashlib.scrypt(
            password.encode(), salt=base64.urlsafe_b64decode(salt), dklen=32,
            n=int(n), r=int(r), p=int(p),
        )  # fmt: skip
    except ValueError:
        return False
    return hmac.compare_digest(got, base64.urlsafe_b64decode(digest))


def _grants(grants: dict[str, str]) -> dict[str, Role]:
    out = {}
    for site, role in grants.items():
        if site != ALL_SITES and not re.match(r"^[a-z0-9][a-z0-9-]{0,62}$", site):
            raise InvalidInput(f"site {site!r} is not a site id or '*'")
        try:
            out[site] = Role(role)
        except ValueError:
            raise InvalidInput(
                f"role {role!r} is unknown (fix: one of {', '.join(Role)})"
            ) from None
    return out


def add_user(store: Store, username: str, password: str, grants: dict[str, str]) -> None:
    """Create a user with roles per site, e.g. ``{"*": "admin"}`` or ``{"mine-a": "operator"}``."""
    if not _NAME.match(username):
        raise InvalidInput(f"username {username!r} is not valid (fix: lowercase, digits, ._@-)")
    if len(password) < 8:
        raise InvalidInput("password must have at least 8 characters")
    checked = _grants(grants)
    if not checked:
        raise InvalidInput("a user needs at least one role (fix: --role ROLE [--site SITE])")
    row = UserRow(username, hash_password(password), time.time())
    store.add_user(row, {s: r.value for s, r in checked.items()})


def remove_user(store: Store, username: str) -> None:
    """Delete a user and every token it holds."""
    if not store.remove_user(username):
        raise NotFound(f"no user {username!r} (see: egiz cloud user list)")


def list_users(store: Store) -> list[tuple[str, dict[str, str]]]:
    """Return (username, grants) of every user."""
    return [(u.username, g) for u, g in store.users()]


def login(store: Store, username: str, password: str, ttl_s: float = TOKEN_TTL_S,
          now: float | None = None) -> tuple[str, float]:  # fmt: skip
    """Check a password; return (bearer token, expiry). Too many failures: TooManyRequests."""
    now = time.time() if now is None else now
    if store.login_failures(username, now - FAILURE_WINDOW_S) >= MAX_FAILURES:
        raise TooManyRequests(
            f"too many failed logins for {username!r}; try again in {FAILURE_WINDOW_S:.0f} s",
            retry_after=FAILURE_WINDOW_S,
        )
    found = store.user(username)
    # Verify against a dummy hash for unknown users so timing does not reveal who exists.
    stored = found[0].password_hash if found else _dummy_hash()
    if not verify_password(password, stored) or found is None:
        store.record_login_failure(username, now)
        raise Unauthorized("wrong username or password")
    store.clear_login_failures(username)
    return issue_token(store, username, ttl_s, now)


def issue_token(store: Store, username: str, ttl_s: float = TOKEN_TTL_S,
                now: float | None = None) -> tuple[str, float]:  # fmt: skip
    """Issue a bearer token for ``username`` without a password (CLI, demo); return it and expiry."""
    now = time.time() if now is None else now
    token = USER_TOKEN_PREFIX + secrets.token_urlsafe(32)
    store.add_user_token(hash_token(token), username, now, now + ttl_s)
    return token, now + ttl_s


def authenticate_user(
    store: Store, authorization: str | None, now: float | None = None
) -> Principal:
    """Return the user of an ``Authorization: Bearer`` header; Unauthorized otherwise."""
    if not authorization:
        raise Unauthorized("missing Authorization header (fix: POST /api/v1/auth/login)")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Authorization must be 'Bearer <token>'")
    name = store.user_for_token(hash_token(token.strip()), time.time() if now is None else now)
    found = store.user(name) if name else None
    if found is None:
        raise Unauthorized("unknown or expired token (fix: log in again)")
    return Principal(found[0].username, {s: Role(r) for s, r in found[1].items()})


def logout(store: Store, authorization: str | None) -> None:
    """Forget the token of this header."""
    _, _, token = (authorization or "").partition(" ")
    store.delete_user_token(hash_token(token.strip()))


@functools.cache
def _dummy_hash() -> str:
    return hash_password(secrets.token_urlsafe(16))


def authorize(user: Principal, action: Action, site: str) -> None:
    """Raise Forbidden unless ``user`` may do ``action`` on ``site``."""
    if not user.can(action, site):
        where = "fleet-wide" if site == ALL_SITES else f"on site {site!r}"
        raise Forbidden(f"user {user.username!r} may not {action.value} {where}")
