"""Liquid pipeline segment: hydraulics by Darcy-Weisbach, leaks by mass balance.

Equations (Menon, *Liquid Pipeline Hydraulics*, ch. 3-5; API RP 1130 computational pipeline
monitoring):
- Velocity v = Q / A; Reynolds Re = rho v D / mu; Darcy friction factor by Swamee-Jain,
  f = 0.25 / log10(eps/(3.7 D) + 5.74/Re^0.9)^2 (turbulent flow).
- Pressure drop dp = f (L/D) rho v^2 / 2 + rho g dz; the inlet pressure follows from the
  controlled delivery pressure: p_in = p_out,set + dp (upstream flow at the middle of the
  segment where a leak sits, downstream flow after it).
- Mass (volume) balance: imbalance = (Q_in - Q_out) / Q_in; API RP 1130 leak alarms act on it.
Sudden faults: ``rupture`` (30 % of the flow lost at once), ``blocked_line`` (a partly shut
valve or pig stuck: five times the friction loss at the same flow).
Degradation: ``corrosion_leak`` (leak grows to 15 % of the flow: imbalance past the 5 % trip)
and ``wax_buildup`` (bore -20 %: friction x3, inlet pressure past the 60 bar trip).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from ..catalog import PIPELINE
from .base import AssetGroup

G = 9.80665


class PipelineGroup(AssetGroup):
    """Every pipeline segment of a scenario, advanced together."""

    SPEC = PIPELINE
    PARAMS: ClassVar[dict[str, float]] = {
        "rated_flow": 400.0,  # m3/h at level 1
        "length": 10000.0,  # m
        "diameter": 0.254,  # m (10 in)
        "roughness": 4.5e-5,  # m (commercial steel)
        "density": 850.0,  # kg/m3 crude
        "viscosity": 0.005,  # Pa s
        "elevation": 30.0,  # m outlet above inlet
    }
    FAULTS = ("rupture", "blocked_line")

    def _physics(
        self, run: np.ndarray, wear: np.ndarray, level: np.ndarray, dt: float
    ) -> dict[str, np.ndarray]:
        p = {k: v[:, None] for k, v in self.p.items()}
        f = {k: v[:, None] for k, v in self.fault.items()}
        w_leak, w_wax = wear[:, 0, :], wear[:, 1, :]
        q_in = p["rated_flow"] * level * run
        leak = np.clip(0.15 * w_leak**2 + 0.3 * f["rupture"], 0.0, 0.9)
        q_out = q_in * (1.0 - leak)
        d = p["diameter"] * (1.0 - 0.2 * w_wax)

        def friction_bar(q: np.ndarray, length: np.ndarray) -> np.ndarray:
            v = q / 3600.0 / (np.pi * d**2 / 4.0)
            re = np.maximum(p["density"] * v * d / p["viscosity"], 4000.0)
            fd = 0.25 / np.log10(p["roughness"] / (3.7 * d) + 5.74 / re**0.9) ** 2
            return fd * (length / d) * p["density"] * v**2 / 2.0 / 1e5

        half = p["length"] / 2.0
        dp = friction_bar(q_in, half) + friction_bar(q_out, half)
        dp = dp * (1.0 + 4.0 * f["blocked_line"])
        static = p["density"] * G * p["elevation"] / 1e5
        p_out = self.sp["outlet_pressure_setpoint"][:, None] * np.ones_like(run)
        p_in = p_out + (dp + static) * run
        imbalance = np.where(q_in > 0, (q_in - q_out) / np.maximum(q_in, 1e-9) * 100.0, 0.0)
        return {
            "inlet_flow": q_in,
            "outlet_flow": q_out,
            "inlet_pressure": p_in,
            "outlet_pressure": p_out,
            "imbalance": imbalance,
        }
