"""Centrifugal gas compressor on a variable-speed drive with anti-surge recycle.

Equations (Saravanamuttoo et al., *Gas Turbine Theory*, ch. 4; Brun & Kurz, *Compression
Machinery for Oil and Gas*, ch. 2 and 11; API 617):
- Pressure ratio pi = p_d / p_s; isentropic head ~ pi^((k-1)/k) - 1 ~ n^2 (fan laws), so the
  speed the pressure controller needs is n = n_r sqrt(head / head_r), limited to 105 % n_r
  (beyond it the setpoint is not reached and the achieved ratio falls).
- Discharge temperature T_d = T_s (1 + (pi^((k-1)/k) - 1) / eta_is).
- Shaft power P = m_dot c_p (T_d - T_s) / eta_mech, m_dot = rho_s Q, rho_s = p_s / (R T_s).
- Surge line Q_surge = 0.6 Q_r n / n_r; the anti-surge valve recycles to keep Q >= 1.15 Q_surge;
  surge margin = (Q - Q_surge) / Q.
Sudden faults: ``surge`` (anti-surge valve stuck shut: the flow follows the demand into
surge, vibration jumps), ``blocked_line`` (demand collapses), ``imbalance``.
Degradation: ``fouling`` (eta_is -35 % at w = 1: discharge past the 135 degC alarm, power up)
and ``bearing_wear`` (vibration to ISO 10816 zone D).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from ..catalog import COMPRESSOR
from .base import AssetGroup


class CompressorGroup(AssetGroup):
    """Every gas compressor of a scenario, advanced together."""

    SPEC = COMPRESSOR
    PARAMS: ClassVar[dict[str, float]] = {
        "suction_pressure": 20.0,  # bar absolute
        "suction_temp": 30.0,  # degC
        "rated_flow": 5000.0,  # m3/h actual at suction
        "rated_ratio": 2.5,
        "rated_speed": 9000.0,  # rpm
        "isentropic_efficiency": 0.78,
        "mechanical_efficiency": 0.98,
        "kappa": 1.27,  # natural gas
        "molar_mass": 19.0,  # kg/kmol
        "vibration_base": 1.2,
    }
    FAULTS = ("surge", "blocked_line", "imbalance")

    def _physics(
        self, run: np.ndarray, wear: np.ndarray, level: np.ndarray, dt: float
    ) -> dict[str, np.ndarray]:
        p = {k: v[:, None] for k, v in self.p.items()}
        f = {k: v[:, None] for k, v in self.fault.items()}
        w_foul, w_brg = wear[:, 0, :], wear[:, 1, :]
        ex = (p["kappa"] - 1.0) / p["kappa"]
        ps, ts_k = p["suction_pressure"] * np.ones_like(run), p["suction_temp"] + 273.15
        head_r = p["rated_ratio"] ** ex - 1.0
        pi_sp = np.maximum(self.sp["pressure_setpoint"][:, None] / ps, 1.0)
        ratio = np.clip(np.sqrt((pi_sp**ex - 1.0) / head_r), 0.3, 1.05) * run
        pi = np.where(run > 0, (1.0 + head_r * ratio**2) ** (1.0 / ex), 1.0)
        demand = p["rated_flow"] * level * (1.0 - 0.9 * f["blocked_line"]) * run
        q_surge = 0.6 * p["rated_flow"] * ratio
        recycle_ok = 1.0 - f["surge"]
        q = np.where(recycle_ok > 0.5, np.maximum(demand, 1.15 * q_surge), demand)
        margin = np.where(q > 0, (q - q_surge) / np.maximum(q, 1e-9) * 100.0, 0.0)
        eta = p["isentropic_efficiency"] * (1.0 - 0.35 * w_foul)
        t_d = ts_k * (1.0 + (pi**ex - 1.0) / eta)
        r_gas = 8314.46 / p["molar_mass"]
        cp = p["kappa"] * r_gas / (p["kappa"] - 1.0)
        m_dot = ps * 1e5 / (r_gas * ts_k) * q / 3600.0
        power = m_dot * cp * (t_d - ts_k) / p["mechanical_efficiency"] / 1000.0
        in_surge = (margin < 0) & (run > 0)
        vib = (
            run * p["vibration_base"] * ratio * (1.0 + 3.0 * f["imbalance"])
            + 6.5 * w_brg**2 * run
            + 5.0 * in_surge
            + 0.05
        )
        return {
            "suction_pressure": ps,
            "discharge_pressure": ps * pi,
            "suction_temp": p["suction_temp"] * np.ones_like(run),
            "discharge_temp": t_d - 273.15,
            "flow": q,
            "speed": p["rated_speed"] * ratio,
            "power": power,
            "surge_margin": margin,
            "vibration": vib,
        }
