"""The cloud's ledger: its own hash chain, countersigned heads, and the edges' signed heads.

Signatures are Ed25519. An edge's key pair is made at ``egiz cloud edge add``: the edge gets the
private key once, the cloud keeps only the public key, so a leaked cloud database cannot forge
an edge head. The cloud's own key lives in a file outside the database (``EGIZ_LEDGER_KEY``,
default ``var/cloud-ledger.key``): rewriting the cloud chain in the database cannot produce
matching countersigned heads without it.
"""

from __future__ import annotations

import base64
import hashlib
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from egiz.contracts import (
    LedgerEntry,
    LedgerHead,
    LedgerKind,
    VerifyReport,
    head_message,
    make_entry,
    verify_chain,
)

from ..errors import StoreError, Unauthorized
from ..store import Store
from ..store.sql_commands import HeadRow, KeyRow

CLOUD_CHAIN = "cloud"
KEY_PREFIX = "egk_"
KEY_ENV = "EGIZ_LEDGER_KEY"


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _raw_public(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(public_raw: bytes) -> str:
    """Return a short id of a public key (first 16 hex of its sha256)."""
    return hashlib.sha256(public_raw).hexdigest()[:16]


def issue_edge_key(store: Store, edge_id: str, now: float | None = None) -> str:
    """Make an edge's ledger key pair, keep the public half, return ``egk_<seed>`` for the edge.

    Earlier keys of the edge are revoked: heads they signed before now still verify.
    """
    now = time.time() if now is None else now
    key = Ed25519PrivateKey.generate()
    pub = _raw_public(key)
    store.revoke_ledger_keys(edge_id, now)
    store.add_ledger_key(KeyRow(edge_id, key_id(pub), _b64(pub), now))
    seed = key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    return KEY_PREFIX + _b64(seed)


def revoke_edge_keys(store: Store, edge_id: str, now: float | None = None) -> int:
    """Revoke every live ledger key of an edge; its new heads are refused from now on."""
    return store.revoke_ledger_keys(edge_id, time.time() if now is None else now)


def _verifies(key: KeyRow, message: bytes, signature: str) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(_unb64(key.public_key)).verify(
            base64.b64decode(signature), message
        )
    except (InvalidSignature, ValueError):
        return False
    return True


def accept_edge_head(
    store: Store, edge_id: str, head: LedgerHead, now: float | None = None
) -> HeadRow:
    """Keep an edge's signed head if a live key of that edge signed it; Unauthorized otherwise."""
    now = time.time() if now is None else now
    chain = f"edge:{edge_id}"
    msg = head_message(chain, head.seq, head.hash)
    keys = store.ledger_keys(edge_id)
    for k in keys:
        if k.revoked_at is None and _verifies(k, msg, head.signature):
            row = HeadRow(chain, head.seq, head.hash, head.signature, k.key_id, now)
            store.add_head(row)
            return row
    if any(k.revoked_at is not None and _verifies(k, msg, head.signature) for k in keys):
        raise Unauthorized(f"ledger head of edge {edge_id!r} is signed with a revoked key")
    raise Unauthorized(f"ledger head of edge {edge_id!r} has no valid signature (forged?)")


class CloudSigner:
    """The cloud's own Ed25519 key, kept in a file outside the database."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path or os.environ.get(KEY_ENV) or "var/cloud-ledger.key")
        if self.path.exists():
            raw = _unb64(self.path.read_text().strip().removeprefix(KEY_PREFIX))
            self.key = Ed25519PrivateKey.from_private_bytes(raw)
        else:
            self.key = Ed25519PrivateKey.generate()
            seed = self.key.private_bytes(
                serialization.Encoding.Raw,
                serialization.PrivateFormat.Raw,
                serialization.NoEncryption(),
            )
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(KEY_PREFIX + _b64(seed) + "\n")
        self.public = KeyRow(CLOUD_CHAIN, key_id(_raw_public(self.key)),
                             _b64(_raw_public(self.key)), 0.0)  # fmt: skip

    def sign(self, chain: str, seq: int, hash_: str) -> str:
        """Return the base64 signature of a head."""
        return base64.b64encode(self.key.sign(head_message(chain, seq, hash_))).decode()


def append(
    store: Store,
    signer: CloudSigner | None,
    kind: LedgerKind | str,
    actor: str,
    subject: str | None = None,
    data: dict[str, Any] | None = None,
    now: float | None = None,
) -> LedgerEntry:
    """Append to the cloud chain (retrying when another replica took the seq), then countersign."""
    when = datetime.fromtimestamp(time.time() if now is None else now, UTC)
    for _ in range(20):
        last = store.ledger_last(CLOUD_CHAIN)
        prev = LedgerEntry.model_validate_json(last) if last else None
        entry = make_entry(prev, chain=CLOUD_CHAIN, ts=when, kind=kind, actor=actor,
                           subject=subject, data=data)  # fmt: skip
        if store.ledger_insert(CLOUD_CHAIN, entry.seq, entry.model_dump_json()):
            if signer is not None:
                store.add_head(HeadRow(CLOUD_CHAIN, entry.seq, entry.hash,
                                       signer.sign(CLOUD_CHAIN, entry.seq, entry.hash),
                                       signer.public.key_id, when.timestamp()))  # fmt: skip
            return entry
    raise StoreError("cloud ledger: could not append after 20 concurrent attempts")


def trusted_heads(
    store: Store, chain: str, signer: CloudSigner | None
) -> tuple[list[tuple[int, str]], str | None]:
    """Return the (seq, hash) heads of ``chain`` whose signatures verify, or a reason why not."""
    rows = store.heads(chain)
    if chain == CLOUD_CHAIN:
        keys = [signer.public] if signer else []
    else:
        keys = store.ledger_keys(chain.removeprefix("edge:"))
    good: list[tuple[int, str]] = []
    for h in rows:
        msg = head_message(chain, h.seq, h.hash)
        ok = any(
            _verifies(k, msg, h.signature)
            and (k.revoked_at is None or h.received_at <= k.revoked_at)
            for k in keys
        )
        if not ok:
            return good, f"signed head at seq {h.seq} has no valid signature (forged)"
        good.append((h.seq, h.hash))
    seqs = [s for s, _ in good]
    if len(seqs) != len(set(seqs)):
        dup = min(s for s in seqs if seqs.count(s) > 1)
        return good, f"two different signed heads at seq {dup} (the chain forked)"
    return good, None


def verify(
    store: Store,
    chain: str = CLOUD_CHAIN,
    signer: CloudSigner | None = None,
    entries: list[LedgerEntry] | None = None,
) -> VerifyReport:
    """Verify a chain against the signed heads the cloud holds.

    The cloud chain's entries come from the store; an edge chain's ``entries`` are read from
    the edge's ledger file by the caller.
    """
    if entries is None:
        entries = [LedgerEntry.model_validate_json(b) for b in store.ledger_entries(chain)]
    heads, problem = trusted_heads(store, chain, signer)
    report = verify_chain(chain, entries, heads)
    if problem and report.ok:
        seq = max((s for s, _ in heads), default=0) + 1
        return report.model_copy(update={"ok": False, "first_broken": seq, "reason": problem})
    return report


def signer_for(store: Store) -> CloudSigner:
    """Return the cloud signer of ``store``: ``EGIZ_LEDGER_KEY``, else a key file beside a
    SQLite database, else ``var/cloud-ledger.key`` (production: a secret mount, see
    docs/security.md)."""
    signer = getattr(store, "_egiz_ledger_signer", None)
    if signer is None:
        path = os.environ.get(KEY_ENV)
        db_path = getattr(store, "path", None)
        if not path and isinstance(db_path, Path):
            path = str(db_path.with_name(db_path.name + ".ledger-key"))
        signer = CloudSigner(path)
        store._egiz_ledger_signer = signer  # type: ignore[attr-defined]
    return signer
