"""Alarms: ISA-18.2 states, acknowledge, shelve and clear by users with the operator role."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from ..errors import Conflict, NotFound
from ..schemas import AlarmPublic, AlarmsPublic
from ..store import Store
from ..store.base import AlarmRow
from . import ledger
from .auth import Action, Principal, authorize


def _dt(t: float | None) -> datetime | None:
    return None if t is None else datetime.fromtimestamp(t, UTC)


def public(a: AlarmRow, now: float) -> AlarmPublic:
    """Return the API view of an alarm row at time ``now``."""
    active = a.cleared_at is None
    acked = a.acked_at is not None
    state = f"{'active' if active else 'cleared'}_{'acknowledged' if acked else 'unacknowledged'}"
    return AlarmPublic(
        site=a.site, alarm_id=a.alarm_id, asset=f"{a.site}.{a.asset}" if a.asset else None,
        signal=a.signal, severity=a.severity, message=a.message, state=state, active=active,
        acknowledged=acked, shelved=a.shelved_until is not None and a.shelved_until > now,
        raised_at=_dt(a.raised_at), cleared_at=_dt(a.cleared_at), cleared_by=a.cleared_by,
        acked_at=_dt(a.acked_at), acked_by=a.acked_by, shelved_until=_dt(a.shelved_until),
        shelved_by=a.shelved_by, edge_id=a.edge_id,
    )  # fmt: skip


def list_alarms(
    store: Store,
    user: Principal,
    site: str | None = None,
    active: bool | None = None,
    shelved: bool | None = None,
    limit: int = 500,
    offset: int = 0,
) -> AlarmsPublic:
    """Return the alarms of the sites the user may read, newest raise first."""
    allowed = user.sites(Action.read)
    if site is not None:
        authorize(user, Action.read, site)
        rows = store.alarms(site, active, limit + offset)
    elif allowed is None:
        rows = store.alarms(None, active, limit + offset)
    else:
        rows = [a for s in sorted(allowed) for a in store.alarms(s, active, limit + offset)]
        rows.sort(key=lambda a: -(a.raised_at or a.cleared_at or 0.0))
    now = time.time()
    data = [public(a, now) for a in rows]
    if shelved is not None:
        data = [a for a in data if a.shelved == shelved]
    data = data[offset : offset + limit]
    return AlarmsPublic(data=data, count=len(data))


def _get(store: Store, user: Principal, site: str, alarm_id: str) -> AlarmRow:
    authorize(user, Action.read, site)
    row = store.alarm(site, alarm_id)
    if row is None:
        raise NotFound(f"no alarm {alarm_id!r} on site {site!r}")
    authorize(user, Action.alarm, site)
    return row


def acknowledge(store: Store, user: Principal, site: str, alarm_id: str) -> AlarmPublic:
    """Acknowledge an alarm (idempotent: the first acknowledgement is kept)."""
    row = _get(store, user, site, alarm_id)
    now = time.time()
    if row.acked_at is None:
        store.update_alarm(site, alarm_id, acked_at=now, acked_by=user.username)
        # Issue 7: an acknowledgement is a ledger entry (who, which alarm, when).
        ledger.append(store, ledger.signer_for(store), "alarm_ack", user.username,
                      f"{site}.{row.asset}" if row.asset else site,
                      {"alarm_id": alarm_id, "severity": row.severity, "message": row.message},
                      now)  # fmt: skip
    return public(store.alarm(site, alarm_id) or row, now)


def shelve(
    store: Store, user: Principal, site: str, alarm_id: str, duration_s: float
) -> AlarmPublic:
    """Shelve an alarm for ``duration_s`` (it leaves the active list until then)."""
    _get(store, user, site, alarm_id)
    now = time.time()
    store.update_alarm(site, alarm_id, shelved_until=now + duration_s, shelved_by=user.username)
    return public(store.alarm(site, alarm_id), now)  # type: ignore[arg-type]


def unshelve(store: Store, user: Principal, site: str, alarm_id: str) -> AlarmPublic:
    """Return a shelved alarm to the active list."""
    _get(store, user, site, alarm_id)
    store.update_alarm(site, alarm_id, shelved_until=None, shelved_by=None)
    return public(store.alarm(site, alarm_id), time.time())  # type: ignore[arg-type]


def clear(store: Store, user: Principal, site: str, alarm_id: str) -> AlarmPublic:
    """Clear an active alarm by hand (e.g. its edge is gone); 409 when already cleared."""
    row = _get(store, user, site, alarm_id)
    if row.cleared_at is not None:
        raise Conflict(f"alarm {alarm_id!r} is already cleared")
    now = time.time()
    store.update_alarm(site, alarm_id, cleared_at=now, cleared_by=user.username)
    return public(store.alarm(site, alarm_id), now)  # type: ignore[arg-type]
