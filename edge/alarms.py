"""Limit alarms (ISA-18.2): one alarm per limit, deadband hysteresis, on/off delays in data time.

A ``hi`` alarm's condition is ``value > hi``; it is raised at the first sample at which the
condition has held for ``on_delay_s`` (source time), and cleared at the first sample at which
``value < hi - deadband`` has held for ``off_delay_s``. ``lo`` mirrors it. ``hi_hi``/``lo_lo``
are separate alarms of higher severity. Bad samples are ignored. The work per batch loops over
the *runs* of each limited signal's condition (found with numpy), never over samples.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from egiz.contracts import SiteConfig

from .normalize import Catalog, Normalized
from .samples import BAD
from .window import iso

#: limit name -> (direction: +1 above / -1 below, severity)
LIMITS = {"hi_hi": (1, "high"), "hi": (1, "medium"), "lo": (-1, "medium"), "lo_lo": (-1, "high")}


@dataclass(slots=True)
class AlarmState:
    """One limit of one signal: its thresholds, and whether it is active."""

    asset: str
    signal: str
    limit: str
    threshold: float
    deadband: float
    on_delay_s: float
    off_delay_s: float
    active: bool = False
    alarm_id: str | None = None
    since: float | None = None  # start of the current run of the pending condition
    raised_ts: float | None = None
    value: float | None = None
    upto: float | None = None  # newest sample time evaluated: older or equal ones are replays


class AlarmEngine:
    """Evaluates every limit of every signal on normalized batches; returns event bodies."""

    def __init__(self, config: SiteConfig, catalog: Catalog) -> None:
        self.catalog = catalog
        self.alarms: dict[int, list[AlarmState]] = {}
        types = {t.name: t for t in config.asset_types}
        for asset in config.assets:
            for spec in types[asset.type].signals:
                lim = spec.limits
                if lim is None:
                    continue
                sid = catalog.index[(asset.id, spec.name)]
                for name in LIMITS:
                    thr = getattr(lim, name)
                    if thr is not None:
                        self.alarms.setdefault(sid, []).append(
                            AlarmState(
                                asset.id,
                                spec.name,
                                name,
                                thr,
                                lim.deadband,
                                lim.on_delay_s,
                                lim.off_delay_s,
                            )
                        )
        self._limited = np.zeros(len(catalog), dtype=bool)
        self._limited[list(self.alarms)] = True

    def active(self) -> list[dict[str, Any]]:
        """Return the active alarms for the status page."""
        return [
            {
                "alarm_id": a.alarm_id,
                "asset": a.asset,
                "signal": a.signal,
                "limit": a.limit,
                "severity": LIMITS[a.limit][1],
                "raised": iso(a.raised_ts or 0.0),
                "value": a.value,
                "message": f"{a.signal} {'above' if LIMITS[a.limit][0] > 0 else 'below'} "
                f"{a.limit} {a.threshold:g}",
            }
            for states in self.alarms.values()
            for a in states
            if a.active
        ]

    def dump(self) -> list[dict[str, Any]]:
        """Return the state to persist (so an alarm raised before a restart can still clear,
        and samples replayed after a restart, e.g. by HistoryRead backfill, are not evaluated
        twice: that would raise or clear the same alarm again)."""
        return [
            asdict(a)
            for states in self.alarms.values()
            for a in states
            if a.active or a.since is not None or a.upto is not None
        ]

    def load(self, saved: list[dict[str, Any]]) -> None:
        """Restore persisted states onto the configured alarms (unknown ones are dropped)."""
        by_key = {(a.asset, a.signal, a.limit): a for st in self.alarms.values() for a in st}
        for d in saved:
            a = by_key.get((d["asset"], d["signal"], d["limit"]))
            if a is not None:
                a.active, a.alarm_id, a.since = d["active"], d["alarm_id"], d["since"]
                a.raised_ts, a.value = d.get("raised_ts"), d.get("value")
                a.upto = d.get("upto")

    def update(self, batch: Normalized) -> list[dict[str, Any]]:
        """Feed one batch; return alarm_raise / alarm_clear event bodies in data-time order."""
        if not self.alarms or not batch.series.shape[0]:
            return []
        mask = self._limited[batch.series] & (batch.quality != BAD)
        if not mask.any():
            return []
        series, ts, value = batch.series[mask], batch.ts[mask], batch.value[mask]
        order = np.lexsort((ts, series))
        series, ts, value = series[order], ts[order], value[order]
        bounds = np.flatnonzero(np.diff(series)) + 1
        events: list[dict[str, Any]] = []
        for lo, hi in zip(np.r_[0, bounds], np.r_[bounds, series.shape[0]], strict=True):
            for alarm in self.alarms[int(series[lo])]:
                events += _run(alarm, ts[lo:hi], value[lo:hi])
        events.sort(key=lambda e: e["ts"])
        return events


def _run(a: AlarmState, t: np.ndarray, v: np.ndarray) -> list[dict[str, Any]]:
    """Advance one alarm over one signal's samples (sorted by time)."""
    if a.upto is not None:  # skip samples already evaluated (a replay after a reconnect/kill)
        skip = int(np.searchsorted(t, a.upto, side="right"))
        t, v = t[skip:], v[skip:]
    if not t.shape[0]:
        return []
    a.upto = float(t[-1])
    sign = LIMITS[a.limit][0]
    out = []
    i, n = 0, t.shape[0]
    while i < n:
        if not a.active:
            cond = (v[i:] > a.threshold) if sign > 0 else (v[i:] < a.threshold)
            delay = a.on_delay_s
        else:
            band = a.threshold - sign * a.deadband
            cond = (v[i:] < band) if sign > 0 else (v[i:] > band)
            delay = a.off_delay_s
        true = np.flatnonzero(cond)
        if not true.shape[0]:
            a.since = None
            return out
        first = i + int(true[0])
        if first > i:
            a.since = None  # the condition was broken before this run started
        false_after = np.flatnonzero(~cond[first - i :])
        end = first + int(false_after[0]) if false_after.shape[0] else n  # run is [first, end)
        start_ts = a.since if a.since is not None else float(t[first])
        # first sample of the run at which the condition has held for the delay
        j = first + int(np.searchsorted(t[first:end], start_ts + delay, side="left"))
        if j >= end:
            a.since = start_ts if end == n else None
            i = end
            continue
        a.since = None
        out.append(_flip(a, float(t[j]), float(v[j])))
        i = j + 1
    return out


def _flip(a: AlarmState, ts: float, value: float) -> dict[str, Any]:
    direction = "above" if LIMITS[a.limit][0] > 0 else "below"
    if not a.active:
        a.active, a.alarm_id, a.raised_ts, a.value = True, str(uuid.uuid4()), ts, value
        kind, sev = "alarm_raise", LIMITS[a.limit][1]
        msg = f"{a.asset}.{a.signal} {direction} {a.limit} {a.threshold:g}: {value:g}"
    else:
        a.active = False
        kind, sev = "alarm_clear", LIMITS[a.limit][1]
        msg = (
            f"{a.asset}.{a.signal} back within {a.limit} {a.threshold:g} (deadband "
            f"{a.deadband:g}): {value:g}"
        )
    body = {
        "type": "event",
        "kind": kind,
        "ts": iso(ts),
        "asset": a.asset,
        "signal": a.signal,
        "severity": sev,
        "message": msg,
        "alarm_id": a.alarm_id,
        "data": {
            "limit": a.limit,
            "threshold": a.threshold,
            "value": value,
            "deadband": a.deadband,
        },
    }
    if kind == "alarm_clear":
        a.alarm_id, a.raised_ts, a.value = None, None, None
    return body
