"""Troughed belt conveyor with a variable-speed drive.

Equations (ISO 5048:1989 / DIN 22101:2011, the "C-factor" method; CEMA *Belt Conveyors for
Bulk Materials*, 7th ed., ch. 6):
- Load per metre q_G = Q_m / (3.6 v) (kg/m) for mass flow Q_m (t/h) at belt speed v (m/s).
- Main resistance F_H = f L g (q_RO + q_RU + 2 q_B + q_G); secondary resistances by the
  coefficient C; lift resistance F_St = q_G H g.
- Drive power P = (C F_H + F_St) v / eta_drive; current I = P / (sqrt(3) V pf).
- Belt capacity limits the feed: Q_max = Q_rated v / v_rated (same cross-section).
Sudden faults: ``imbalance`` (pulley imbalance: vibration), ``blocked_chute`` (feed stops).
Degradation: ``idler_bearing_wear`` (rolling resistance f x(1 + 0.8 w^2), idler vibration
to ISO 10816 zone D) and ``belt_misalignment`` (tracking offset to 80 mm, past the 75 mm trip).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from ..catalog import CONVEYOR
from .base import AssetGroup
from .common import lag

G = 9.80665


class ConveyorGroup(AssetGroup):
    """Every belt conveyor of a scenario, advanced together."""

    SPEC = CONVEYOR
    PARAMS: ClassVar[dict[str, float]] = {
        "length": 800.0,  # m
        "lift": 20.0,  # m
        "rated_capacity": 2000.0,  # t/h at rated speed
        "rated_speed": 3.5,  # m/s
        "q_ro": 22.0,  # kg/m rotating idler mass, carry side
        "q_ru": 8.0,  # kg/m return side
        "q_b": 30.0,  # kg/m belt
        "friction": 0.02,  # artificial friction coefficient f
        "c_factor": 1.15,  # secondary resistances (long conveyor)
        "drive_efficiency": 0.92,
        "voltage": 690.0,  # V
        "power_factor": 0.85,
        "ambient_temp": 25.0,
        "bearing_tau": 1200.0,
        "offset_bias": 5.0,  # mm, a healthy belt never tracks perfectly
    }
    STATES = ("drive_bearing_temp",)
    FAULTS = ("imbalance", "blocked_chute")

    def _physics(
        self, run: np.ndarray, wear: np.ndarray, level: np.ndarray, dt: float
    ) -> dict[str, np.ndarray]:
        p = {k: v[:, None] for k, v in self.p.items()}
        f = {k: v[:, None] for k, v in self.fault.items()}
        w_idl, w_mis = wear[:, 0, :], wear[:, 1, :]
        v = self.sp["speed_setpoint"][:, None] * run
        q_max = p["rated_capacity"] * v / p["rated_speed"]
        feed = np.minimum(level * p["rated_capacity"] * (1.0 - f["blocked_chute"]), q_max) * run
        q_g = np.where(v > 0, feed / (3.6 * np.maximum(v, 1e-9)), 0.0)
        fric = p["friction"] * (1.0 + 0.8 * w_idl**2)
        f_h = fric * p["length"] * G * (p["q_ro"] + p["q_ru"] + 2.0 * p["q_b"] + q_g)
        f_st = q_g * p["lift"] * G
        power = (p["c_factor"] * f_h + f_st) * v / 1000.0 / p["drive_efficiency"]
        current = power * 1000.0 / (np.sqrt(3) * p["voltage"] * p["power_factor"])
        ratio = v / p["rated_speed"]
        target = p["ambient_temp"] + 25.0 * ratio**1.5 + 8.0 * power / 400.0
        temp = lag(self.state["drive_bearing_temp"], target, self.p["bearing_tau"], dt)
        self.state["drive_bearing_temp"] = temp[:, -1]
        vib = run * (0.8 * ratio * (1.0 + 3.0 * f["imbalance"]) + 6.5 * w_idl**2) + 0.05
        offset = p["offset_bias"] + 75.0 * w_mis**1.5 + 3.0 * (feed / p["rated_capacity"])
        return {
            "belt_speed": v,
            "feed_rate": feed,
            "power": power,
            "motor_current": current,
            "drive_bearing_temp": temp,
            "idler_vibration": vib,
            "belt_offset": offset,
        }
