"""Electric submersible pump (ESP) lifting well fluid, on a variable-frequency drive.

Equations (Takacs, *Electrical Submersible Pumps Manual*, 2nd ed., ch. 2-4; Brown,
*Technology of Artificial Lift Methods* vol. 2b):
- Multistage pump curve dp = a r^2 - b Q^2 (r = f / f_rated, affinity laws per stage).
- Inflow (linear IPR): p_intake = p_res - Q / PI.
- Lift requirement: p_intake + dp = p_wellhead + rho g D + k Q^2; solved for Q (quadratic).
- Motor: P = dp Q / eta; current I = P / (sqrt(3) V pf eta_m); the motor is cooled by the
  produced fluid, so its rise grows as the rate falls: dT ~ (P/P_r) sqrt(Q_r / Q).
Sudden faults: ``gas_lock`` (gas fills the stages: head -70 %, motor unloads),
``imbalance`` (vibration).
Degradation: ``stage_wear`` (sand erosion: a -45 %, rate falls below the 40 m3/h alarm) and
``bearing_wear`` (vibration to 1.7 g, past the 1.5 g trip).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from ..catalog import ESP
from .base import AssetGroup
from .common import lag

G = 9.80665


class EspGroup(AssetGroup):
    """Every ESP of a scenario, advanced together."""

    SPEC = ESP
    PARAMS: ClassVar[dict[str, float]] = {
        "rated_frequency": 60.0,  # Hz
        "shutoff_dp": 79.5,  # bar at rated frequency (a)
        "curve_b": 0.00195,  # bar/(m3/h)^2
        "friction_k": 0.0003,  # bar/(m3/h)^2 tubing friction
        "reservoir_pressure": 110.0,  # bar at pump depth
        "productivity_index": 5.0,  # m3/h per bar
        "wellhead_pressure": 15.0,  # bar
        "depth": 1500.0,  # m
        "density": 900.0,  # kg/m3
        "rated_flow": 100.0,  # m3/h
        "pump_efficiency": 0.6,
        "motor_efficiency": 0.85,
        "voltage": 2000.0,  # V
        "power_factor": 0.85,
        "well_temp": 90.0,  # degC
        "motor_rise": 40.0,  # K at rated power and flow
        "motor_tau": 900.0,  # s
    }
    STATES = ("motor_temp",)
    FAULTS = ("gas_lock", "imbalance")

    def __init__(self, ids, params, degradation) -> None:
        super().__init__(ids, params, degradation)
        self.state["motor_temp"] = self.p["well_temp"].copy()

    def _physics(
        self, run: np.ndarray, wear: np.ndarray, level: np.ndarray, dt: float
    ) -> dict[str, np.ndarray]:
        p = {k: v[:, None] for k, v in self.p.items()}
        f = {k: v[:, None] for k, v in self.fault.items()}
        w_stage, w_brg = wear[:, 0, :], wear[:, 1, :]
        freq = self.sp["frequency_setpoint"][:, None] * run
        r = freq / p["rated_frequency"]
        a = p["shutoff_dp"] * (1.0 - 0.45 * w_stage**1.5) * (1.0 - 0.7 * f["gas_lock"])
        column = p["density"] * G * p["depth"] / 1e5
        bk = p["curve_b"] + p["friction_k"]
        c = p["wellhead_pressure"] + column - p["reservoir_pressure"] - a * r**2
        inv_pi = 1.0 / p["productivity_index"]
        q = np.maximum(
            (-inv_pi + np.sqrt(np.maximum(inv_pi**2 - 4.0 * bk * c, 0.0))) / (2 * bk), 0.0
        )
        q = q * run
        intake = p["reservoir_pressure"] - q * inv_pi
        dp = np.maximum(a * r**2 - p["curve_b"] * q**2, 0.0) * run
        p_hyd = dp * 1e5 * q / 3600.0 / 1000.0  # kW
        p_rated = (
            (p["shutoff_dp"] - p["curve_b"] * p["rated_flow"] ** 2) * 1e5 * p["rated_flow"] / 3.6e6
        )
        shaft = p_hyd / p["pump_efficiency"]
        current = (
            shaft / p["motor_efficiency"] * 1000.0 / (np.sqrt(3) * p["voltage"] * p["power_factor"])
        )
        cooling = np.sqrt(p["rated_flow"] / np.maximum(q, 0.1 * p["rated_flow"]))
        target = (
            p["well_temp"] + p["motor_rise"] * (shaft / (p_rated / p["pump_efficiency"])) * cooling
        )
        temp = lag(self.state["motor_temp"], target, self.p["motor_tau"], dt)
        self.state["motor_temp"] = temp[:, -1]
        vib = run * (0.2 * r * (1.0 + 3.0 * f["imbalance"]) + 1.5 * w_brg**2) + 0.02
        return {
            "frequency": freq,
            "flow": q,
            "intake_pressure": intake,
            "discharge_pressure": intake + dp,
            "motor_current": current,
            "motor_temp": temp,
            "vibration": vib,
        }
