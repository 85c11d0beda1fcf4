"""Trunnion-supported SAG/ball mill with its lubrication system.

Equations (Austin, "A mill power equation for SAG mills", *Minerals & Metallurgical
Processing* 7 (1990) 57-63; Napier-Munn et al., *Mineral Comminution Circuits*, JKMRC 1996):
- Speed n = phi_c 42.3 / sqrt(D) rpm (phi_c: fraction of critical speed, D in m).
- Power draw P ~ J (1 - 0.937 J) (Austin's charge term), normalised to the rated power at the
  rated filling J_r; it rises with filling, peaks near J = 0.53 and then falls.
- Filling follows the feed with a first-order lag (residence time tau ~ 15 min):
  J_ss = J_r (F / F_r)^0.8 (hold-up grows less than proportionally with feed).
- Hydrodynamic trunnion bearings: temperature lag toward T_amb + 20 + 15 P/P_r (film shear
  grows with load), plus the lubrication deficit 40 (1 - p/p_nom).
Sudden faults: ``imbalance`` (pinion vibration), ``overload`` (filling +25 %).
Degradation: ``trunnion_bearing_wear`` (feed-end bearing: +45 K at w = 1, past the 80 degC trip)
and ``lube_pump_wear`` (supply pressure -60 %, below the 30 bar trip; both bearings hotter).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from ..catalog import MILL
from .base import AssetGroup
from .common import lag


def _austin(j: np.ndarray) -> np.ndarray:
    return j * (1.0 - 0.937 * j)


class MillGroup(AssetGroup):
    """Every grinding mill of a scenario, advanced together."""

    SPEC = MILL
    PARAMS: ClassVar[dict[str, float]] = {
        "diameter": 10.4,  # m inside liners
        "critical_fraction": 0.75,
        "rated_power": 15000.0,  # kW at rated filling
        "rated_feed": 1200.0,  # t/h
        "rated_filling": 0.30,  # J_r
        "charge_tau": 900.0,  # s
        "lube_pressure": 60.0,  # bar nominal
        "ambient_temp": 25.0,
        "trunnion_tau": 1800.0,  # s
    }
    STATES = ("charge", "trunnion_temp_feed", "trunnion_temp_discharge")
    FAULTS = ("imbalance", "overload")

    def __init__(self, ids, params, degradation) -> None:
        super().__init__(ids, params, degradation)
        self.state["charge"] = self.p["rated_filling"].copy()

    def _physics(
        self, run: np.ndarray, wear: np.ndarray, level: np.ndarray, dt: float
    ) -> dict[str, np.ndarray]:
        p = {k: v[:, None] for k, v in self.p.items()}
        f = {k: v[:, None] for k, v in self.fault.items()}
        w_trn, w_lube = wear[:, 0, :], wear[:, 1, :]
        feed = self.sp["feed_setpoint"][:, None] * level * run
        j_ss = p["rated_filling"] * (feed / p["rated_feed"]) ** 0.8 * (1.0 + 0.25 * f["overload"])
        # A stopped mill keeps its charge (it neither grinds nor discharges).
        j_in = np.where(run > 0, j_ss, self.state["charge"][:, None])
        charge = lag(self.state["charge"], j_in, self.p["charge_tau"], dt)
        self.state["charge"] = charge[:, -1]
        power = p["rated_power"] * _austin(charge) / _austin(p["rated_filling"]) * run
        speed = p["critical_fraction"] * 42.3 / np.sqrt(p["diameter"]) * run
        lube = p["lube_pressure"] * (1.0 - 0.6 * w_lube**1.5)
        deficit = 40.0 * (1.0 - lube / p["lube_pressure"])
        base = p["ambient_temp"] + (20.0 + 15.0 * power / p["rated_power"]) * run + deficit
        t_feed = lag(
            self.state["trunnion_temp_feed"],
            base + 45.0 * w_trn**2 * run,
            self.p["trunnion_tau"],
            dt,
        )
        t_dis = lag(self.state["trunnion_temp_discharge"], base, self.p["trunnion_tau"], dt)
        self.state["trunnion_temp_feed"] = t_feed[:, -1]
        self.state["trunnion_temp_discharge"] = t_dis[:, -1]
        vib = run * (1.2 + 0.8 * power / p["rated_power"]) * (1.0 + 3.0 * f["imbalance"]) + 0.05
        return {
            "feed_rate": feed,
            "charge_level": charge * 100.0,
            "power": power,
            "speed": speed,
            "trunnion_temp_feed": t_feed,
            "trunnion_temp_discharge": t_dis,
            "lube_pressure": lube,
            "vibration": vib,
        }
