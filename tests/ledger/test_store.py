"""Ledgers in real storage: the cloud chain on SQLite and PostgreSQL, the edge chain in SQLite.

The attacker here has write access to the database and rewrites the stored rows; the signed
heads held by the other side (and the cloud key kept outside the database) catch it.
"""

from __future__ import annotations

import base64
import sqlite3
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from egiz.cloud.errors import Unauthorized
from egiz.cloud.services import ledger as cloud_ledger
from egiz.cloud.store import Store
from egiz.contracts import LedgerEntry, LedgerHead
from egiz.edge.ledger import EdgeLedger, load_signing_key, sign_head

from .tamper import TAMPERS

EXPECTED = {"edit": 4, "delete": 4, "insert": 4, "reorder": 4, "truncate": 4, "rewrite": 4}


def _overwrite_cloud_rows(store: Store, entries: list[LedgerEntry]) -> None:
    """What an attacker with database access does: replace the stored chain."""
    conn = store._conn()  # direct SQL on purpose: this is the attack
    with store._tx(conn) as cur:
        store._exec(cur, "DELETE FROM ledger WHERE chain = ?", ("cloud",))
        for pos, e in enumerate(entries, start=1):
            store._exec(cur, "INSERT INTO ledger (chain, seq, body) VALUES (?, ?, ?)",
                        ("cloud", pos, e.model_dump_json()))  # fmt: skip


@pytest.mark.parametrize("kind", sorted(TAMPERS))
def test_ledger_cloud_tamper_detected(store: Store, tmp_path: Path, kind: str) -> None:
    signer = cloud_ledger.CloudSigner(tmp_path / "cloud.key")
    for i in range(8):
        cloud_ledger.append(store, signer, "command", "alice", f"c{i}", {"value": i})
    assert cloud_ledger.verify(store, signer=signer).ok
    entries = [LedgerEntry.model_validate_json(b) for b in store.ledger_entries("cloud")]
    _overwrite_cloud_rows(store, TAMPERS[kind](entries, 4))
    report = cloud_ledger.verify(store, signer=signer)
    assert not report.ok, kind
    assert report.first_broken == EXPECTED[kind], report.reason


def test_ledger_cloud_forged_countersign_is_caught(store: Store, tmp_path: Path) -> None:
    signer = cloud_ledger.CloudSigner(tmp_path / "cloud.key")
    for i in range(5):
        cloud_ledger.append(store, signer, "maintenance", "bob", f"m{i}")
    entries = [LedgerEntry.model_validate_json(b) for b in store.ledger_entries("cloud")]
    forged = TAMPERS["rewrite"](entries, 3)
    _overwrite_cloud_rows(store, forged)
    # The attacker also re-signs heads, but with a key of their own (the real one is a file).
    mallory = cloud_ledger.CloudSigner(tmp_path / "mallory.key")
    with store._tx(store._conn()) as cur:
        store._exec(cur, "DELETE FROM ledger_heads WHERE chain = 'cloud'")
    for e in forged:
        store.add_head(cloud_ledger.HeadRow("cloud", e.seq, e.hash,
                                            mallory.sign("cloud", e.seq, e.hash), "x", 0.0))  # fmt: skip
    report = cloud_ledger.verify(store, signer=signer)
    assert not report.ok and "forged" in (report.reason or "")


def _edge(tmp_path: Path, store: Store) -> tuple[EdgeLedger, str]:
    key = cloud_ledger.issue_edge_key(store, "mine-edge")
    return EdgeLedger(tmp_path / "ledger.db", "mine-edge", load_signing_key(key)), key


def _attack_edge(path: Path, entries: list[LedgerEntry]) -> None:
    db = sqlite3.connect(path)
    db.execute("DROP TRIGGER ledger_no_update")
    db.execute("DROP TRIGGER ledger_no_delete")
    db.execute("DELETE FROM ledger")
    db.executemany("INSERT INTO ledger (seq, body) VALUES (?, ?)",
                   [(i, e.model_dump_json()) for i, e in enumerate(entries, start=1)])  # fmt: skip
    db.commit()
    db.close()


# Heads reach the cloud once per uplink batch (here after entries 3 and 6), so a rewrite that
# recomputes hashes is pinned to the entries after the last head that still matches. An
# insertion without recomputed hashes shows where the renumbered old entry 4 (now 5) no longer
# follows the inserted one: "entry 5: prev does not match entry 4" names both.
EDGE_EXPECTED = {"edit": 4, "delete": 4, "insert": 5, "reorder": 4, "truncate": 4, "rewrite": 4}


@pytest.mark.parametrize("kind", sorted(TAMPERS))
def test_ledger_edge_tamper_detected_by_cloud_heads(
    store: Store, tmp_path: Path, kind: str
) -> None:
    led, _ = _edge(tmp_path, store)
    for i in range(8):
        led.append("local_action", "trip-rule", f"a{i}", {"value": i})
        if i + 1 in (3, 6):
            head = led.head()
            assert head is not None
            cloud_ledger.accept_edge_head(store, "mine-edge", head)
    assert cloud_ledger.verify(store, "edge:mine-edge", entries=led.entries()).ok
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        led._db.execute("DELETE FROM ledger WHERE seq = 8")
    tampered = TAMPERS[kind](led.entries(), 4)
    led.close()
    _attack_edge(tmp_path / "ledger.db", tampered)
    again = EdgeLedger(tmp_path / "ledger.db", "mine-edge")
    report = cloud_ledger.verify(store, "edge:mine-edge", entries=again.entries())
    again.close()
    assert not report.ok, kind
    assert report.first_broken == EDGE_EXPECTED[kind], report.reason


def test_ledger_edge_truncation_to_before_a_head(store: Store, tmp_path: Path) -> None:
    led, _ = _edge(tmp_path, store)
    for i in range(6):
        led.append("local_action", "trip-rule", f"a{i}")
    cloud_ledger.accept_edge_head(store, "mine-edge", led.head())  # type: ignore[arg-type]
    entries = led.entries()[:5]
    report = cloud_ledger.verify(store, "edge:mine-edge", entries=entries)
    assert not report.ok and report.first_broken == 6 and "truncated" in (report.reason or "")


def test_ledger_edge_forged_head_is_refused(store: Store, tmp_path: Path) -> None:
    led, _ = _edge(tmp_path, store)
    e = led.append("local_action", "x")
    wrong = Ed25519PrivateKey.generate()
    forged = LedgerHead(seq=e.seq, hash=e.hash,
                        signature=sign_head(wrong, "edge:mine-edge", e.seq, e.hash))  # fmt: skip
    with pytest.raises(Unauthorized, match="no valid signature"):
        cloud_ledger.accept_edge_head(store, "mine-edge", forged)
    # A head for another edge's chain does not verify either (the chain id is signed).
    real = led.head()
    assert real is not None
    cloud_ledger.issue_edge_key(store, "other-edge")
    with pytest.raises(Unauthorized):
        cloud_ledger.accept_edge_head(store, "other-edge", real)
    assert store.heads("edge:mine-edge") == []
    # A forged head planted straight into the database is caught by verify.
    store.add_head(cloud_ledger.HeadRow("edge:mine-edge", forged.seq, forged.hash,
                                        forged.signature, "x", 0.0))  # fmt: skip
    report = cloud_ledger.verify(store, "edge:mine-edge", entries=led.entries())
    assert not report.ok and "forged" in (report.reason or "")


def test_ledger_edge_revoked_key_is_refused(store: Store, tmp_path: Path) -> None:
    led, _ = _edge(tmp_path, store)
    led.append("local_action", "x")
    cloud_ledger.accept_edge_head(store, "mine-edge", led.head())  # type: ignore[arg-type]
    assert cloud_ledger.revoke_edge_keys(store, "mine-edge") == 1
    led.append("local_action", "y")
    with pytest.raises(Unauthorized, match="revoked"):
        cloud_ledger.accept_edge_head(store, "mine-edge", led.head())  # type: ignore[arg-type]
    # The head accepted before revocation still verifies.
    assert cloud_ledger.verify(store, "edge:mine-edge", entries=led.entries()).ok
    # A rotated key works again.
    new = load_signing_key(cloud_ledger.issue_edge_key(store, "mine-edge"))
    led.key = new
    cloud_ledger.accept_edge_head(store, "mine-edge", led.head())  # type: ignore[arg-type]
    assert base64.b64decode(led.head().signature)  # type: ignore[union-attr]
