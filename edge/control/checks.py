"""The edge's own checks of a command against its *local, current* state (pure functions).

The cloud checked the same limits when the command was issued, but its view may be stale
after an outage, and a command may reach the edge by another path: the edge is the last line.
"""

from __future__ import annotations

from egiz.contracts import AssetType, Command, CommandAction


def check_clock(now: float, clock_offset_s: float | None, max_offset_s: float) -> str | None:
    """Return why expiry cannot be judged, or None."""
    if clock_offset_s is None:
        return "clock offset to the cloud is unknown, so expiry cannot be judged (fix: restore the uplink)"
    if abs(clock_offset_s) > max_offset_s:
        return (
            f"edge clock is off by {clock_offset_s:+.1f} s (limit {max_offset_s:g} s; "
            "fix: synchronize the edge's clock with NTP)"
        )
    return None


def check_expiry(cmd: Command, now: float, clock_offset_s: float) -> str | None:
    """Return why the command has expired (cloud time = edge time - offset), or None."""
    cloud_now = now - clock_offset_s
    if cloud_now >= cmd.expires_at.timestamp():
        late = cloud_now - cmd.expires_at.timestamp()
        return f"expired {late:.0f} s ago at {cmd.expires_at.isoformat()}; not executed"
    return None


def check_command(
    cmd: Command,
    atype: AssetType,
    current: float | None,
    tripped: str | None,
    since_last_s: float | None = None,
) -> str | None:
    """Return why the command may not run given the current value, any active trip, and the
    seconds since a command last changed this setpoint (for max_rate)."""
    if cmd.action == CommandAction.set_setpoint:
        try:
            spec = atype.setpoint(cmd.setpoint or "")
        except KeyError:
            return f"{atype.name} has no setpoint {cmd.setpoint!r}"
        if not isinstance(cmd.value, int | float) or isinstance(cmd.value, bool):
            return f"{cmd.setpoint} needs a numeric value"
        v = float(cmd.value)
        if not spec.min <= v <= spec.max:
            return (
                f"out of limits at the edge: {cmd.setpoint} {v:g} {spec.unit} is outside "
                f"[{spec.min:g}, {spec.max:g}]"
            )
        if spec.max_step is not None:
            if current is None:
                return f"cannot read the current {cmd.setpoint} to check max_step; not executed"
            if abs(v - current) > spec.max_step:
                return (
                    f"out of limits at the edge: step {abs(v - current):g} {spec.unit} from the "
                    f"current {current:g} exceeds max_step {spec.max_step:g}"
                )
        if spec.max_rate is not None and since_last_s is not None and current is not None:
            elapsed = since_last_s
            if abs(v - current) > spec.max_rate * elapsed:
                return (
                    f"out of limits at the edge: {abs(v - current):g} {spec.unit} in "
                    f"{elapsed:.0f} s exceeds max_rate {spec.max_rate:g} {spec.unit}/s"
                )
        return None
    if not any(c.name == cmd.action.value for c in atype.commands):
        return f"{atype.name} has no command {cmd.action.value!r}"
    if cmd.action == CommandAction.start and tripped:
        return f"interlock: {tripped}; no start while the trip is active"
    return None
