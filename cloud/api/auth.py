"""``/api/v1/auth``: log in for an expiring bearer token, log out, who am I."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Header

from ..schemas import LoginRequest, TokenPublic, UserPublic
from ..services import auth
from .deps import SettingsDep, StoreDep, UserDep

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post(
    "/login",
    response_model=TokenPublic,
    responses={401: {"description": "wrong username or password"},
               429: {"description": "too many failed logins; see Retry-After"}},
    summary="Exchange username and password for a bearer token",
)  # fmt: skip
def post_login(store: StoreDep, settings: SettingsDep, body: LoginRequest) -> TokenPublic:
    """A bearer token valid for ``token_ttl_s`` (12 h); 5 failures in a minute lock the name."""
    token, expires = auth.login(store, body.username, body.password, settings.token_ttl_s)
    return TokenPublic(
        access_token=token, expires_at=datetime.fromtimestamp(expires, UTC), username=body.username
    )


@router.post("/logout", status_code=204, summary="Revoke the token of this request")
def post_logout(
    store: StoreDep, user: UserDep, authorization: Annotated[str | None, Header()] = None
) -> None:
    """The token stops working at once."""
    auth.logout(store, authorization)


@router.get("/me", response_model=UserPublic, summary="The user of this token")
def get_me(user: UserDep) -> UserPublic:
    """Username and roles per site."""
    return UserPublic(username=user.username, grants={s: r.value for s, r in user.grants.items()})
