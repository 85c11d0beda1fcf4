"""Fleet-wide views: events, edges and their status, and the health/RUL ranking."""

from __future__ import annotations

import json
import math
import time
from datetime import UTC, datetime

from ..errors import NotFound
from ..schemas import (
    AssetHealth,
    EdgePublic,
    EdgesPublic,
    EdgeStatus,
    EventPublic,
    EventsPublic,
    FleetHealthPublic,
)
from ..store import Store
from ..store.base import EdgeRow
from .auth import ALL_SITES, Action, Principal, authorize

ONLINE_WINDOW_S = 120.0


def _dt(t: float | None) -> datetime | None:
    return None if t is None else datetime.fromtimestamp(t, UTC)


def _sites(store: Store, user: Principal, site: str | None) -> list[str | None]:
    """Sites to query: [site] after a check, [None] (= all) for fleet-wide readers, else grants."""
    if site is not None:
        authorize(user, Action.read, site)
        return [site]
    allowed = user.sites(Action.read)
    return [None] if allowed is None else sorted(allowed)


def list_events(
    store: Store,
    user: Principal,
    site: str | None = None,
    asset: str | None = None,
    kind: str | None = None,
    before: datetime | None = None,
    limit: int = 100,
) -> EventsPublic:
    """Return events of readable sites, newest first; page with ``before``."""
    b = (
        None
        if before is None
        else (before if before.tzinfo else before.replace(tzinfo=UTC)).timestamp()
    )
    rows = [e for s in _sites(store, user, site) for e in store.events(s, asset, limit, kind, b)]
    rows.sort(key=lambda e: (-e.ts, -e.seq))
    data = []
    for e in rows[:limit]:
        body = json.loads(e.body)
        data.append(
            EventPublic(
                edge_id=e.edge_id, epoch=e.epoch, seq=e.seq, site=e.site, kind=e.kind,
                ts=_dt(e.ts), asset=e.asset, signal=e.signal, severity=e.severity,
                message=e.message, alarm_id=e.alarm_id, start=body.get("start"),
                end=body.get("end"), data=body.get("data", {}),
            )
        )  # fmt: skip
    return EventsPublic(data=data, count=len(data))


def edge_public(store: Store, e: EdgeRow, now: float) -> EdgePublic:
    """Return an edge with its newest heartbeat."""
    hb = store.heartbeat(e.edge_id)
    status = None
    if hb is not None:
        body = json.loads(hb.body)
        status = EdgeStatus(
            ts=_dt(hb.ts), outbox_depth=body["outbox_depth"],
            oldest_unsent_s=body.get("oldest_unsent_s"), clock_offset_s=body.get("clock_offset_s"),
            sources=body.get("sources", {}), agent_version=body.get("agent_version", ""),
        )  # fmt: skip
    online = (
        e.revoked_at is None and e.last_seen is not None and now - e.last_seen < ONLINE_WINDOW_S
    )
    return EdgePublic(
        edge_id=e.edge_id, site=e.site, revoked=e.revoked_at is not None, online=online,
        created_at=_dt(e.created_at), last_seen=_dt(e.last_seen), heartbeat=status,
    )  # fmt: skip


def list_edges(store: Store, user: Principal) -> EdgesPublic:
    """Return the edges of readable sites (edges without a site: fleet-wide readers only)."""
    allowed = user.sites(Action.read)
    now = time.time()
    data = [
        edge_public(store, e, now)
        for e in store.edges()
        if allowed is None or (e.site is not None and e.site in allowed)
    ]
    return EdgesPublic(data=data, count=len(data))


def edge_site_check(store: Store, user: Principal, edge_id: str) -> EdgeRow:
    """Return the edge after checking the user may manage edges of its site."""
    e = store.edge(edge_id)
    if e is None:
        raise NotFound(f"no edge {edge_id!r}")
    authorize(user, Action.manage_edges, e.site or ALL_SITES)
    return e


def health_ranking(store: Store, user: Principal, site: str | None = None,
                   limit: int = 100, offset: int = 0) -> FleetHealthPublic:  # fmt: skip
    """Rank assets worst first: shortest RUL, then lowest health, then most active alarms."""
    rows: list[AssetHealth] = []
    for s in _sites(store, user, site):
        states = {(x.site, x.asset): x for x in store.asset_states(s)}
        alarms: dict[tuple[str, str | None], int] = {}
        for a in store.alarms(s, active=True, limit=100_000):
            alarms[(a.site, a.asset)] = alarms.get((a.site, a.asset), 0) + 1
        for a in store.assets(s):
            st = states.get((a.site, a.asset))
            rows.append(
                AssetHealth(
                    id=f"{a.site}.{a.asset}", site=a.site, name=a.name, type=a.type, area=a.area,
                    active_alarms=alarms.get((a.site, a.asset), 0),
                    **({} if st is None else {
                        "health": st.health, "anomaly": st.anomaly, "rul": st.rul,
                        "rul_low": st.rul_low, "rul_high": st.rul_high, "rul_unit": st.rul_unit,
                        "model": st.model, "version": st.version, "scored_at": _dt(st.start),
                    }),
                )
            )  # fmt: skip
    rows.sort(
        key=lambda r: (
            r.rul if r.rul is not None else math.inf,
            r.health if r.health is not None else math.inf,
            -r.active_alarms,
            r.id,
        )
    )
    page = rows[offset : offset + limit]
    return FleetHealthPublic(data=page, count=len(page))
