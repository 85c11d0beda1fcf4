"""The edge's append-only ledger: a sha256 hash chain in SQLite whose head the edge signs.

The head (seq, hash) is signed with the edge's Ed25519 device key and sent with every uplink
batch; the cloud keeps those signed heads, so a truncated or rewritten edge chain no longer
matches a head the edge cannot take back. Ed25519 rather than HMAC: the cloud (and an auditor)
verifies with the public key alone, so a leak of the cloud database cannot forge edge heads.
"""

from __future__ import annotations

import base64
import sqlite3
import threading
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from egiz.contracts import (
    LedgerEntry,
    LedgerHead,
    LedgerKind,
    SiteConfig,
    VerifyReport,
    head_message,
    make_entry,
    verify_chain,
)

from .errors import EdgeError

#: Prefix of a ledger signing key as `egiz cloud edge add` prints it (base64 of the raw seed).
KEY_PREFIX = "egk_"

_SCHEMA = [
    "CREATE TABLE IF NOT EXISTS ledger (seq INTEGER PRIMARY KEY, body TEXT NOT NULL)",
    # Append-only by construction; an attacker who drops these is still caught by the chain.
    """CREATE TRIGGER IF NOT EXISTS ledger_no_update BEFORE UPDATE ON ledger
       BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END""",
    """CREATE TRIGGER IF NOT EXISTS ledger_no_delete BEFORE DELETE ON ledger
       BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END""",
]


def load_signing_key(text: str) -> Ed25519PrivateKey:
    """Return the Ed25519 key of an ``egk_<base64 seed>`` string."""
    raw = text.strip().removeprefix(KEY_PREFIX)
    try:
        seed = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
        return Ed25519PrivateKey.from_private_bytes(seed)
    except ValueError as err:
        raise EdgeError(
            "ledger signing key is not an 'egk_...' key (fix: copy it from `egiz cloud edge add`)"
        ) from err


def sign_head(key: Ed25519PrivateKey, chain: str, seq: int, hash_: str) -> str:
    """Return the base64 Ed25519 signature of a chain head."""
    return base64.b64encode(key.sign(head_message(chain, seq, hash_))).decode()


def open_edge_ledger(config: SiteConfig, base_dir: str | Path = ".") -> EdgeLedger:
    """Open the site's edge ledger (``control.ledger_path``) with its signing key, if any."""
    base = Path(base_dir)
    path = lambda p: Path(p) if Path(p).is_absolute() else base / p  # noqa: E731
    up = config.uplink
    key_text = up.ledger_key.get_secret_value() if up.ledger_key else None
    if key_text is None and up.ledger_key_file:
        key_text = path(up.ledger_key_file).read_text(encoding="utf-8")
    key = load_signing_key(key_text) if key_text else None
    return EdgeLedger(path(config.control.ledger_path), up.edge_id, key)


class EdgeLedger:
    """One SQLite file holding the chain ``edge:<edge_id>``; thread-safe appends."""

    def __init__(
        self, path: str | Path, edge_id: str, key: Ed25519PrivateKey | None = None
    ) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.chain = f"edge:{edge_id}"
        self.key = key
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        # FULL: an entry the edge reported must survive a power cut, or its signed head lies.
        self._db.execute("PRAGMA synchronous=FULL")
        for stmt in _SCHEMA:
            self._db.execute(stmt)

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    def append(
        self,
        kind: LedgerKind | str,
        actor: str,
        subject: str | None = None,
        data: dict[str, Any] | None = None,
        ts: datetime | None = None,
    ) -> LedgerEntry:
        """Append one entry after the current head, atomically; return it."""
        with self._lock:
            cur = self._db.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                row = cur.execute("SELECT body FROM ledger ORDER BY seq DESC LIMIT 1").fetchone()
                prev = LedgerEntry.model_validate_json(row[0]) if row else None
                entry = make_entry(
                    prev, chain=self.chain, ts=ts or datetime.now(UTC), kind=kind,
                    actor=actor, subject=subject, data=data,
                )  # fmt: skip
                cur.execute(
                    "INSERT INTO ledger (seq, body) VALUES (?, ?)",
                    (entry.seq, entry.model_dump_json()),
                )
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            cur.execute("COMMIT")
        return entry

    def about(self, kind: str, subject: str) -> list[LedgerEntry]:
        """Return the entries of ``kind`` about ``subject``, in seq order."""
        rows = self._db.execute(
            "SELECT body FROM ledger WHERE json_extract(body, '$.kind') = ? AND "
            "json_extract(body, '$.subject') = ? ORDER BY seq",
            (str(kind), subject),
        ).fetchall()
        return [LedgerEntry.model_validate_json(r[0]) for r in rows]

    def entries(self) -> list[LedgerEntry]:
        """Return every entry in seq order."""
        rows = self._db.execute("SELECT body FROM ledger ORDER BY seq").fetchall()
        return [LedgerEntry.model_validate_json(r[0]) for r in rows]

    def head(self) -> LedgerHead | None:
        """Return the signed head, or None without a key; seq 0 for an empty chain."""
        if self.key is None:
            return None
        row = self._db.execute("SELECT body FROM ledger ORDER BY seq DESC LIMIT 1").fetchone()
        last = LedgerEntry.model_validate_json(row[0]) if row else None
        seq, h = (last.seq, last.hash) if last else (0, "0" * 64)
        return LedgerHead(seq=seq, hash=h, signature=sign_head(self.key, self.chain, seq, h))

    def verify(self, heads: Iterable[tuple[int, str]] = ()) -> VerifyReport:
        """Verify the chain against itself and trusted (seq, hash) heads."""
        return verify_chain(self.chain, self.entries(), heads)
