"""Tampering moves an attacker with write access to a ledger's storage could make."""

from __future__ import annotations

from egiz.contracts import LedgerEntry, make_entry


def _remake(prev: LedgerEntry | None, e: LedgerEntry, **changes: object) -> LedgerEntry:
    data = dict(e.data, **changes.pop("data_update", {}))  # type: ignore[arg-type]
    return make_entry(prev, chain=e.chain, ts=e.ts, kind=e.kind, actor=e.actor,
                      subject=e.subject, data=data)  # fmt: skip


def edit(entries: list[LedgerEntry], seq: int) -> list[LedgerEntry]:
    """Change one entry's data, leaving its hash."""
    out = list(entries)
    e = out[seq - 1]
    out[seq - 1] = e.model_copy(update={"data": {**e.data, "value": 999}})
    return out


def delete(entries: list[LedgerEntry], seq: int) -> list[LedgerEntry]:
    """Remove one entry."""
    return [e for e in entries if e.seq != seq]


def insert(entries: list[LedgerEntry], seq: int) -> list[LedgerEntry]:
    """Insert a well-formed entry at ``seq`` and renumber the ones after (hashes not redone)."""
    forged = make_entry(entries[seq - 2], chain=entries[0].chain, ts=entries[0].ts,
                        kind="maintenance", actor="mallory", data={"forged": True})  # fmt: skip
    after = [e.model_copy(update={"seq": e.seq + 1}) for e in entries[seq - 1 :]]
    return [*entries[: seq - 1], forged, *after]


def reorder(entries: list[LedgerEntry], seq: int) -> list[LedgerEntry]:
    """Swap the contents stored at ``seq`` and ``seq + 1``."""
    out = list(entries)
    out[seq - 1], out[seq] = out[seq], out[seq - 1]
    return out


def truncate(entries: list[LedgerEntry], seq: int) -> list[LedgerEntry]:
    """Drop ``seq`` and everything newer."""
    return entries[: seq - 1]


def rewrite(entries: list[LedgerEntry], seq: int) -> list[LedgerEntry]:
    """Rewrite ``seq`` and every entry after it with recomputed hashes (a consistent chain)."""
    out = list(entries[: seq - 1])
    for i, e in enumerate(entries[seq - 1 :]):
        changes = {"data_update": {"value": 0}} if i == 0 else {}
        out.append(_remake(out[-1] if out else None, e, **changes))
    return out


TAMPERS = {
    "edit": edit,
    "delete": delete,
    "insert": insert,
    "reorder": reorder,
    "truncate": truncate,
    "rewrite": rewrite,
}
