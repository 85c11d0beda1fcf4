"""The pure hash chain: every tamper is detected and the first broken entry is named."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from egiz.contracts import GENESIS, LedgerEntry, canonical_json, make_entry, verify_chain

from .tamper import TAMPERS

T0 = datetime(2026, 11, 26, tzinfo=UTC)


def chain(n: int = 8, name: str = "cloud") -> list[LedgerEntry]:
    """Return ``n`` chained entries."""
    out: list[LedgerEntry] = []
    for i in range(n):
        out.append(
            make_entry(out[-1] if out else None, chain=name, ts=T0 + timedelta(seconds=i),
                       kind="command", actor="alice", subject=f"c{i}", data={"value": i})
        )  # fmt: skip
    return out


def test_chain_intact_verifies_with_dense_heads() -> None:
    entries = chain()
    report = verify_chain("cloud", entries, [(e.seq, e.hash) for e in entries])
    assert report.ok and report.entries == 8 and report.heads_checked == 8
    assert entries[0].prev == GENESIS and entries[1].prev == entries[0].hash


def test_chain_canonical_json_is_key_order_independent() -> None:
    assert canonical_json({"b": 1, "a": [1.5, "é"]}) == canonical_json({"a": [1.5, "é"], "b": 1})
    assert canonical_json({"a": 1}) == b'{"a":1}'


def test_chain_survives_a_json_round_trip() -> None:
    entries = [LedgerEntry.model_validate_json(e.model_dump_json()) for e in chain()]
    assert verify_chain("cloud", entries).ok


# With a head signed for every entry (the cloud countersigns each append), each tamper is
# pinned to the exact entry that was touched.
EXPECTED_DENSE = {"edit": 4, "delete": 4, "insert": 4, "reorder": 4, "truncate": 4, "rewrite": 4}


@pytest.mark.parametrize("kind", sorted(TAMPERS))
def test_chain_tamper_detected_with_dense_heads(kind: str) -> None:
    entries = chain()
    heads = [(e.seq, e.hash) for e in entries]
    report = verify_chain("cloud", TAMPERS[kind](entries, 4), heads)
    assert not report.ok, kind
    assert report.first_broken == EXPECTED_DENSE[kind], report.reason
    assert report.reason


# Without heads, a chain only proves itself: truncation and a rewritten suffix go unseen —
# which is exactly why the other side holds signed heads.
EXPECTED_NO_HEADS = {"edit": 4, "delete": 4, "insert": 5, "reorder": 4}


@pytest.mark.parametrize("kind", sorted(TAMPERS))
def test_chain_tamper_without_heads(kind: str) -> None:
    report = verify_chain("cloud", TAMPERS[kind](chain(), 4))
    if kind in ("truncate", "rewrite"):
        assert report.ok
    else:
        assert not report.ok and report.first_broken == EXPECTED_NO_HEADS[kind], report.reason


def test_chain_sparse_heads_name_first_unproven_entry() -> None:
    # Heads at 3 and 6 (one per uplink batch): a rewrite from 5 is pinned to (3, 6].
    entries = chain()
    heads = [(3, entries[2].hash), (6, entries[5].hash)]
    report = verify_chain("cloud", TAMPERS["rewrite"](entries, 5), heads)
    assert not report.ok and report.first_broken == 4
    assert "after 3" in (report.reason or "")


def test_chain_fork_is_reported() -> None:
    entries = chain()
    other = TAMPERS["rewrite"](entries, 5)
    heads = [(5, entries[4].hash), (5, other[4].hash)]
    report = verify_chain("cloud", entries, heads)
    assert not report.ok and report.first_broken == 1


def test_chain_wrong_chain_name_is_refused() -> None:
    report = verify_chain("edge:x", chain())
    assert not report.ok and report.first_broken == 1
