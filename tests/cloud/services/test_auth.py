"""Users: KDF, expiring tokens, login rate limiting, roles per site."""

from __future__ import annotations

import pytest

from egiz.cloud.errors import InvalidInput, TooManyRequests, Unauthorized
from egiz.cloud.services import auth
from egiz.cloud.store import Store


def test_password_hash_is_salted_scrypt() -> None:
    a, b = auth.hash_password("s3cret-pass"), auth.hash_password("s3cret-pass")
    assert a != b and a.startswith("scrypt$16384$8$1$")
    assert auth.verify_password("s3cret-pass", a) and not auth.verify_password("other", a)
    assert not auth.verify_password("x", "garbage")


def test_login_token_expires_and_logout_revokes(store: Store) -> None:
    auth.add_user(store, "ann", "ann-password", {"plant": "operator"})
    token, expires = auth.login(store, "ann", "ann-password", ttl_s=60, now=1000.0)
    assert expires == 1060.0
    user = auth.authenticate_user(store, f"Bearer {token}", now=1059.0)
    assert user.role_at("plant") == auth.Role.operator and user.role_at("mine") is None
    with pytest.raises(Unauthorized, match="expired"):
        auth.authenticate_user(store, f"Bearer {token}", now=1060.0)
    token2, _ = auth.login(store, "ann", "ann-password")
    auth.logout(store, f"Bearer {token2}")
    with pytest.raises(Unauthorized):
        auth.authenticate_user(store, f"Bearer {token2}")


def test_login_rate_limited_after_failures(store: Store) -> None:
    auth.add_user(store, "bob", "bob-password", {"*": "viewer"})
    for _ in range(auth.MAX_FAILURES):
        with pytest.raises(Unauthorized):
            auth.login(store, "bob", "nope", now=100.0)
    with pytest.raises(TooManyRequests) as err:
        auth.login(store, "bob", "bob-password", now=110.0)  # even the right password waits
    assert err.value.retry_after == auth.FAILURE_WINDOW_S
    assert auth.login(store, "bob", "bob-password", now=100.0 + auth.FAILURE_WINDOW_S + 1)[0]
    with pytest.raises(Unauthorized):
        auth.login(store, "nobody", "whatever-pw")


def test_principal_site_grants() -> None:
    p = auth.Principal("x", {"*": auth.Role.viewer, "mine": auth.Role.operator})
    assert p.can(auth.Action.alarm, "mine") and not p.can(auth.Action.alarm, "plant")
    assert p.can(auth.Action.read, "plant") and p.sites(auth.Action.read) is None
    assert p.sites(auth.Action.alarm) == {"mine"}
    assert not p.can(auth.Action.manage_users, auth.ALL_SITES)


def test_add_user_validates(store: Store) -> None:
    for name, pw, grants in [("Bad Name", "password-1", {"*": "admin"}),
                             ("ok", "short", {"*": "admin"}),
                             ("ok", "password-1", {"*": "king"}),
                             ("ok", "password-1", {"Bad Site": "viewer"}),
                             ("ok", "password-1", {})]:  # fmt: skip
        with pytest.raises(InvalidInput):
            auth.add_user(store, name, pw, grants)
    auth.add_user(store, "ok", "password-1", {"*": "admin", "mine": "viewer"})
    assert auth.list_users(store) == [("ok", {"*": "admin", "mine": "viewer"})]
    auth.remove_user(store, "ok")
    assert auth.list_users(store) == []
