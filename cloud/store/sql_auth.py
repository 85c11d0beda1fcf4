"""Users, their per-site grants, expiring bearer tokens and failed logins, in portable SQL."""

from __future__ import annotations

from ..errors import Conflict
from .base import UserRow
from .sqlbase import SqlBase


class AuthSql(SqlBase):
    """User methods of the Store interface."""

    def add_user(self, user: UserRow, grants: dict[str, str]) -> None:
        """Insert a user and its grants; Conflict when the name is taken."""
        with self._tx(self._conn()) as cur:
            if self._exec(
                cur, "SELECT 1 FROM users WHERE username = ?", (user.username,)
            ).fetchone():
                raise Conflict(f"user {user.username!r} exists (fix: remove it first)")
            self._exec(
                cur,
                "INSERT INTO users (username, password_hash, created_at) VALUES (?, ?, ?)",
                (user.username, user.password_hash, user.created_at),
            )
            self._many(
                cur,
                "INSERT INTO grants (username, site, role) VALUES (?, ?, ?)",
                [(user.username, site, role) for site, role in grants.items()],
            )

    def _grants(self, username: str | None) -> dict[str, dict[str, str]]:
        where, params = ("WHERE username = ?", (username,)) if username else ("", ())
        out: dict[str, dict[str, str]] = {}
        for name, site, role in self._read(
            f"SELECT username, site, role FROM grants {where}", params
        ):
            out.setdefault(name, {})[site] = role
        return out

    def user(self, username: str) -> tuple[UserRow, dict[str, str]] | None:
        """Return a user and its grants."""
        rows = self._read(
            "SELECT username, password_hash, created_at FROM users WHERE username = ?", (username,)
        )
        if not rows:
            return None
        return UserRow(*rows[0]), self._grants(username).get(username, {})

    def users(self) -> list[tuple[UserRow, dict[str, str]]]:
        """Return every user with grants, by name."""
        grants = self._grants(None)
        rows = self._read("SELECT username, password_hash, created_at FROM users ORDER BY username")
        return [(UserRow(*r), grants.get(r[0], {})) for r in rows]

    def remove_user(self, username: str) -> bool:
        """Delete a user with its grants and tokens."""
        with self._tx(self._conn()) as cur:
            for table in ("grants", "user_tokens", "login_failures"):
                self._exec(cur, f"DELETE FROM {table} WHERE username = ?", (username,))
            return self._exec(cur, "DELETE FROM users WHERE username = ?", (username,)).rowcount > 0

    def add_user_token(
        self, token_hash: str, username: str, created: float, expires: float
    ) -> None:
        """Store a token hash; expired tokens of the user are purged on the way."""
        with self._tx(self._conn()) as cur:
            self._exec(
                cur,
                "DELETE FROM user_tokens WHERE username = ? AND expires_at <= ?",
                (username, created),
            )
            self._exec(
                cur,
                "INSERT INTO user_tokens (token_hash, username, created_at, expires_at) "
                "VALUES (?, ?, ?, ?)",
                (token_hash, username, created, expires),
            )

    def user_for_token(self, token_hash: str, now: float) -> str | None:
        """Return the user of an unexpired token."""
        rows = self._read(
            "SELECT username FROM user_tokens WHERE token_hash = ? AND expires_at > ?",
            (token_hash, now),
        )
        return rows[0][0] if rows else None

    def delete_user_token(self, token_hash: str) -> None:
        """Forget a token."""
        with self._tx(self._conn()) as cur:
            self._exec(cur, "DELETE FROM user_tokens WHERE token_hash = ?", (token_hash,))

    def login_failures(self, username: str, since: float) -> int:
        """Count failed logins since ``since``."""
        return self._read(
            "SELECT COUNT(*) FROM login_failures WHERE username = ? AND ts >= ?", (username, since)
        )[0][0]

    def record_login_failure(self, username: str, ts: float) -> None:
        """Remember a failed login."""
        with self._tx(self._conn()) as cur:
            self._exec(
                cur, "INSERT INTO login_failures (username, ts) VALUES (?, ?)", (username, ts)
            )

    def clear_login_failures(self, username: str) -> None:
        """Forget a user's failed logins."""
        with self._tx(self._conn()) as cur:
            self._exec(cur, "DELETE FROM login_failures WHERE username = ?", (username,))
