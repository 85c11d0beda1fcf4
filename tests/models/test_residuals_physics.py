"""Physics residuals: ~0 on the healthy relation, move when the physics changes, stream exactly."""

from __future__ import annotations

import doctest

import numpy as np

from egiz.models.features import residuals
from egiz.models.features.residuals import PhysicsResiduals, ffill, lowpass

PUMP = ["flow", "suction_pressure", "discharge_pressure", "speed", "shaft_power", "bearing_temp"]


def _pump(n: int = 600, seed: int = 0, power_gain: float = 1.0, head_gain: float = 1.0):
    """A pump obeying the affinity laws (own textbook curves, not the simulator's)."""
    rng = np.random.default_rng(seed)
    # Operating points held for 20 windows at a time, so the bearing has time to warm up.
    speed = np.repeat(rng.uniform(800.0, 900.0, n // 20 + 1), 20)[:n]
    flow = np.repeat(rng.uniform(1500.0, 2600.0, n // 20 + 1), 20)[:n] + rng.normal(0, 5.0, n)
    x = flow / speed
    head = speed**2 * (6e-5 - 2e-6 * x**2) * head_gain  # H/n² = f(Q/n)
    power = speed**3 * (1e-7 + 4e-8 * x) * power_gain  # P/n³ = g(Q/n)
    temp = 40.0 + 0.05 * lowpass(power, 2.0) + rng.normal(0.0, 0.05, n)
    suction = np.full(n, 1.0)
    return np.c_[flow, suction, suction + head / 10.0, speed, power, temp]


def test_residuals_physics_zero_on_healthy_relation() -> None:
    """Fitted on healthy windows, every pump residual is ~0 on new healthy windows."""
    res = PhysicsResiduals("centrifugal_pump", PUMP).fit(_pump())
    assert res.names_ == ["affinity_power", "affinity_head", "bearing_thermal"]
    r = res.transform(_pump(seed=1))
    assert np.abs(r[:, :2]).max() < 0.05
    assert np.abs(r[:, 2]).std() < 0.2  # kelvin, the sensor noise is 0.05 K
    # The thermal time constant is recovered from the data (2 windows, from the grid).
    assert res.tau_[2] == 2.0


def test_residuals_physics_move_with_lost_efficiency_and_head() -> None:
    """10 % more shaft power, or 8 % less head, at the same speed and flow shows as that gap."""
    res = PhysicsResiduals("centrifugal_pump", PUMP).fit(_pump())
    worn = res.transform(_pump(seed=2, power_gain=1.10, head_gain=0.92))
    healthy = res.transform(_pump(seed=2))
    assert np.median(worn[:, 0]) > 0.08 > np.median(healthy[:, 0])
    assert np.median(worn[:, 1]) < -0.03 < np.median(healthy[:, 1])


def test_residuals_physics_thermal_sees_a_hotter_winding() -> None:
    """A winding 8 K hotter than the first-order model of its I² load gives a +8 K residual."""
    rng = np.random.default_rng(3)
    current = np.repeat(rng.uniform(50.0, 100.0, 50), 12)
    temp = 30.0 + 0.01 * lowpass(current**2, 1.0) + rng.normal(0.0, 0.1, current.size)
    names = ["current", "winding_temp"]
    res = PhysicsResiduals("induction_motor", names).fit(np.c_[current, temp])
    assert res.names_ == ["winding_thermal"] and res.tau_[0] == 1.0
    r = res.transform(np.c_[current, temp + 8.0])
    assert abs(np.median(r) - 8.0) < 0.1


def test_residuals_physics_streaming_equals_batch() -> None:
    """Transforming window by window with the lag state equals transforming the sequence."""
    M = _pump(200, seed=4)
    res = PhysicsResiduals("centrifugal_pump", PUMP).fit(_pump())
    whole = res.transform(M)
    state, rows = None, []
    for k in range(0, 200, 7):
        rows.append(res.transform(M[k : k + 7], state))
        state = res.lag_state(M[k : k + 7], state)
    np.testing.assert_allclose(np.vstack(rows), whole, rtol=0, atol=1e-9)


def test_residuals_physics_lowpass_is_the_recursion() -> None:
    """The vectorized lag equals y[k] = a y[k-1] + (1 - a) u[k] with y[-1] = u[0]."""
    u = np.random.default_rng(5).normal(size=300)
    a = np.exp(-1.0 / 3.0)
    y, prev = np.empty_like(u), u[0]
    for k, v in enumerate(u):
        prev = a * prev + (1.0 - a) * v
        y[k] = prev
    np.testing.assert_allclose(lowpass(u, 3.0), y, atol=1e-12)


def test_residuals_physics_missing_signals_and_nan() -> None:
    """Relations needing absent signals are skipped; NaN loads are carried forward."""
    res = PhysicsResiduals("centrifugal_pump", ["flow", "speed", "bearing_temp"]).fit(
        np.random.default_rng(0).normal(size=(50, 3)) + 10
    )
    assert res.names_ == []
    assert res.transform(np.ones((4, 3))).shape == (4, 0)
    assert ffill(np.array([np.nan, np.nan, 2.0, np.nan])).tolist() == [2.0, 2.0, 2.0, 2.0]
    assert np.isfinite(lowpass(np.array([1.0, np.nan, 3.0]), 1.0)).all()


def test_residuals_physics_docstring_examples_run() -> None:
    """The module's runnable examples pass."""
    result = doctest.testmod(residuals, raise_on_error=False)
    assert result.attempted > 0 and result.failed == 0
