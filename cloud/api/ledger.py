"""``/api/v1/ledger/verify``: verify the cloud chain and every edge's signed heads."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from egiz.contracts import VerifyReport

from ..services import ledger
from ..services.auth import ALL_SITES, Action, authorize
from .deps import StoreDep, UserDep

router = APIRouter(prefix="/ledger", tags=["ledger"])


class LedgerVerifyPublic(BaseModel):
    """Verification of every chain the cloud holds; ``ok`` only when all are intact."""

    ok: bool
    chains: list[VerifyReport]


@router.get("/verify", response_model=LedgerVerifyPublic, summary="Verify the ledger",
            responses={403: {"description": "needs a fleet-wide grant"}})  # fmt: skip
async def verify_ledger(store: StoreDep, user: UserDep) -> LedgerVerifyPublic:
    """The cloud chain against its countersigned heads; edge chains' heads by signature
    (their entries live at the edge: `egiz ledger verify --edge-ledger` checks them)."""
    authorize(user, Action.read, ALL_SITES)
    return await run_in_threadpool(_verify, store)


def _verify(store) -> LedgerVerifyPublic:  # type: ignore[no-untyped-def]
    signer = ledger.signer_for(store)
    reports = [ledger.verify(store, ledger.CLOUD_CHAIN, signer)]
    for chain in store.ledger_chains():
        if chain.startswith("edge:"):
            heads, problem = ledger.trusted_heads(store, chain, signer)
            reports.append(VerifyReport(
                chain=chain, ok=problem is None, entries=0, heads_checked=len(heads),
                first_broken=None if problem is None else max((s for s, _ in heads), default=0) + 1,
                reason=problem,
            ))  # fmt: skip
    return LedgerVerifyPublic(ok=all(r.ok for r in reports), chains=reports)
