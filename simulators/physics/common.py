"""Shared numerics: first-order lags over a block, degradation state, operating profiles."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# exp(700) overflows float64; keep the scaled cumulative sum well inside.
_MAX_EXPONENT = 30.0


def lag(y0: np.ndarray, u: np.ndarray, tau_s: np.ndarray, dt: float) -> np.ndarray:
    """First-order lag ``tau dy/dt = u - y`` over a block, exact for piecewise-constant ``u``.

    ``y0`` has shape (n,), ``u`` (n, T), ``tau_s`` (n,). Returns y of shape (n, T), y[:, k]
    being the state after step k. Uses y_k = a^k (y0 + (1-a) sum_j a^(-j) u_j) with
    a = exp(-dt/tau), in sub-blocks short enough that a^(-j) stays finite.
    """
    _n, steps = u.shape
    a = np.exp(-dt / np.asarray(tau_s, dtype=float))
    out = np.empty_like(u, dtype=float)
    sub = max(1, int(_MAX_EXPONENT / float(np.max(dt / np.asarray(tau_s)))))
    y = np.asarray(y0, dtype=float).copy()
    for start in range(0, steps, sub):
        stop = min(steps, start + sub)
        k = np.arange(1, stop - start + 1, dtype=float)
        ak = a[:, None] ** k[None, :]
        acc = np.cumsum(u[:, start:stop] / ak, axis=1) * (1.0 - a)[:, None]
        out[:, start:stop] = ak * (y[:, None] + acc)
        y = out[:, stop - 1]
    return out


@dataclass
class Degradation:
    """Degradation modes of n assets: w = clip((op_h - onset_h) / life_h, 0, 1) per mode.

    Wear is linear in operating hours after a stochastic onset, so the true remaining life is
    exact: (1 - w) * life_h once started, onset_h - op_h + life_h before. w = 1 is failure.
    Symptoms use powers of w (defects grow slowly, then fast), keeping them monotone.
    """

    onset_h: np.ndarray  # (n, m); inf = mode not active on that asset
    life_h: np.ndarray  # (n, m)

    def wear(self, op_h: np.ndarray) -> np.ndarray:
        """Return w of shape (n, m, T) for operating hours ``op_h`` of shape (n, T)."""
        x = (op_h[:, None, :] - self.onset_h[:, :, None]) / self.life_h[:, :, None]
        return np.clip(np.nan_to_num(x, nan=0.0, neginf=0.0), 0.0, 1.0)

    def rul_h(self, op_h: np.ndarray) -> np.ndarray:
        """Return true remaining operating hours to the first failure, shape (n,)."""
        left = self.onset_h + self.life_h - op_h[:, None]
        return np.clip(np.min(left, axis=1), 0.0, None)


def profile_level(kind: str, params: dict[str, float], t_s: np.ndarray) -> np.ndarray:
    """Return a load level (fraction) at absolute times ``t_s`` (seconds since epoch).

    Kinds: ``constant`` (level), ``shifts`` (levels of three 8 h shifts from 06:00 UTC),
    ``batch`` (on_level for on_fraction of each period_s, off_level otherwise),
    ``ramp`` (from ``start`` to ``level`` over ramp_s from the scenario start ``t0``).
    """
    level = params.get("level", 1.0)
    if kind == "constant":
        return np.full(t_s.shape, level)
    if kind == "shifts":
        levels = np.array(
            [params.get("day", 1.0), params.get("evening", 0.8), params.get("night", 0.6)]
        )
        shift = (((t_s - 6 * 3600.0) % 86400.0) // (8 * 3600.0)).astype(int)
        return levels[shift]
    if kind == "batch":
        period = params.get("period_s", 3600.0)
        phase = (t_s % period) / period
        return np.where(
            phase < params.get("on_fraction", 0.7),
            params.get("on_level", 1.0),
            params.get("off_level", 0.3),
        )
    if kind == "ramp":
        frac = np.clip((t_s - params.get("t0", 0.0)) / params.get("ramp_s", 600.0), 0.0, 1.0)
        return params.get("start", 0.2) + (level - params.get("start", 0.2)) * frac
    raise ValueError(f"unknown profile kind {kind!r}")


#: profile kind -> the parameters it reads (all numbers)
PROFILE_FIELDS = {
    "constant": ("level",),
    "shifts": ("day", "evening", "night"),
    "batch": ("period_s", "on_fraction", "on_level", "off_level"),
    "ramp": ("start", "level", "ramp_s", "t0"),
}
PROFILE_KINDS = tuple(PROFILE_FIELDS)
