"""The edge's own checks: clock, expiry, limits, max_step against the read value, interlocks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from egiz.contracts import AssetType, Command
from egiz.edge.control.checks import check_clock, check_command, check_expiry

PUMP = AssetType.model_validate({
    "name": "pump", "signals": [{"name": "speed", "unit": "rpm"}],
    "setpoints": [{"name": "speed_setpoint", "unit": "rpm", "min": 0, "max": 1800,
                   "max_step": 300}],
    "commands": [{"name": "start"}, {"name": "stop"}],
})  # fmt: skip
NOW = datetime(2026, 11, 26, 12, tzinfo=UTC)


def cmd(**kw: object) -> Command:
    base = {"id": "c1", "asset": "pump-1", "action": "set_setpoint", "setpoint": "speed_setpoint",
            "value": 1400.0, "issuer": "op", "issued_at": NOW,
            "expires_at": NOW + timedelta(seconds=60)}  # fmt: skip
    return Command.model_validate({**base, **kw})


def test_checks_clock_unknown_or_off_refuses() -> None:
    assert "unknown" in (check_clock(0, None, 5.0) or "")
    assert "off by +9.0 s" in (check_clock(0, 9.0, 5.0) or "")
    assert check_clock(0, -1.0, 5.0) is None


def test_checks_expiry_uses_cloud_time() -> None:
    t = NOW.timestamp()
    assert check_expiry(cmd(), t + 30, 0.0) is None
    assert "expired" in (check_expiry(cmd(), t + 61, 0.0) or "")
    # The edge clock is 40 s ahead: at edge time +70 it is only +30 at the cloud.
    assert check_expiry(cmd(), t + 70, 40.0) is None


def test_checks_limits_and_step_against_current_value() -> None:
    assert check_command(cmd(), PUMP, 1300.0, None) is None
    assert "outside [0, 1800]" in (check_command(cmd(value=2500.0), PUMP, 1300.0, None) or "")
    assert "max_step 300" in (check_command(cmd(value=1700.0), PUMP, 1300.0, None) or "")
    assert "cannot read" in (check_command(cmd(), PUMP, None, None) or "")
    assert "no setpoint" in (check_command(cmd(setpoint="nope"), PUMP, 1.0, None) or "")


def test_checks_interlock_blocks_start_during_trip() -> None:
    start = cmd(action="start", setpoint=None, value=None)
    assert check_command(start, PUMP, None, None) is None
    assert "interlock" in (check_command(start, PUMP, None, "trip rule speed > 1650") or "")
    stop = cmd(action="stop", setpoint=None, value=None)
    assert check_command(stop, PUMP, None, "trip rule speed > 1650") is None
    assert "no command 'reset'" in (check_command(cmd(action="reset"), PUMP, None, None) or "")


def test_checks_max_rate_since_last_change() -> None:
    spec = PUMP.model_dump()
    spec["setpoints"][0]["max_rate"] = 10.0  # rpm/s
    rated = AssetType.model_validate(spec)
    c = cmd(value=1400.0)  # 100 rpm from the current 1300
    assert "max_rate 10" in (check_command(c, rated, 1300.0, None, since_last_s=5.0) or "")
    assert check_command(c, rated, 1300.0, None, since_last_s=20.0) is None
    assert check_command(c, rated, 1300.0, None, since_last_s=None) is None  # never changed
