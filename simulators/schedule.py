"""Scenario schedules: scheduled/random faults and start/stop operations, and their parsing."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from .catalog import TYPES
from .yamlines import Reader, choices


@dataclass(frozen=True, slots=True)
class FaultSpec:
    """A scheduled (``at_h``) or random (``rate_per_day``) fault; hours are simulated time."""

    asset: str
    fault: str
    signal: str | None = None
    severity: float = 1.0
    at_h: float | None = None
    rate_per_day: float | None = None
    duration_h: tuple[float, float] = (1.0, 1.0)


@dataclass(frozen=True, slots=True)
class OperationSpec:
    """A scheduled start or stop at ``at_h`` (simulated hours), repeating every ``every_h``."""

    asset: str
    action: str
    at_h: float
    every_h: float | None = None

    def due_s(self, t0: float, t: float) -> float:
        """Return the latest scheduled time (s since epoch) at or before ``t``, or -inf."""
        first = t0 + self.at_h * 3600.0
        if t < first:
            return -math.inf
        if not self.every_h:
            return first
        period = self.every_h * 3600.0
        return first + math.floor((t - first) / period) * period

    def next_s(self, t0: float, t: float) -> float:
        """Return the first scheduled time (s since epoch) after ``t``, or inf."""
        first = t0 + self.at_h * 3600.0
        if t < first:
            return first
        if not self.every_h:
            return math.inf
        return self.due_s(t0, t) + self.every_h * 3600.0


def parse_operation(r: Reader, o: Any, j: int, assets: set[str]) -> OperationSpec:
    where = f"operations[{j}]"
    r.keys(o, where, ("asset", "action", "at_h", "every_h"))
    asset = r.need(o, "asset", where, str)
    if asset not in assets:
        r.fail(
            o,
            "asset",
            f"{where}.asset",
            f"no asset {asset!r} in this scenario",
            choices(asset, assets),
        )
    action = r.need(o, "action", where, str)
    if action not in ("start", "stop"):
        r.fail(
            o,
            "action",
            f"{where}.action",
            f"unknown action {action!r}",
            choices(action, ("start", "stop")),
        )
    at_h = float(r.need(o, "at_h", where, (int, float)))
    every = r.get(o, "every_h", where, (int, float), None)
    if at_h < 0 or (every is not None and every <= 0):
        r.fail(o, "at_h", where, "times must be >= 0 and every_h > 0", "e.g. at_h: 22, every_h: 24")
    return OperationSpec(asset, action, at_h, None if every is None else float(every))


def parse_fault(r: Reader, f: Any, j: int, assets: dict[str, Any]) -> FaultSpec:
    from .engine import GROUPS
    from .faults import SENSOR_FAULTS

    where = f"faults[{j}]"
    r.keys(f, where, ("asset", "fault", "signal", "severity", "at_h", "rate_per_day", "duration_h"))
    asset = r.need(f, "asset", where, str)
    if asset not in assets:
        r.fail(
            f,
            "asset",
            f"{where}.asset",
            f"no asset {asset!r} in this scenario",
            choices(asset, assets),
        )
    type_name = assets[asset].type
    name = r.need(f, "fault", where, str)
    known = (*GROUPS[type_name].FAULTS, *SENSOR_FAULTS)
    if name not in known:
        r.fail(
            f,
            "fault",
            f"{where}.fault",
            f"{type_name} has no fault {name!r}",
            choices(name, known),
        )
    signal = r.get(f, "signal", where, str, None)
    names = TYPES[type_name].signal_names()
    if name in SENSOR_FAULTS and signal not in names:
        r.fail(
            f,
            "fault",
            f"{where}.signal",
            f"sensor fault {name!r} needs a signal",
            "set signal: " + choices(str(signal), names),
        )
    at_h = r.get(f, "at_h", where, (int, float), None)
    rate = r.get(f, "rate_per_day", where, (int, float), None)
    if (at_h is None) == (rate is None):
        r.fail_line(
            f.line,
            where,
            "give exactly one of at_h (scheduled) or rate_per_day (random)",
            "add at_h: 12 or rate_per_day: 0.1",
        )
    return FaultSpec(
        asset=asset,
        fault=name,
        signal=signal,
        severity=float(r.get(f, "severity", where, (int, float), 1.0)),
        at_h=None if at_h is None else float(at_h),
        rate_per_day=None if rate is None else float(rate),
        duration_h=r.span(f, "duration_h", where, positive=True)
        if "duration_h" in f
        else (1.0, 1.0),
    )
