"""The tamper-evident ledger: entries, canonical JSON, sha256 chaining and verification.

Each entry's hash covers its canonical JSON (sorted keys, no spaces, UTF-8) including the hash
of the entry before it, so editing, deleting, inserting or reordering any entry breaks the
chain at that entry. Truncating the newest entries, or rewriting a suffix and recomputing its
hashes, leaves a chain that is consistent on its own: those are caught by *heads* (seq, hash)
that the other side holds, signed by the chain's owner (signing lives in edge/cloud; here only
the signed message is defined, so the contracts stay stdlib + pydantic).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import Field

from .base import Contract

#: The ``prev`` of the first entry of every chain.
GENESIS = "0" * 64
_HEX64 = r"^[0-9a-f]{64}$"


class LedgerKind(StrEnum):
    """What an entry records."""

    command = "command"
    alarm_ack = "alarm_ack"
    maintenance = "maintenance"
    config_change = "config_change"
    model_change = "model_change"
    data_gap = "data_gap"
    local_action = "local_action"
    edge_head = "edge_head"
    countersign = "countersign"


class LedgerEntry(Contract):
    """One append-only entry; ``hash`` = sha256 of the canonical JSON of everything else."""

    chain: str = Field(description="'cloud' or 'edge:<edge_id>'")
    seq: int = Field(ge=1)
    ts: datetime
    kind: LedgerKind
    actor: str = Field(description="user, edge or rule that caused the entry")
    subject: str | None = Field(None, description="what it is about, e.g. a command or asset id")
    data: dict[str, Any] = Field(default_factory=dict)
    prev: str = Field(pattern=_HEX64)
    hash: str = Field(pattern=_HEX64)


class SignedHead(Contract):
    """A chain head (seq, hash) signed by the chain's owner and held by the other side."""

    chain: str
    seq: int = Field(ge=0)
    hash: str
    signature: str
    key_id: str = ""
    signed_at: datetime | None = None


class VerifyReport(Contract):
    """The outcome of verifying one chain: ok, or the first broken entry and why."""

    chain: str
    ok: bool
    entries: int
    heads_checked: int = 0
    first_broken: int | None = Field(None, description="seq of the first entry that is wrong")
    reason: str | None = None


def canonical_json(obj: Any) -> bytes:
    """Return the canonical JSON bytes of ``obj``: sorted keys, compact, UTF-8, no NaN."""
    return json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode()


def entry_hash(fields: dict[str, Any]) -> str:
    """Return the sha256 hex of an entry's JSON fields (``hash`` itself excluded)."""
    body = {k: v for k, v in fields.items() if k != "hash"}
    return hashlib.sha256(canonical_json(body)).hexdigest()


def make_entry(
    prev: LedgerEntry | None,
    *,
    chain: str,
    ts: datetime,
    kind: LedgerKind | str,
    actor: str,
    subject: str | None = None,
    data: dict[str, Any] | None = None,
) -> LedgerEntry:
    """Return the entry that follows ``prev`` (None: the first of the chain), hash computed."""
    fields = {
        "chain": chain,
        "seq": 1 if prev is None else prev.seq + 1,
        "ts": ts,
        "kind": LedgerKind(kind),
        "actor": actor,
        "subject": subject,
        "data": data or {},
        "prev": GENESIS if prev is None else prev.hash,
        "hash": GENESIS,
    }
    draft = LedgerEntry.model_validate(fields)
    return draft.model_copy(update={"hash": entry_hash(draft.model_dump(mode="json"))})


def head_message(chain: str, seq: int, hash_: str) -> bytes:
    """Return the bytes a head signature covers (domain-separated from any other signature)."""
    return f"egiz-ledger-head/v1\n{chain}\n{seq}\n{hash_}".encode()


def verify_chain(
    chain: str, entries: Sequence[LedgerEntry], heads: Iterable[tuple[int, str]] = ()
) -> VerifyReport:
    """Verify ``entries`` (in stored order) against themselves and trusted ``heads``.

    ``heads`` are (seq, hash) pairs whose signatures the caller has already checked. The report
    names the first broken entry: for a rewritten suffix whose hashes were recomputed, that is
    the first entry after the last head that still matches (nothing before it can be proven
    wrong).
    """
    trusted: dict[int, set[str]] = {}
    for seq, h in heads:
        trusted.setdefault(seq, set()).add(h)
    checked = sum(len(v) for v in trusted.values())
    forks = sorted(s for s, hs in trusted.items() if len(hs) > 1)
    prev, good = GENESIS, 0
    for i, e in enumerate(entries):
        want = i + 1
        why = None
        if e.chain != chain:
            why = f"entry {e.seq} belongs to chain {e.chain!r}"
        elif e.seq != want:
            why = (
                f"entry {want} is missing (next stored entry is {e.seq})"
                if e.seq > want
                else f"entry {e.seq} appears again at position {want} (reordered or inserted)"
            )
        elif e.prev != prev:
            why = f"entry {e.seq}: prev does not match entry {e.seq - 1}"
        elif entry_hash(e.model_dump(mode="json")) != e.hash:
            why = f"entry {e.seq}: content does not match its hash"
        if why is not None:
            return _broken(chain, entries, want, why, checked)
        held = trusted.get(want)
        if held is not None:
            if e.hash not in held or want in forks:
                # Everything up to the last matching head is proven; what follows is not.
                return _broken(
                    chain, entries, good + 1,
                    f"entries after {good} were rewritten: entry {want} differs from the "
                    "head signed for it (hashes recomputed)",
                    checked,
                )  # fmt: skip
            good = want
        prev = e.hash
    n = len(entries)
    beyond = [s for s in trusted if s > n]
    if beyond:
        return _broken(
            chain, entries, n + 1,
            f"entry {n + 1} is missing: the chain ends at {n} but a signed head covers "
            f"{max(beyond)} (truncated)",
            checked,
        )  # fmt: skip
    return VerifyReport(chain=chain, ok=True, entries=n, heads_checked=checked)


def _broken(
    chain: str, entries: Sequence[LedgerEntry], seq: int, reason: str, heads: int = 0
) -> VerifyReport:
    return VerifyReport(
        chain=chain, ok=False, entries=len(entries), heads_checked=heads, first_broken=seq,
        reason=reason,
    )  # fmt: skip


__all__ = [
    "GENESIS",
    "LedgerEntry",
    "LedgerKind",
    "SignedHead",
    "VerifyReport",
    "canonical_json",
    "entry_hash",
    "head_message",
    "make_entry",
    "verify_chain",
]
