"""Physics: affinity laws, plausible balances, monotone degradation, alarms crossed near failure."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from egiz.simulators.catalog import MOTOR, PUMP
from egiz.simulators.engine import Engine
from egiz.simulators.physics.common import Degradation, lag
from egiz.simulators.physics.motor import MotorGroup
from egiz.simulators.physics.pump import PumpGroup
from egiz.simulators.scenario import parse_scenario


def _healthy(n: int, m: int = 2) -> Degradation:
    return Degradation(np.full((n, m), np.inf), np.ones((n, m)))


def _pumps(speeds: list[float], static_head: float = 0.0) -> dict[str, np.ndarray]:
    g = PumpGroup(
        [f"p{i}" for i in range(len(speeds))],
        [{"static_head": static_head, "speed_setpoint": s, "valve_setpoint": 90} for s in speeds],
        _healthy(len(speeds)),
    )
    out = g.advance(np.array([1.0]), 1.0, np.ones((len(speeds), 1)))
    return {k: v[:, 0] for k, v in out.items()}


def test_pump_affinity_laws_hold() -> None:
    # Against a pure friction system (no static head) points are similar: Q~n, H~n^2, P~n^3.
    out = _pumps([1480.0, 1184.0, 888.0])
    r = np.array([1.0, 0.8, 0.6])
    head = (out["discharge_pressure"] - out["suction_pressure"]) * 1e5 / (1000 * 9.80665)
    np.testing.assert_allclose(out["flow"] / out["flow"][0], r, rtol=1e-9)
    np.testing.assert_allclose(head / head[0], r**2, rtol=1e-9)
    np.testing.assert_allclose(out["shaft_power"] / out["shaft_power"][0], r**3, rtol=1e-9)
    np.testing.assert_allclose(out["efficiency"], out["efficiency"][0], rtol=1e-9)


def test_pump_energy_balance_plausible() -> None:
    out = _pumps([1480.0], static_head=15.0)
    q, dp = out["flow"][0] / 3600.0, (out["discharge_pressure"] - out["suction_pressure"])[0] * 1e5
    hydraulic_kw = q * dp / 1000.0
    assert 0.3 < hydraulic_kw / out["shaft_power"][0] < 0.9  # efficiency of a real pump
    assert out["shaft_power"][0] == pytest.approx(hydraulic_kw / (out["efficiency"][0] / 100))


def test_pump_static_head_needs_speed() -> None:
    # Below the speed where shut-off head equals static head, the pump cannot deliver.
    out = _pumps([400.0], static_head=40.0)
    assert out["flow"][0] == 0.0


def test_motor_balance_and_power_factor_plausible() -> None:
    g = MotorGroup(["m0", "m1", "m2"], [{}, {}, {}], _healthy(3))
    level = np.array([[0.05], [0.5], [1.0]])
    out = {k: v[:, 0] for k, v in g.advance(np.array([1.0]), 1.0, level).items()}
    eff = level[:, 0] * 75.0 / out["power"]
    assert eff[2] == pytest.approx(0.945, abs=1e-6)  # nameplate efficiency at rated load
    assert out["power_factor"][2] == pytest.approx(0.86, abs=1e-6)  # nameplate pf
    assert out["power_factor"][0] < 0.35 < out["power_factor"][1] < out["power_factor"][2]
    assert np.all(np.diff(out["current"]) > 0) and np.all(np.diff(out["speed"]) < 0)
    # P = sqrt(3) V I pf
    np.testing.assert_allclose(
        out["power"], np.sqrt(3) * out["voltage"] * out["current"] * out["power_factor"] / 1000
    )


def test_lag_matches_stepwise_recursion() -> None:
    rng = np.random.default_rng(1)
    u = rng.normal(size=(3, 5000))
    tau = np.array([5.0, 600.0, 1800.0])
    y = lag(np.zeros(3), u, tau, 1.0)
    a = np.exp(-1.0 / tau)
    ref = np.zeros(3)
    for k in range(u.shape[1]):
        ref = a * ref + (1 - a) * u[:, k]
        np.testing.assert_allclose(y[:, k], ref, rtol=1e-7, atol=1e-9)


def test_motor_winding_reaches_steady_rise() -> None:
    g = MotorGroup(["m"], [{}], _healthy(1))
    out = g.advance(np.arange(1, 6 * 3600 + 1.0), 1.0, np.ones((1, 6 * 3600)))
    assert out["winding_temp"][0, -1] == pytest.approx(25.0 + 80.0, abs=0.5)  # rated rise


SCENARIO = """\
version: 1
site: {id: t}
seed: 3
assets:
  - id: p
    type: centrifugal_pump
    area: a
    protocol: opcua
    degradation:
      - {mode: bearing_wear, onset_h: [1, 3], life_h: [20, 40]}
  - id: q
    type: centrifugal_pump
    area: a
    protocol: opcua
    degradation:
      - {mode: impeller_wear, onset_h: [1, 3], life_h: [20, 40]}
  - id: m
    type: induction_motor
    area: a
    protocol: mqtt
    profile: {kind: constant, level: 0.8}
    degradation:
      - {mode: cooling_fouling, onset_h: [1, 3], life_h: [20, 40]}
      - {mode: bearing_wear, onset_h: [30, 40], life_h: [200, 300]}
"""


def _run_to_failure() -> tuple[Engine, np.ndarray, np.ndarray, list[list[dict]]]:
    engine = Engine(parse_scenario(SCENARIO, "t.yaml"))
    blocks, truths = [], []
    for _ in range(50):
        blocks.append(engine.advance(3600))
        truths.append(engine.truth())
    times = np.concatenate([b.times for b in blocks])
    return engine, times, np.concatenate([b.values for b in blocks], axis=1), truths


@pytest.fixture(scope="module")
def failure_run():
    return _run_to_failure()


def _series(engine: Engine, values: np.ndarray, asset: str, signal: str) -> np.ndarray:
    return values[engine.signals.index((asset, signal))]


def test_degradation_monotone_and_rul_consistent(failure_run) -> None:
    _, _, _, truths = failure_run
    for i, asset in enumerate(["t.p", "t.q", "t.m"]):
        recs = [t[i] for t in truths]
        assert recs[0]["asset"] == asset
        hi = [r["health_index"] for r in recs]
        assert all(b <= a for a, b in itertools.pairwise(hi)), asset
        ruls = [r["rul_h"] for r in recs if r["state"] == "running"]
        assert all(b < a for a, b in itertools.pairwise(ruls))
        assert recs[-1]["health"] == "failed" and recs[-1]["rul_h"] == 0.0


@pytest.mark.parametrize(
    ("asset", "signal", "limit"),
    [
        ("p", "vibration", ("hi_hi", PUMP)),
        ("p", "bearing_temp", ("hi", PUMP)),
        ("q", "efficiency", ("lo", PUMP)),
        ("m", "winding_temp", ("hi_hi", MOTOR)),
    ],
)
def test_alarm_limits_crossed_near_failure_only(failure_run, asset, signal, limit) -> None:
    engine, times, values, _ = failure_run
    g, i = engine.where[asset]
    fail = g.failure_ts[i]
    assert np.isfinite(fail)
    name, spec = limit
    threshold = next(s for s in spec.signals if s.name == signal).limits[name]
    x = _series(engine, values, asset, signal)
    # smooth measurement noise: alarms use filtered values (and on-delays) in practice
    smooth = np.convolve(np.pad(x, (59, 0), mode="edge"), np.ones(60) / 60, mode="valid")
    before = (times > fail - 4 * 3600) & (times <= fail - 60)
    healthy = times < fail - 0.5 * (fail - times[0])
    crossed = smooth > threshold if name.startswith("hi") else smooth < threshold
    assert crossed[before].any(), f"{signal} does not cross {name} in the 4 h before failure"
    assert not crossed[healthy].any(), f"{signal} crosses {name} while healthy"


def test_failure_trips_asset(failure_run) -> None:
    engine, times, values, _ = failure_run
    g, i = engine.where["p"]
    running = _series(engine, values, "p", "running")
    assert running[times <= g.failure_ts[i]].all()
    assert not running[times > g.failure_ts[i]].any()
    engine.command("p", "reset")  # repair
    b = engine.advance(10)
    assert b.values[engine.signals.index(("p", "running"))].all()
    assert engine.truth()[0]["health"] == "healthy"


def test_faults_change_only_their_signals() -> None:
    # Bearing wear moves vibration and bearing temperature, never the hydraulics.
    healthy = Engine(
        parse_scenario(
            SCENARIO.replace(
                "bearing_wear, onset_h: [1, 3]", "bearing_wear, onset_h: [1000, 1001]"
            ),
            "t.yaml",
        )
    )
    worn = Engine(parse_scenario(SCENARIO, "t.yaml"))
    a, b = healthy.advance(15 * 3600), worn.advance(15 * 3600)
    for signal in PUMP.signal_names():
        row = worn.signals.index(("p", signal))
        diff = np.abs(a.values[row, -600:].mean() - b.values[row, -600:].mean())
        if signal in ("vibration", "bearing_temp"):
            assert diff > 0.5, signal
        else:
            assert diff < 0.1, signal


def test_motor_insulation_ages_faster_when_hot() -> None:
    # Montsinger: 10 K hotter = twice the ageing; cooling fouling heats the winding.
    g = MotorGroup(["cool", "hot"], [{}, {}], _healthy(2))
    # 'hot' has cooling fouling at w = 0.999 that will not reach failure within the run
    g.deg.onset_h[1, 1], g.deg.life_h[1, 1] = -0.999e9, 1e9
    g.advance(np.arange(1, 8 * 3600 + 1.0), 1.0, np.ones((2, 8 * 3600)))
    cool, hot = g.truth_extra(0), g.truth_extra(1)
    assert 0 < cool["insulation_life_used_h"] < 8.0  # 105 degC RTD: slower than at the limit
    assert hot["insulation_life_used_h"] > 4 * cool["insulation_life_used_h"]
