"""RUL features of a cycle: multi-length window statistics of regime-normalised sensors."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from egiz.models.features import window as wf


@dataclass(frozen=True)
class FeatureSpec:
    """Which statistics over which window lengths (newest samples) feed the RUL model."""

    length: int = 30
    means: tuple[int, ...] = (5, 10, 30)
    slopes: tuple[int, ...] = (10, 30)
    extremes: tuple[int, ...] = (30,)
    ewm_alphas: tuple[float, ...] = (0.1, 0.3)
    cycle: bool = True

    def names(self, signals: list[str]) -> list[str]:
        """Feature names in column order, e.g. ``s2.mean10``."""
        out: list[str] = []
        for k in self.means:
            out += [f"{s}.mean{k}" for s in signals]
        for k in self.slopes:
            out += [f"{s}.slope{k}" for s in signals]
        for k in self.extremes:
            out += [f"{s}.min{k}" for s in signals] + [f"{s}.max{k}" for s in signals]
        for a in self.ewm_alphas:
            out += [f"{s}.ewm{a:g}" for s in signals]
        if self.cycle:
            out.append("cycle")
        return out

    def compute(self, w: np.ndarray, cycle: np.ndarray) -> np.ndarray:
        """Feature matrix from windows ``(n, length, s)`` and the cycle count of each window."""
        if w.shape[1] != self.length:
            raise ValueError(f"window length {w.shape[1]} != spec length {self.length}")
        cols = [wf.mean(wf.tail(w, k)) for k in self.means]
        cols += [wf.slope(wf.tail(w, k)) for k in self.slopes]
        for k in self.extremes:
            cols += [wf.minimum(wf.tail(w, k)), wf.maximum(wf.tail(w, k))]
        cols += [wf.ewm_last(w, a) for a in self.ewm_alphas]
        if self.cycle:
            cols.append(np.asarray(cycle, dtype=np.float64).reshape(-1, 1))
        return np.concatenate(cols, axis=1)

    def to_json(self) -> dict:
        """Plain-JSON description (stored in an artifact manifest)."""
        return {
            "length": self.length,
            "means": list(self.means),
            "slopes": list(self.slopes),
            "extremes": list(self.extremes),
            "ewm_alphas": list(self.ewm_alphas),
            "cycle": self.cycle,
        }

    @classmethod
    def from_json(cls, d: dict) -> FeatureSpec:
        """Inverse of :meth:`to_json`."""
        return cls(
            length=int(d["length"]),
            means=tuple(int(v) for v in d["means"]),
            slopes=tuple(int(v) for v in d["slopes"]),
            extremes=tuple(int(v) for v in d["extremes"]),
            ewm_alphas=tuple(float(v) for v in d["ewm_alphas"]),
            cycle=bool(d["cycle"]),
        )
