"""Oil-immersed power transformer: top-oil and hot-spot temperatures, ageing (IEEE C57.91).

Equations (IEEE Std C57.91-2011, clause 7 "exponential equations", and clause 5):
- Ultimate top-oil rise dT_TO,U = dT_TO,R ((K^2 R + 1)/(R + 1))^n, approached with the oil
  time constant tau_TO (eq. 11-15); top oil T_TO = T_A + dT_TO.
- Ultimate hot-spot rise over top oil dT_H,U = dT_H,R K^(2m), with the winding time constant
  tau_w (eq. 16-19); hot spot T_H = T_TO + dT_H.
- Ageing acceleration F_AA = exp(15000/383 - 15000/(T_H + 273)) (eq. 2; 110 degC reference
  for 65 degC-rise thermally upgraded paper); loss of life accumulates F_AA dt.
- Ambient: daily sinusoid (min at 03:00 UTC, max at 15:00 UTC).
Sudden faults: ``fan_failure`` (ONAF fans off: rated top-oil rise x1.4 at once).
Degradation: ``cooling_degradation`` (radiator fouling: rated top-oil rise x(1 + w^2)) and
``insulation_ageing`` (paper ageing releases water: oil moisture from ~10 % to 50 % relative
saturation at w = 1; IEC 60422 treats > 30 % as poor).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from ..catalog import TRANSFORMER
from .base import AssetGroup
from .common import lag


class TransformerGroup(AssetGroup):
    """Every transformer of a scenario, advanced together."""

    SPEC = TRANSFORMER
    PARAMS: ClassVar[dict[str, float]] = {
        "rated_current": 1000.0,  # A secondary
        "top_oil_rise": 55.0,  # K at rated load (65 degC rise class)
        "hot_spot_gradient": 25.0,  # K at rated load
        "loss_ratio": 8.0,  # R: load losses / no-load losses at rated load
        "oil_exponent": 0.8,  # n (ONAF)
        "winding_exponent": 0.8,  # m
        "oil_tau": 7200.0,  # s
        "winding_tau": 420.0,  # s
        "ambient_temp": 25.0,  # daily mean
        "ambient_swing": 6.0,  # K amplitude
        "moisture_base": 10.0,  # % relative saturation of a healthy unit
    }
    STATES = ("top_oil_rise", "hot_spot_rise")
    FAULTS = ("fan_failure",)

    def __init__(self, ids, params, degradation) -> None:
        super().__init__(ids, params, degradation)
        self.state["top_oil_rise"] = np.zeros(self.n)
        self.state["hot_spot_rise"] = np.zeros(self.n)
        self.loss_of_life_h = np.zeros(self.n)

    def advance(self, t_s: np.ndarray, dt: float, level: np.ndarray) -> dict[str, np.ndarray]:
        """Advance like any asset, with the ambient temperature following the time of day."""
        self._t = t_s
        return super().advance(t_s, dt, level)

    def _physics(
        self, run: np.ndarray, wear: np.ndarray, level: np.ndarray, dt: float
    ) -> dict[str, np.ndarray]:
        p = {k: v[:, None] for k, v in self.p.items()}
        w_cool, w_ins = wear[:, 0, :], wear[:, 1, :]
        k = np.clip(level, 0.0, 2.0) * run
        phase = 2.0 * np.pi * ((self._t - 15 * 3600.0) % 86400.0) / 86400.0
        ambient = p["ambient_temp"] + p["ambient_swing"] * np.cos(phase)[None, :]
        rated_rise = (
            p["top_oil_rise"] * (1.0 + w_cool**2) * (1.0 + 0.4 * self.fault["fan_failure"][:, None])
        )
        r = p["loss_ratio"]
        to_u = rated_rise * ((k**2 * r + 1.0) / (r + 1.0)) ** p["oil_exponent"]
        hs_u = p["hot_spot_gradient"] * k ** (2.0 * p["winding_exponent"])
        to = lag(self.state["top_oil_rise"], to_u, self.p["oil_tau"], dt)
        hs = lag(self.state["hot_spot_rise"], hs_u, self.p["winding_tau"], dt)
        self.state["top_oil_rise"], self.state["hot_spot_rise"] = to[:, -1], hs[:, -1]
        top_oil = ambient + to
        hot_spot = top_oil + hs
        f_aa = np.exp(15000.0 / 383.0 - 15000.0 / (hot_spot + 273.0))
        self.loss_of_life_h += f_aa.sum(axis=1) * dt / 3600.0
        return {
            "load": k * 100.0,
            "load_current": k * p["rated_current"],
            "ambient_temp": ambient * np.ones_like(k),
            "top_oil_temp": top_oil,
            "hot_spot_temp": hot_spot,
            "ageing_factor": f_aa,
            "oil_moisture": p["moisture_base"] + 40.0 * w_ins**1.5,
        }

    def truth_extra(self, index: int) -> dict[str, float]:
        """Return the accumulated loss of life (equivalent ageing hours at 110 degC)."""
        return {"loss_of_life_h": round(float(self.loss_of_life_h[index]), 6)}
