"""``/api/v1/alarms``: list alarms; acknowledge, shelve, unshelve and clear them (operators)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request

from ..schemas import AlarmPublic, AlarmsPublic, ShelveRequest
from ..services import alarms
from .deps import StoreDep, UserDep

router = APIRouter(prefix="/alarms", tags=["alarms"])

Site = Annotated[str, Path(description="site id", examples=["demo"])]
AlarmId = Annotated[str, Path(description="edge-generated alarm id", examples=["a-1"])]
ClearedId = Annotated[str, Path(description="edge-generated alarm id", examples=["a-2"])]
_ERR = {
    403: {"description": "no operator role on this site"},
    404: {"description": "no such alarm"},
}


@router.get("", response_model=AlarmsPublic, summary="List alarms")
def read_alarms(
    store: StoreDep,
    user: UserDep,
    site: Annotated[str | None, Query()] = None,
    active: Annotated[bool | None, Query(description="true: not cleared; false: cleared")] = None,
    shelved: Annotated[bool | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> AlarmsPublic:
    """Alarms of the sites the user may read, newest raise first."""
    return alarms.list_alarms(store, user, site, active, shelved, limit, offset)


@router.post("/{site}/{alarm_id}/ack", response_model=AlarmPublic, responses=_ERR,
             summary="Acknowledge an alarm")  # fmt: skip
def ack_alarm(
    request: Request, store: StoreDep, user: UserDep, site: Site, alarm_id: AlarmId
) -> AlarmPublic:
    """Acknowledge (idempotent; the first acknowledgement is kept; webhooks: at least once)."""
    alarm = alarms.acknowledge(store, user, site, alarm_id)
    request.app.state.notifier.publish("alarm_ack", {"alarm": alarm.model_dump(mode="json")})
    return alarm


@router.post("/{site}/{alarm_id}/shelve", response_model=AlarmPublic, responses=_ERR,
             summary="Shelve an alarm")  # fmt: skip
def shelve_alarm(
    store: StoreDep, user: UserDep, site: Site, alarm_id: AlarmId, body: ShelveRequest
) -> AlarmPublic:
    """Shelve for ``duration_s`` seconds."""
    return alarms.shelve(store, user, site, alarm_id, body.duration_s)


@router.post("/{site}/{alarm_id}/unshelve", response_model=AlarmPublic, responses=_ERR,
             summary="Unshelve an alarm")  # fmt: skip
def unshelve_alarm(store: StoreDep, user: UserDep, site: Site, alarm_id: AlarmId) -> AlarmPublic:
    """Return it to the active list."""
    return alarms.unshelve(store, user, site, alarm_id)


@router.post("/{site}/{alarm_id}/clear", response_model=AlarmPublic,
             responses={**_ERR, 409: {"description": "already cleared"}},
             summary="Clear an alarm by hand")  # fmt: skip
def clear_alarm(store: StoreDep, user: UserDep, site: Site, alarm_id: ClearedId) -> AlarmPublic:
    """Clear an active alarm (e.g. its edge is gone for good)."""
    return alarms.clear(store, user, site, alarm_id)
