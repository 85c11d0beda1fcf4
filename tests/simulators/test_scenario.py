"""Scenario loading: built-ins load; bad files give one line naming file:line, field and fix."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from egiz.simulators.errors import ScenarioError
from egiz.simulators.scenario import builtin_names, load_scenario

GOOD = """\
version: 1
site: {id: s1}
assets:
  - id: p1
    type: centrifugal_pump
    area: a1
    protocol: opcua
"""


def test_scenario_builtins_load() -> None:
    assert "demo" in builtin_names()
    demo = load_scenario("demo")
    assert demo.site == "demo" and demo.enterprise == "egiz"
    assert [a.id for a in demo.assets] == ["pump-1", "pump-2", "motor-1"]
    assert {a.protocol for a in demo.assets} == {"opcua", "mqtt"}


def _error(tmp_path: Path, text: str) -> ScenarioError:
    path = tmp_path / "site.yaml"
    path.write_text(text)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert "\n" not in str(info.value)
    assert str(info.value).startswith(f"{path}:")
    return info.value


@pytest.mark.parametrize(
    ("old", "new", "line", "field", "fix"),
    [
        (
            "type: centrifugal_pump",
            "type: centrifugal_pmp",
            5,
            "assets[0].type",
            "centrifugal_pump",
        ),
        ("protocol: opcua", "protocol: modbus", 7, "assets[0].protocol", "opcua"),
        ("area: a1", "area: A 1", 6, "assets[0].area", "lowercase"),
        ("area: a1", "area: a1\n    parms: {}", 7, "assets[0].parms", "params"),
        (
            "area: a1",
            "area: a1\n    params: {rated_flw: 3}",
            7,
            "assets[0].params.rated_flw",
            "rated_flow",
        ),
        (
            "area: a1",
            "area: a1\n    params: {rated_flow: fast}",
            7,
            "assets[0].params.rated_flow",
            "number",
        ),
        (
            "area: a1",
            "area: a1\n    degradation:\n      - {mode: rust, onset_h: 1, life_h: 2}",
            8,
            "assets[0].degradation[0].mode",
            "bearing_wear",
        ),
        (
            "area: a1",
            "area: a1\n    degradation:\n      - {mode: bearing_wear, onset_h: 1, life_h: [5, 2]}",
            8,
            "assets[0].degradation[0].life_h",
            "min <= max",
        ),
        ("site: {id: s1}", "site: {name: x}", 2, "site.id", "add"),
        ("area: a1", "area: a1\n    profile: {kind: shift}", 7, "assets[0].profile.kind", "shifts"),
        (
            "area: a1",
            "area: a1\n    profile: {kind: batch, periods: 3}",
            7,
            "assets[0].profile.periods",
            "period_s",
        ),
        (
            "area: a1",
            "area: a1\n    profile: {kind: constant, level: high}",
            7,
            "assets[0].profile.level",
            "number",
        ),
        ("version: 1", "version: 1\nstep: 2", 2, "step", "step_s"),
    ],
)
def test_scenario_bad_file_names_line_field_and_fix(
    tmp_path: Path, old: str, new: str, line: int, field: str, fix: str
) -> None:
    err = _error(tmp_path, GOOD.replace(old, new))
    assert (err.line, err.field) == (line, field)
    assert fix in (err.fix or "")
    assert f":{line}: {field}: " in str(err)


def test_scenario_yaml_syntax_error_names_line(tmp_path: Path) -> None:
    err = _error(tmp_path, GOOD + "  - id: [oops\n")
    assert err.line is not None and err.line >= 8


def test_scenario_duplicate_asset_id(tmp_path: Path) -> None:
    text = GOOD + "  - {id: p1, type: induction_motor, area: a1, protocol: mqtt}\n"
    err = _error(tmp_path, text)
    assert (err.line, err.field) == (8, "assets[1].id")


def test_scenario_unknown_builtin_lists_choices() -> None:
    with pytest.raises(ScenarioError, match="demo"):
        load_scenario("no-such-scenario")


FAULTY = GOOD + "faults:\n"


@pytest.mark.parametrize(
    ("item", "field", "fix"),
    [
        ("{asset: p2, fault: cavitation, at_h: 1}", "faults[0].asset", "p1"),
        ("{asset: p1, fault: cavitatoin, at_h: 1}", "faults[0].fault", "cavitation"),
        ("{asset: p1, fault: dropout, at_h: 1}", "faults[0].signal", "flow"),
        ("{asset: p1, fault: cavitation}", "faults[0]", "at_h"),
        ("{asset: p1, fault: cavitation, at_h: 1, rate_per_day: 2}", "faults[0]", "at_h"),
        (
            "{asset: p1, fault: cavitation, at_h: 1, duration_h: [3, 1]}",
            "faults[0].duration_h",
            "min",
        ),
    ],
)
def test_scenario_bad_fault_names_line_field_and_fix(
    tmp_path: Path, item: str, field: str, fix: str
) -> None:
    err = _error(tmp_path, FAULTY + f"  - {item}\n")
    assert (err.line, err.field) == (9, field)
    assert fix in (err.fix or "")


def test_scenario_faults_parse() -> None:
    sc = load_scenario("mine")
    kinds = {(f.fault, f.at_h is not None) for f in sc.faults}
    assert ("cavitation", True) in kinds and ("blocked_chute", False) in kinds


def test_scenario_operations_start_and_stop_on_schedule() -> None:
    from egiz.simulators.engine import Engine
    from egiz.simulators.scenario import parse_scenario

    text = GOOD + (
        "operations:\n"
        "  - {asset: p1, action: stop, at_h: 1, every_h: 24}\n"
        "  - {asset: p1, action: start, at_h: 3, every_h: 24}\n"
    )
    engine = Engine(parse_scenario(text, "ops.yaml"))
    b = engine.advance(2 * 86400)
    running = b.values[engine.signals.index(("p1", "running"))]
    hours = (b.times - engine.t0) / 3600.0
    stopped = running == 0
    expect = ((hours % 24) > 1) & ((hours % 24) <= 3)
    assert np.array_equal(stopped, expect)
    ops = [e for e in engine.events if e["kind"] == "operation"]
    assert [e["mode"] for e in ops] == ["stop", "start", "stop", "start"]


def test_scenario_bad_operation(tmp_path: Path) -> None:
    err = _error(tmp_path, GOOD + "operations:\n  - {asset: p1, action: pause, at_h: 1}\n")
    assert (err.line, err.field) == (9, "operations[0].action")
    assert "stop" in (err.fix or "")
