"""Store mixin of the control and trust layer: commands, maintenance, ledger, heads, keys.

Rows carry the contract JSON in ``body``; the indexed columns are what queries filter on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .sqlbase import SqlBase


@dataclass
class CommandRow:
    """One command as stored: its contract JSON plus where it goes."""

    command_id: str
    site: str
    asset: str
    edge_id: str | None
    state: str
    issued_at: float
    expires_at: float
    updated_at: float
    body: str


@dataclass
class HeadRow:
    """A signed chain head: from an edge (chain ``edge:<id>``) or the cloud's countersign."""

    chain: str
    seq: int
    hash: str
    signature: str
    key_id: str
    received_at: float


@dataclass
class KeyRow:
    """A public key that signs the heads of one chain owner (an edge, or ``cloud``)."""

    owner: str
    key_id: str
    public_key: str
    created_at: float
    revoked_at: float | None = None


_CMD = "command_id, site, asset, edge_id, state, issued_at, expires_at, updated_at, body"


class ControlSql(SqlBase):
    """Commands, maintenance records, ledger entries, signed heads and ledger keys."""

    # commands ----------------------------------------------------------------------------
    def add_command(self, row: CommandRow) -> None:
        """Insert a new command."""
        with self._tx(self._conn()) as cur:
            self._exec(cur, f"INSERT INTO commands ({_CMD}) VALUES ({', '.join('?' * 9)})",
                       (row.command_id, row.site, row.asset, row.edge_id, row.state,
                        row.issued_at, row.expires_at, row.updated_at, row.body))  # fmt: skip

    def command(self, command_id: str) -> CommandRow | None:
        """Return one command or None."""
        rows = self._read(f"SELECT {_CMD} FROM commands WHERE command_id = ?", (command_id,))
        return CommandRow(*rows[0]) if rows else None

    def commands(
        self, *, site: str | None = None, asset: str | None = None,
        edge_id: str | None = None, states: tuple[str, ...] = (), limit: int = 500,
    ) -> list[CommandRow]:  # fmt: skip
        """Return commands filtered by site, asset, edge and state, newest first."""
        where, params = [], []
        for col, val in (("site", site), ("asset", asset), ("edge_id", edge_id)):
            if val is not None:
                where.append(f"{col} = ?")
                params.append(val)
        if states:
            where.append(f"state IN ({', '.join('?' * len(states))})")
            params.extend(states)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        rows = self._read(
            f"SELECT {_CMD} FROM commands {clause} ORDER BY issued_at DESC, command_id LIMIT ?",
            (*params, limit),
        )
        return [CommandRow(*r) for r in rows]

    def update_command(self, command_id: str, expect: str, state: str, body: str,
                       now: float) -> bool:  # fmt: skip
        """Move a command from state ``expect`` to ``state``; False when it was not in ``expect``.

        The compare-and-set keeps two replicas (or a retried uplink) from applying one
        transition twice.
        """
        with self._tx(self._conn()) as cur:
            cur2 = self._exec(
                cur,
                "UPDATE commands SET state = ?, body = ?, updated_at = ? "
                "WHERE command_id = ? AND state = ?",
                (state, body, now, command_id, expect),
            )
            return bool(cur2.rowcount)

    # maintenance --------------------------------------------------------------------------
    def add_maintenance(self, record_id: str, site: str, asset: str, ts: float, body: str) -> None:
        """Insert a maintenance record."""
        with self._tx(self._conn()) as cur:
            self._exec(cur, "INSERT INTO maintenance (record_id, site, asset, ts, body) "
                       "VALUES (?, ?, ?, ?, ?)", (record_id, site, asset, ts, body))  # fmt: skip

    def maintenance(self, site: str, asset: str | None = None, limit: int = 500) -> list[str]:
        """Return maintenance record bodies of a site (or one asset), newest first."""
        sql = "SELECT body FROM maintenance WHERE site = ?"
        params: list[Any] = [site]
        if asset is not None:
            sql += " AND asset = ?"
            params.append(asset)
        return [r[0] for r in self._read(sql + " ORDER BY ts DESC LIMIT ?", (*params, limit))]

    # ledger -------------------------------------------------------------------------------
    def ledger_last(self, chain: str) -> str | None:
        """Return the body of the newest entry of ``chain``."""
        rows = self._read(
            "SELECT body FROM ledger WHERE chain = ? ORDER BY seq DESC LIMIT 1", (chain,)
        )
        return rows[0][0] if rows else None

    def ledger_insert(self, chain: str, seq: int, body: str) -> bool:
        """Insert an entry; False when ``seq`` is taken (another replica appended first)."""
        try:
            with self._tx(self._conn()) as cur:
                if self._exec(
                    cur, "SELECT 1 FROM ledger WHERE chain = ? AND seq = ?", (chain, seq)
                ).fetchone():
                    return False
                self._exec(cur, "INSERT INTO ledger (chain, seq, body) VALUES (?, ?, ?)",
                           (chain, seq, body))  # fmt: skip
        except Exception as err:  # a unique violation from a concurrent replica
            if "unique" in str(err).lower() or "duplicate" in str(err).lower():
                return False
            raise
        return True

    def ledger_entries(self, chain: str) -> list[str]:
        """Return the bodies of ``chain`` in seq order."""
        return [
            r[0]
            for r in self._read("SELECT body FROM ledger WHERE chain = ? ORDER BY seq", (chain,))
        ]

    def ledger_chains(self) -> list[str]:
        """Return every chain that has entries or heads."""
        rows = self._read("SELECT chain FROM ledger UNION SELECT chain FROM ledger_heads")
        return sorted(r[0] for r in rows)

    def add_head(self, head: HeadRow) -> None:
        """Keep a signed head (the same head twice is kept once)."""
        with self._tx(self._conn()) as cur:
            if self._exec(
                cur, "SELECT 1 FROM ledger_heads WHERE chain = ? AND seq = ? AND hash = ?",
                (head.chain, head.seq, head.hash),
            ).fetchone():  # fmt: skip
                return
            self._exec(cur, "INSERT INTO ledger_heads (chain, seq, hash, signature, key_id, "
                       "received_at) VALUES (?, ?, ?, ?, ?, ?)",
                       (head.chain, head.seq, head.hash, head.signature, head.key_id,
                        head.received_at))  # fmt: skip

    def heads(self, chain: str) -> list[HeadRow]:
        """Return the signed heads of ``chain`` in seq order."""
        rows = self._read(
            "SELECT chain, seq, hash, signature, key_id, received_at FROM ledger_heads "
            "WHERE chain = ? ORDER BY seq, received_at",
            (chain,),
        )
        return [HeadRow(*r) for r in rows]

    # keys ---------------------------------------------------------------------------------
    def add_ledger_key(self, key: KeyRow) -> None:
        """Register a public key of an owner."""
        with self._tx(self._conn()) as cur:
            self._exec(cur, "INSERT INTO ledger_keys (owner, key_id, public_key, created_at, "
                       "revoked_at) VALUES (?, ?, ?, ?, ?)",
                       (key.owner, key.key_id, key.public_key, key.created_at,
                        key.revoked_at))  # fmt: skip

    def ledger_keys(self, owner: str) -> list[KeyRow]:
        """Return every key of ``owner``, revoked ones included (old heads still verify)."""
        rows = self._read(
            "SELECT owner, key_id, public_key, created_at, revoked_at FROM ledger_keys "
            "WHERE owner = ? ORDER BY created_at",
            (owner,),
        )
        return [KeyRow(*r) for r in rows]

    def revoke_ledger_keys(self, owner: str, now: float) -> int:
        """Revoke every live key of ``owner``; return how many."""
        with self._tx(self._conn()) as cur:
            c = self._exec(cur, "UPDATE ledger_keys SET revoked_at = ? WHERE owner = ? AND "
                           "revoked_at IS NULL", (now, owner))  # fmt: skip
            return int(c.rowcount)


CONTROL_MIGRATION = (
    "commands, maintenance records, hash-chained ledger, signed heads, ledger keys",
    [
        """CREATE TABLE commands (
            command_id TEXT PRIMARY KEY, site TEXT NOT NULL, asset TEXT NOT NULL, edge_id TEXT,
            state TEXT NOT NULL, issued_at {real} NOT NULL, expires_at {real} NOT NULL,
            updated_at {real} NOT NULL, body TEXT NOT NULL)""",
        "CREATE INDEX commands_edge_state ON commands (edge_id, state)",
        "CREATE INDEX commands_site_asset ON commands (site, asset, issued_at)",
        """CREATE TABLE maintenance (
            record_id TEXT PRIMARY KEY, site TEXT NOT NULL, asset TEXT NOT NULL,
            ts {real} NOT NULL, body TEXT NOT NULL)""",
        """CREATE TABLE ledger (
            chain TEXT NOT NULL, seq {big} NOT NULL, body TEXT NOT NULL,
            PRIMARY KEY (chain, seq))""",
        """CREATE TABLE ledger_heads (
            chain TEXT NOT NULL, seq {big} NOT NULL, hash TEXT NOT NULL, signature TEXT NOT NULL,
            key_id TEXT NOT NULL, received_at {real} NOT NULL, PRIMARY KEY (chain, seq, hash))""",
        """CREATE TABLE ledger_keys (
            owner TEXT NOT NULL, key_id TEXT NOT NULL, public_key TEXT NOT NULL,
            created_at {real} NOT NULL, revoked_at {real}, PRIMARY KEY (owner, key_id))""",
    ],
)
