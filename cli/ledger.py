"""`egiz ledger verify`: check the cloud chain and an edge chain; name the first broken entry."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from egiz.contracts import VerifyReport, verify_chain
from egiz.contracts.errors import EgizError


def register(sub: argparse._SubParsersAction) -> None:
    """Add `egiz ledger verify` to the command tree."""
    p = sub.add_parser("ledger", help="verify the tamper-evident ledgers")
    s = p.add_subparsers(dest="ledger_cmd", required=True)
    v = s.add_parser(
        "verify",
        help="verify the cloud chain (and an edge chain against the heads the cloud holds)",
        description="Exit 0 when every chain checked is intact, 1 when one is broken; each "
        "broken chain names its first broken entry and why.",
    )
    v.add_argument("--db", help="cloud database URL (sqlite:///... or postgresql://...)")
    v.add_argument("--key", help="cloud ledger key file (default: $EGIZ_LEDGER_KEY, or the "
                   "file beside a SQLite database)")  # fmt: skip
    v.add_argument("--edge-ledger", metavar="PATH", help="an edge's ledger.db to verify")
    v.add_argument("--edge", metavar="EDGE_ID", help="the edge id of --edge-ledger")
    v.set_defaults(func=run)


def _line(r: VerifyReport) -> str:
    if r.ok:
        return f"{r.chain}: ok ({r.entries} entries, {r.heads_checked} signed heads checked)"
    return f"{r.chain}: BROKEN at entry {r.first_broken}: {r.reason}"


def _key_path(args: argparse.Namespace) -> Path:
    if args.key:
        return Path(args.key)
    if os.environ.get("EGIZ_LEDGER_KEY"):
        return Path(os.environ["EGIZ_LEDGER_KEY"])
    if args.db.startswith("sqlite:///"):
        db = Path(args.db.removeprefix("sqlite:///"))
        return db.with_name(db.name + ".ledger-key")
    raise EgizError("no cloud ledger key given (fix: --key FILE or EGIZ_LEDGER_KEY)")


def run(args: argparse.Namespace) -> int:
    """Verify and print one line per chain."""
    if not args.db and not args.edge_ledger:
        raise EgizError("nothing to verify (fix: give --db, --edge-ledger, or both)")
    if args.edge_ledger and not args.edge:
        raise EgizError("--edge-ledger needs --edge EDGE_ID")
    edge_entries = None
    if args.edge_ledger:
        if not Path(args.edge_ledger).exists():
            raise EgizError(f"--edge-ledger {args.edge_ledger}: no such file")
        from egiz.edge.ledger import EdgeLedger

        led = EdgeLedger(args.edge_ledger, args.edge)
        edge_entries = led.entries()
        led.close()
    reports: list[VerifyReport] = []
    if args.db:
        from egiz.cloud.services import ledger
        from egiz.cloud.store import open_store

        key = _key_path(args)
        if not key.exists():
            raise EgizError(f"cloud ledger key {key} not found (fix: --key FILE)")
        store = open_store(args.db)
        try:
            signer = ledger.CloudSigner(key)
            reports.append(ledger.verify(store, ledger.CLOUD_CHAIN, signer))
            if edge_entries is not None:
                chain = f"edge:{args.edge}"
                reports.append(ledger.verify(store, chain, signer, edge_entries))
        finally:
            store.close()
    elif edge_entries is not None:
        print("note: without --db the edge chain is checked on its own; truncation and "
              "rewritten suffixes need the cloud's signed heads")  # fmt: skip
        reports.append(verify_chain(f"edge:{args.edge}", edge_entries))
    for r in reports:
        print(_line(r))
    return 0 if all(r.ok for r in reports) else 1
