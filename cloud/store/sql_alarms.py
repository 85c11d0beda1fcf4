"""Alarms (ISA-18.2 states) and asset model state, in portable SQL.

An edge's raise and clear share the alarm id, so writing them as two independent upserts
makes the result the same in any arrival order.
"""

from __future__ import annotations

from typing import Any

from .base import AlarmRow, AssetStateRow, HeartbeatRow, WriteSet
from .sqlbase import SqlBase, marks

ALARM_COLS = (
    "site, alarm_id, edge_id, asset, signal, severity, message, raised_at, cleared_at, "
    "cleared_by, acked_at, acked_by, shelved_until, shelved_by"
)
STATE_COLS = "site, asset, start, model, version, health, anomaly, rul, rul_low, rul_high, rul_unit"
_ALARM_FIELDS = frozenset({"cleared_at", "cleared_by", "acked_at", "acked_by", "shelved_until",
                           "shelved_by"})  # fmt: skip


class AlarmSql(SqlBase):
    """Alarm and asset-state methods of the Store interface."""

    def _write_alarms_and_state(self, cur: Any, ws: WriteSet) -> None:
        self._many(
            cur,
            f"INSERT INTO alarms ({ALARM_COLS}) VALUES ({marks(14)}) ON CONFLICT (site, alarm_id) "
            "DO UPDATE SET edge_id = excluded.edge_id, asset = excluded.asset, "
            "signal = excluded.signal, severity = excluded.severity, message = excluded.message, "
            "raised_at = excluded.raised_at",
            ws.alarm_raises,
        )
        self._many(
            cur,
            f"INSERT INTO alarms ({ALARM_COLS}) VALUES ({marks(14)}) ON CONFLICT (site, alarm_id) "
            "DO UPDATE SET cleared_at = excluded.cleared_at WHERE alarms.cleared_at IS NULL",
            ws.alarm_clears,
        )
        self._many(
            cur,
            f"INSERT INTO asset_state ({STATE_COLS}) VALUES ({marks(11)}) "
            "ON CONFLICT (site, asset) DO UPDATE SET start = excluded.start, "
            "model = excluded.model, version = excluded.version, health = excluded.health, "
            "anomaly = excluded.anomaly, rul = excluded.rul, rul_low = excluded.rul_low, "
            "rul_high = excluded.rul_high, rul_unit = excluded.rul_unit "
            "WHERE excluded.start > asset_state.start",
            ws.asset_state,
        )

    def alarms(self, site: str | None = None, active: bool | None = None,
               limit: int = 500) -> list[AlarmRow]:  # fmt: skip
        """Return alarms, newest raise first."""
        conds, params = [], []
        if site is not None:
            conds.append("site = ?")
            params.append(site)
        if active is not None:
            conds.append("cleared_at IS NULL" if active else "cleared_at IS NOT NULL")
        where = f"WHERE {' AND '.join(conds)}" if conds else ""
        rows = self._read(
            f"SELECT {ALARM_COLS} FROM alarms {where} "
            "ORDER BY COALESCE(raised_at, cleared_at) DESC, alarm_id LIMIT ?",
            (*params, limit),
        )
        return [AlarmRow(*r) for r in rows]

    def alarm(self, site: str, alarm_id: str) -> AlarmRow | None:
        """Return one alarm."""
        rows = self._read(
            f"SELECT {ALARM_COLS} FROM alarms WHERE site = ? AND alarm_id = ?", (site, alarm_id)
        )
        return AlarmRow(*rows[0]) if rows else None

    def update_alarm(self, site: str, alarm_id: str, **fields: float | str | None) -> bool:
        """Set cloud-side fields of an alarm (None clears a field)."""
        bad = set(fields) - _ALARM_FIELDS
        if bad or not fields:
            raise ValueError(f"cannot set alarm fields {sorted(bad) or 'none'}")
        sets = ", ".join(f"{k} = ?" for k in fields)
        with self._tx(self._conn()) as cur:
            cur = self._exec(
                cur,
                f"UPDATE alarms SET {sets} WHERE site = ? AND alarm_id = ?",
                (*fields.values(), site, alarm_id),
            )
            return cur.rowcount > 0

    def asset_states(self, site: str | None = None) -> list[AssetStateRow]:
        """Return the newest model output of every scored asset."""
        where, params = ("WHERE site = ?", (site,)) if site else ("", ())
        rows = self._read(
            f"SELECT {STATE_COLS} FROM asset_state {where} ORDER BY site, asset", params
        )
        return [AssetStateRow(*r) for r in rows]

    def heartbeat(self, edge_id: str) -> HeartbeatRow | None:
        """Return the newest heartbeat of an edge."""
        rows = self._read(
            "SELECT edge_id, epoch, seq, ts, body FROM heartbeats WHERE edge_id = ? "
            "ORDER BY ts DESC, seq DESC LIMIT 1",
            (edge_id,),
        )
        return HeartbeatRow(*rows[0]) if rows else None
