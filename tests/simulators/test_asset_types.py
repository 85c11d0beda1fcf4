"""Every asset type: each degradation mode reaches failure and its observable signal crosses the
type's alarm limit shortly before (not while healthy); each sudden fault moves its signals."""

from __future__ import annotations

import numpy as np
import pytest

from egiz.simulators.catalog import TYPES
from egiz.simulators.engine import GROUPS, Engine
from egiz.simulators.scenario import parse_scenario

#: (type, mode, observable signal, limit name)
CASES = [
    ("centrifugal_pump", "bearing_wear", "vibration", "hi_hi"),
    ("centrifugal_pump", "impeller_wear", "efficiency", "lo"),
    ("induction_motor", "bearing_wear", "vibration", "hi_hi"),
    ("induction_motor", "cooling_fouling", "winding_temp", "hi_hi"),
    ("belt_conveyor", "idler_bearing_wear", "idler_vibration", "hi_hi"),
    ("belt_conveyor", "belt_misalignment", "belt_offset", "hi_hi"),
    ("grinding_mill", "trunnion_bearing_wear", "trunnion_temp_feed", "hi_hi"),
    ("grinding_mill", "lube_pump_wear", "lube_pressure", "lo_lo"),
    ("compressor", "fouling", "discharge_temp", "hi"),
    ("compressor", "bearing_wear", "vibration", "hi_hi"),
    ("transformer", "cooling_degradation", "top_oil_temp", "hi_hi"),
    ("transformer", "insulation_ageing", "oil_moisture", "hi_hi"),
    ("esp", "stage_wear", "flow", "lo"),
    ("esp", "bearing_wear", "vibration", "hi_hi"),
    ("pipeline", "corrosion_leak", "imbalance", "hi_hi"),
    ("pipeline", "wax_buildup", "inlet_pressure", "hi_hi"),
]


def test_every_mode_and_type_is_covered() -> None:
    assert len(TYPES) >= 6 and set(GROUPS) == set(TYPES)
    assert {(t, m) for t, m, _, _ in CASES} == {
        (t.name, m.name) for t in TYPES.values() for m in t.modes
    }
    for spec in TYPES.values():
        assert len(spec.modes) >= 2, spec.name
        assert GROUPS[spec.name].__module__.startswith("egiz.simulators.physics")
        doc = __import__(GROUPS[spec.name].__module__, fromlist=["x"]).__doc__
        assert "Equations" in doc, spec.name  # equations and sources are named


def _scenario(type_name: str, mode: str, level: float = 0.9) -> str:
    return f"""\
version: 1
site: {{id: t}}
seed: 5
assets:
  - id: a
    type: {type_name}
    area: x
    protocol: opcua
    profile: {{kind: constant, level: {level}}}
    degradation:
      - {{mode: {mode}, onset_h: 2, life_h: 30}}
"""


@pytest.mark.parametrize(("type_name", "mode", "signal", "limit"), CASES)
def test_mode_crosses_alarm_before_failure(
    type_name: str, mode: str, signal: str, limit: str
) -> None:
    engine = Engine(parse_scenario(_scenario(type_name, mode), "t.yaml"))
    b = engine.advance(36 * 3600)
    group, _ = engine.where["a"]
    fail = group.failure_ts[0]
    assert np.isfinite(fail), "never failed"
    assert fail == pytest.approx(b.times[0] - 1 + 32 * 3600, abs=2)  # onset 2 h + life 30 h
    x = b.values[engine.signals.index(("a", signal))]
    smooth = np.convolve(np.pad(x, (119, 0), mode="edge"), np.ones(120) / 120, mode="valid")
    threshold = next(s for s in TYPES[type_name].signals if s.name == signal).limits[limit]
    crossed = smooth > threshold if limit.startswith("hi") else smooth < threshold
    near = (b.times > fail - 6 * 3600) & (b.times <= fail)
    healthy = (b.times > b.times[0] + 3 * 3600) & (b.times < b.times[0] + 3600 * 14)
    assert crossed[near].any(), f"{signal} never crosses {limit}={threshold} before failure"
    assert not crossed[healthy].any(), f"{signal} crosses {limit} while nearly healthy"
    truth = engine.truth()[0]
    assert truth["health"] == "failed" and truth["modes"][0]["mode"] == mode


FAULTS = [
    (
        "centrifugal_pump",
        "cavitation",
        {"vibration", "flow", "discharge_pressure", "efficiency", "shaft_power"},
    ),
    (
        "centrifugal_pump",
        "low_suction",
        # at this low flow NPSH required is small: the margin shrinks but stays positive
        {"suction_pressure", "npsh_margin", "discharge_pressure"},
    ),
    ("centrifugal_pump", "imbalance", {"vibration"}),
    ("centrifugal_pump", "seal_leak", {"flow"}),
    (
        "centrifugal_pump",
        "blocked_line",
        {"flow", "discharge_pressure", "shaft_power", "efficiency", "vibration"},
    ),
    ("induction_motor", "imbalance", {"vibration"}),
    (
        "belt_conveyor",
        "blocked_chute",
        {"feed_rate", "power", "motor_current", "belt_offset", "drive_bearing_temp"},
    ),
    ("compressor", "surge", {"flow", "surge_margin", "vibration", "power"}),
    ("transformer", "fan_failure", {"top_oil_temp", "hot_spot_temp"}),
    ("pipeline", "rupture", {"outlet_flow", "imbalance", "inlet_pressure"}),
    ("pipeline", "blocked_line", {"inlet_pressure"}),
    (
        "esp",
        "gas_lock",
        {"flow", "intake_pressure", "discharge_pressure", "motor_current", "motor_temp"},
    ),
]


@pytest.mark.parametrize(("type_name", "fault", "moved"), FAULTS)
def test_fault_changes_its_signals_and_not_others(
    type_name: str, fault: str, moved: set[str]
) -> None:
    text = _scenario(type_name, TYPES[type_name].modes[0].name, level=0.45).replace(
        "onset_h: 2", "onset_h: 900"
    )
    a, b = (Engine(parse_scenario(text, "t.yaml")) for _ in range(2))
    a.advance(1800)
    b.advance(1800)
    b.inject("a", fault, 1.0)
    va, vb = a.advance(3 * 3600).values, b.advance(3 * 3600).values
    for spec in TYPES[type_name].signals:
        row = a.signals.index(("a", spec.name))
        mean_a, mean_b = va[row, -1800:].mean(), vb[row, -1800:].mean()
        rel = abs(mean_b - mean_a) / max(abs(mean_a), 1.0)
        if spec.name in moved:
            assert rel > 0.02, f"{fault} does not move {spec.name}"
        else:
            assert rel < 0.01 + 3 * spec.noise / max(abs(mean_a), 1.0), f"{fault} moves {spec.name}"
    assert any(m["mode"] == fault and m["kind"] == "fault" for m in b.truth()[0]["modes"])


def test_pump_low_suction_at_full_flow_cavitates() -> None:
    text = _scenario("centrifugal_pump", "bearing_wear", level=1.0).replace(
        "onset_h: 2", "onset_h: 900"
    )
    a, b = (Engine(parse_scenario(text, "t.yaml")) for _ in range(2))
    b.inject("a", "low_suction", 1.0)
    va, vb = a.advance(600).values, b.advance(600).values
    row = {s: a.signals.index(("a", s)) for s in ("npsh_margin", "flow", "vibration", "efficiency")}
    assert vb[row["npsh_margin"]].mean() < 0 < va[row["npsh_margin"]].mean()
    assert vb[row["flow"]].mean() < 0.97 * va[row["flow"]].mean()  # head lost to cavitation
    assert vb[row["vibration"]].mean() > va[row["vibration"]].mean() + 1.0
    assert vb[row["efficiency"]].mean() < va[row["efficiency"]].mean() - 2.0
