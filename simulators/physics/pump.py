"""Centrifugal pump on a variable-speed drive, operating on a throttled system curve.

Equations (Gülich, *Centrifugal Pumps*, 3rd ed., ch. 3-4; Karassik et al., *Pump Handbook*):
- Pump curve at speed ratio r = n/n0: H = H_s r^2 - b Q^2 (quadratic fit through shut-off
  head H_s and the best-efficiency point (Q0, H0), b = (H_s - H0)/Q0^2). This is the affinity
  law form: Q ~ r, H ~ r^2, P ~ r^3 for similar operating points.
- System curve: H = H_st + k Q^2 with k = k0 / v^2 for valve opening v (k0 puts the rated
  point on the curve at v = 1); the operating point solves both.
- Efficiency: eta = eta_bep (1 - ((Q/r - Q0)/Q0)^2); the speed-scaled flow keeps eta equal
  for similar points (affinity).
- Hydraulic power P_h = rho g Q H; shaft power P = P_h / eta; discharge pressure
  p_d = p_s + rho g H.
- Bearing temperature: first-order lag (tau ~20 min) toward T_amb + dT r^1.5 (friction grows
  with speed) + wear heat. Vibration: 1x running-speed component ~ r, off-BEP recirculation
  term ~ ((Q/r - Q0)/Q0)^2 (Gülich ch. 10), bearing-defect term ~ w^2.
- NPSH: NPSH_a = (p_s + p_atm - p_v) / (rho g); NPSH_r = NPSH_r,bep r^2 (Q/(r Q0))^2 (Gülich
  ch. 6); a negative margin makes the pump cavitate by itself (head, efficiency, vibration).
Sudden faults: ``low_suction`` (sump level falls: suction -1.8 bar, the pump cavitates),
``cavitation`` (head -20 %, efficiency -10 %, broadband vibration),
``imbalance`` (1x vibration x4), ``seal_leak`` (10 % of the flow lost before the meter),
``blocked_line`` (valve effectively 95 % closed: flow falls, pressure rises).
Degradation: ``bearing_wear`` (vibration and bearing temperature rise to ISO 10816 zone D and
the 95 degC trip at w = 1) and ``impeller_wear`` (shut-off head falls 35 %, efficiency 35 % (below the 55 % alarm)).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from ..catalog import PUMP
from .base import AssetGroup
from .common import lag

G = 9.80665


class PumpGroup(AssetGroup):
    """Every centrifugal pump of a scenario, advanced together."""

    SPEC = PUMP
    PARAMS: ClassVar[dict[str, float]] = {
        "rated_flow": 120.0,  # m3/h at the BEP and rated speed
        "rated_head": 50.0,  # m at the BEP
        "rated_speed": 1480.0,  # rpm
        "shutoff_ratio": 1.25,  # H_s / H0
        "bep_efficiency": 0.78,
        "static_head": 15.0,  # m
        "suction_pressure": 1.0,  # bar gauge
        "density": 1000.0,  # kg/m3
        "ambient_temp": 25.0,  # degC
        "bearing_rise": 30.0,  # K at rated speed
        "bearing_tau": 1200.0,  # s
        "vibration_base": 1.8,  # mm/s at rated speed, healthy, at the BEP
        "npshr_bep": 4.0,  # m NPSH required at the BEP and rated speed
        "vapour_pressure": 0.0317,  # bar absolute (water at 25 degC)
    }
    STATES = ("bearing_temp",)
    FAULTS = ("cavitation", "imbalance", "seal_leak", "blocked_line", "low_suction")

    def operating_point(
        self, r: np.ndarray, valve: np.ndarray, impeller_w: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Return flow (m3/h) and head (m) where pump and system curves meet."""
        p = self.p
        q0, h0 = p["rated_flow"][:, None], p["rated_head"][:, None]
        hs = p["shutoff_ratio"][:, None] * h0
        hst = p["static_head"][:, None]
        b = (hs - h0) / q0**2
        k = (h0 - hst) / q0**2 / np.maximum(valve, 0.05) ** 2
        # Cavitation: the vapour cavities block the impeller eye and cut the developed head.
        cav = self._cavitation
        hs_worn = hs * (1.0 - 0.35 * impeller_w**1.5) * (1.0 - 0.2 * cav)
        q = np.sqrt(np.maximum(hs_worn * r**2 - hst, 0.0) / (b + k))
        return q, hst + k * q**2

    def _physics(
        self, run: np.ndarray, wear: np.ndarray, level: np.ndarray, dt: float
    ) -> dict[str, np.ndarray]:
        p = self.p
        w_brg, w_imp = wear[:, 0, :], wear[:, 1, :]
        speed = self.sp["speed_setpoint"][:, None] * run
        r = speed / p["rated_speed"][:, None]
        f = {k: v[:, None] for k, v in self.fault.items()}
        valve = (
            self.sp["valve_setpoint"][:, None] / 100.0 * level * (1.0 - 0.95 * f["blocked_line"])
        )
        rho = p["density"][:, None]
        ps = (p["suction_pressure"][:, None] - 1.8 * f["low_suction"]) * np.ones_like(run)
        # NPSH available (velocity head neglected) vs. required: NPSH_r ~ r^2 (affinity) and
        # grows with flow (Gülich ch. 6). Below zero margin the pump cavitates by itself.
        npsha = (ps + 1.01325 - p["vapour_pressure"][:, None]) * 1e5 / (rho * G)
        self._cavitation = f["cavitation"]
        q, _ = self.operating_point(r, valve, w_imp)
        qs0 = np.where(r > 0, q / np.maximum(r, 1e-9), 0.0) / p["rated_flow"][:, None]
        margin = npsha - p["npshr_bep"][:, None] * r**2 * np.maximum(qs0, 0.3) ** 2
        self._cavitation = np.maximum(f["cavitation"], np.clip(-margin / 2.0, 0.0, 1.0) * (run > 0))
        q, h = self.operating_point(r, valve, w_imp)
        head_flowing = np.where(q > 0, h, 0.0)
        q0 = p["rated_flow"][:, None]
        qs = np.where(r > 0, q / np.maximum(r, 1e-9), 0.0)
        off_bep = ((qs - q0) / q0) ** 2
        eta = p["bep_efficiency"][:, None] * (1.0 - off_bep) * (1.0 - 0.35 * w_imp)
        eta = eta * (1.0 - 0.1 * self._cavitation)
        eta = np.clip(eta, 0.05, 0.95)
        p_hyd = rho * G * (q / 3600.0) * head_flowing / 1000.0
        shaft = np.where(run > 0, p_hyd / eta, 0.0)
        pd = ps + rho * G * head_flowing / 1e5
        target = (
            p["ambient_temp"][:, None]
            + p["bearing_rise"][:, None] * r**1.5
            + 45.0 * w_brg**2 * (run > 0)
        )
        temp = lag(self.state["bearing_temp"], target, p["bearing_tau"], dt)
        self.state["bearing_temp"] = temp[:, -1]
        vib = run * (
            p["vibration_base"][:, None] * r * (1.0 + 3.0 * f["imbalance"])
            + 1.2 * np.minimum(off_bep, 4.0)
            + 6.5 * w_brg**2
            + 4.0 * self._cavitation
        )
        # A leaking seal loses part of the flow before the discharge meter.
        q_meter = q * (1.0 - 0.1 * f["seal_leak"])
        return {
            "flow": q_meter,
            "suction_pressure": ps,
            "discharge_pressure": pd,
            "speed": speed,
            "shaft_power": shaft,
            "efficiency": np.where(run > 0, eta * 100.0, 0.0),
            "bearing_temp": temp,
            "vibration": vib + 0.05,
            "npsh_margin": margin,
        }
