"""RUL features of a cycle: multi-length window statistics of regime-normalised sensors."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np


@lru_cache(maxsize=16)
def _ewm_weights(length: int, alphas: tuple[float, ...]) -> np.ndarray:
    """(length, a) weights ``(1 - alpha) ** age``, newest sample age 0 (cached per spec)."""
    age = np.arange(length - 1, -1, -1, dtype=np.float64)
    weights = (1.0 - np.asarray(alphas)[None, :]) ** age[:, None]
    weights.flags.writeable = False
    return weights


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
        """Feature matrix from windows ``(n, length, s)`` and the cycle count of each window.

        Fused for speed (the edge calls this once per asset window): sums over the newest
        ``k`` samples for every ``k`` and every moment come from one reversed cumulative sum,
        and means and least-squares slopes are taken for all lengths at once.
        """
        if w.shape[1] != self.length:
            raise ValueError(f"window length {w.shape[1]} != spec length {self.length}")
        present = ~np.isnan(w)
        x = np.where(present, w, 0.0)
        p = present.astype(np.float64)
        t = np.arange(self.length, dtype=np.float64)[None, :, None]

        # r[:, k - 1] = sum over the newest k samples, for every moment in one cumsum: each
        # column is still summed sequentially, newest first, so values are bit for bit those
        # of one cumsum per moment (what the trees were trained on), at a fifth of the calls.
        moments = [p, x] + ([p * t, p * t * t, x * t] if self.slopes else [])
        sums = np.cumsum(np.concatenate(moments, axis=2)[:, ::-1, :], axis=1)
        s, rows = w.shape[2], w.shape[0]
        n, sx = sums[:, :, :s], sums[:, :, s : 2 * s]
        # All lengths at once, (rows, lengths, s) flattened length-major: the same columns in
        # the same order, and the same elementwise arithmetic, as one block per length.
        k = np.asarray(self.means, np.intp) - 1
        cols = [(sx[:, k] / n[:, k]).reshape(rows, -1)]
        if self.slopes:
            k = np.asarray(self.slopes, np.intp) - 1
            nk, sxk = n[:, k], sx[:, k]
            st, stt, stx = (sums[:, k, j * s : (j + 1) * s] for j in (2, 3, 4))
            den = nk * stt - st**2
            num = nk * stx - st * sxk
            cols.append(
                np.divide(num, den, out=np.zeros_like(den), where=den > 0).reshape(rows, -1)
            )
        for k in self.extremes:
            tail = w[:, -k:, :]
            cols += [np.nanmin(tail, axis=1), np.nanmax(tail, axis=1)]
        if self.ewm_alphas:
            weights = _ewm_weights(self.length, self.ewm_alphas)  # (L, a)
            num = np.einsum("nls,la->nas", x, weights)
            den = np.einsum("nls,la->nas", p, weights)
            cols += list((num / den).transpose(1, 0, 2))
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
