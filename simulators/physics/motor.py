"""Three-phase induction motor under a variable mechanical load.

Equations (Fitzgerald & Kingsley, *Electric Machinery*, ch. 6; IEC 60034-2-1 loss split;
IEC 60034-1 thermal classes):
- Losses P_l(L) = P_c + P_cu L^2 for load fraction L: constant (core, friction) and copper
  losses, split 35/65 at rated load from the rated efficiency.
- Input power P_in = L P_r + P_l; active current I_a = P_in / (sqrt(3) V).
- Reactive (magnetizing + leakage) current I_q = I_q0 + (I_q,r - I_q0) L^2, with I_q0 the
  no-load current and I_q,r from the rated power factor; I = sqrt(I_a^2 + I_q^2),
  power factor = I_a / I (low at light load, as on every nameplate curve).
- Speed: slip proportional to load, n = n_s - (n_s - n_r) L.
- Winding temperature: first-order thermal model C dT/dt = P_l - (T - T_amb)/R_th, i.e. a lag
  with tau = R_th C toward T_amb + dT_r P_l/P_l,r (dT_r = rated rise, 80 K for class B rise).
- Bearing temperature and vibration as for the pump (friction ~ speed^1.5, 1x ~ speed).
Sudden faults: ``imbalance`` (1x vibration x4), ``overload`` (+50 % load),
``phase_unbalance`` (current +15 %, extra copper loss: winding runs hot).
- Insulation ageing (IEC 60034-18-1, Montsinger's 10 K rule): life consumed at rate
  2^((T_hot - 155)/10) hours per hour (class F, hot spot = RTD + 10 K, 100,000 h at 155 degC);
  reported in the truth as ``insulation_life_used_h`` / ``_pct``.
Degradation: ``bearing_wear`` (vibration, bearing temperature) and ``cooling_fouling``
(thermal resistance x(1 + 1.5 w^2): the winding crosses the 130/145 degC alarms near failure).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from ..catalog import MOTOR
from .base import AssetGroup
from .common import lag


class MotorGroup(AssetGroup):
    """Every induction motor of a scenario, advanced together."""

    def __init__(self, ids, params, degradation) -> None:
        super().__init__(ids, params, degradation)
        self.insulation_used_h = np.zeros(self.n)

    def truth_extra(self, index: int) -> dict[str, float]:
        """Return insulation life consumed, in hours at the class limit (Montsinger rule)."""
        used = float(self.insulation_used_h[index])
        return {
            "insulation_life_used_h": round(used, 6),
            "insulation_life_used_pct": round(100.0 * used / self.INSULATION_LIFE_H, 6),
        }

    SPEC = MOTOR
    PARAMS: ClassVar[dict[str, float]] = {
        "rated_power": 75.0,  # kW mechanical
        "rated_voltage": 400.0,  # V line-to-line
        "rated_speed": 1485.0,  # rpm
        "sync_speed": 1500.0,  # rpm (4 poles, 50 Hz)
        "rated_efficiency": 0.945,
        "rated_power_factor": 0.86,
        "no_load_current_ratio": 0.35,  # I_0 / I_r
        "ambient_temp": 25.0,  # degC
        "winding_rise": 80.0,  # K at rated load
        "winding_tau": 1800.0,  # s
        "bearing_rise": 25.0,  # K at rated speed
        "bearing_tau": 1200.0,  # s
        "vibration_base": 1.5,  # mm/s healthy at rated speed
    }
    STATES = ("winding_temp", "bearing_temp")
    #: IEC 60034-18 / Montsinger: insulation life halves per 10 K above the class limit
    INSULATION_CLASS_C = 155.0  # class F
    INSULATION_LIFE_H = 100_000.0  # at the class limit (hot spot)
    HOT_SPOT_OVER_RTD = 10.0  # K between the winding RTD and the hottest spot
    FAULTS = ("imbalance", "overload", "phase_unbalance")

    def _physics(
        self, run: np.ndarray, wear: np.ndarray, level: np.ndarray, dt: float
    ) -> dict[str, np.ndarray]:
        p = {k: v[:, None] for k, v in self.p.items()}
        w_brg, w_cool = wear[:, 0, :], wear[:, 1, :]
        f = {k: v[:, None] for k, v in self.fault.items()}
        load = np.clip(level + 0.5 * f["overload"], 0.0, 1.5) * run
        loss_r = p["rated_power"] * (1.0 / p["rated_efficiency"] - 1.0)
        # Voltage unbalance drives negative-sequence currents: extra rotor/stator copper loss.
        unbalance = 1.0 + 0.6 * f["phase_unbalance"]
        losses = (0.35 * loss_r + 0.65 * loss_r * load**2 * unbalance) * run
        p_in = load * p["rated_power"] + losses
        volts = p["rated_voltage"] * (1.0 - 0.01 * load)
        # The supply droops 1 % at rated load; the nameplate pf holds at that operating point.
        i_rated = (p["rated_power"] + loss_r) * 1000.0 / (np.sqrt(3) * 0.99 * p["rated_voltage"])
        i_rated = i_rated / p["rated_power_factor"]
        iq_r = i_rated * np.sqrt(1.0 - p["rated_power_factor"] ** 2)
        iq0 = np.minimum(p["no_load_current_ratio"] * i_rated, iq_r)
        i_a = p_in * 1000.0 / (np.sqrt(3) * volts)
        i_q = (iq0 + (iq_r - iq0) * load**2) * run
        current = np.hypot(i_a, i_q) * (1.0 + 0.15 * f["phase_unbalance"])
        pf = np.where(current > 0, i_a / np.maximum(np.hypot(i_a, i_q), 1e-9), 0.0)
        speed = (p["sync_speed"] - (p["sync_speed"] - p["rated_speed"]) * load) * run
        r = speed / p["rated_speed"]
        t_wind = p["ambient_temp"] + p["winding_rise"] * losses / loss_r * (1.0 + 1.5 * w_cool**2)
        wind = lag(self.state["winding_temp"], t_wind, self.p["winding_tau"], dt)
        t_brg = p["ambient_temp"] + p["bearing_rise"] * r**1.5 + 45.0 * w_brg**2 * (run > 0)
        brg = lag(self.state["bearing_temp"], t_brg, self.p["bearing_tau"], dt)
        self.state["winding_temp"], self.state["bearing_temp"] = wind[:, -1], brg[:, -1]
        hot = wind + self.HOT_SPOT_OVER_RTD
        ageing = 2.0 ** ((hot - self.INSULATION_CLASS_C) / 10.0)
        self.insulation_used_h += ageing.sum(axis=1) * dt / 3600.0
        vib = run * (p["vibration_base"] * r * (1.0 + 3.0 * f["imbalance"]) + 6.5 * w_brg**2) + 0.05
        return {
            "current": current,
            "voltage": volts,
            "power": p_in,
            "power_factor": pf,
            "speed": speed,
            "load": load * 100.0,
            "winding_temp": wind,
            "bearing_temp": brg,
            "vibration": vib,
        }
