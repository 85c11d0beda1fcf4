"""``/api/v1/users``: user administration (fleet-wide admins only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from ..schemas import UserCreate, UserPublic, UsersPublic
from ..services import auth
from .deps import StoreDep, UserDep

router = APIRouter(prefix="/users", tags=["users"])


@router.get("", response_model=UsersPublic, summary="List users")
def read_users(store: StoreDep, user: UserDep) -> UsersPublic:
    """Every user with its roles per site."""
    auth.authorize(user, auth.Action.manage_users, auth.ALL_SITES)
    data = [UserPublic(username=n, grants=g) for n, g in auth.list_users(store)]
    return UsersPublic(data=data, count=len(data))


@router.post(
    "", response_model=UserPublic, status_code=201, responses={409: {"description": "exists"}},
    summary="Create a user",
)  # fmt: skip
def create_user(store: StoreDep, user: UserDep, body: UserCreate) -> UserPublic:
    """A user with roles per site."""
    auth.authorize(user, auth.Action.manage_users, auth.ALL_SITES)
    auth.add_user(store, body.username, body.password, body.grants)
    return UserPublic(username=body.username, grants=body.grants)


@router.delete("/{username}", status_code=204, responses={404: {"description": "no such user"}},
               summary="Remove a user")  # fmt: skip
def delete_user(
    store: StoreDep,
    user: UserDep,
    username: Annotated[str, Path(examples=["old-user"])],
) -> None:
    """The user and every token it holds."""
    auth.authorize(user, auth.Action.manage_users, auth.ALL_SITES)
    auth.remove_user(store, username)
