"""The vectorized asset group: running state, operating hours, degradation and trips.

A group holds every asset of one type as arrays of shape (n,); ``advance`` computes a block
of T steps at once (T = 1 when serving live, thousands when generating offline).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..catalog import AssetTypeSpec
from .common import Degradation


class AssetGroup:
    """Base of every asset type's physics; subclasses define ``SPEC``, ``PARAMS`` and ``_physics``."""

    SPEC: AssetTypeSpec
    #: parameter name -> default value (SI-ish engineering units, named in the suffix)
    PARAMS: Mapping[str, float] = {}
    #: thermal/mechanical lag states and their initial value parameter name
    STATES: tuple[str, ...] = ()
    #: sudden faults this type can suffer (severity 0..1 per asset, injected at run time)
    FAULTS: tuple[str, ...] = ("imbalance",)

    def __init__(
        self,
        ids: list[str],
        params: list[dict[str, float]],
        degradation: Degradation,
    ) -> None:
        self.ids = ids
        self.n = len(ids)
        self.p = {
            k: np.array([float(pa.get(k, d)) for pa in params]) for k, d in self.PARAMS.items()
        }
        self.deg = degradation
        self.running = np.ones(self.n, dtype=bool)
        self.failed = np.zeros(self.n, dtype=bool)
        self.op_h = np.zeros(self.n)
        self.sp = {
            s.name: np.array([float(pa.get(s.name, s.default)) for pa in params])
            for s in self.SPEC.setpoints
        }
        amb = self.p.get("ambient_temp", np.full(self.n, 25.0))
        self.state = {name: amb.copy() for name in self.STATES}
        self.wear_now = np.zeros((self.n, len(self.SPEC.modes)))
        # Ground truth, in data time (s since epoch): first step with w > 0, first failed step.
        self.onset_ts = np.full((self.n, len(self.SPEC.modes)), np.nan)
        self.failure_ts = np.full(self.n, np.nan)
        self.fault = {f: np.zeros(self.n) for f in self.FAULTS}

    def advance(self, t_s: np.ndarray, dt: float, level: np.ndarray) -> dict[str, np.ndarray]:
        """Advance T steps at times ``t_s`` (T,) under load ``level`` (n, T); return signals."""
        steps = t_s.shape[0]
        run0 = (self.running & ~self.failed).astype(float)[:, None] * np.ones((1, steps))
        op_try = self.op_h[:, None] + np.cumsum(run0, axis=1) * (dt / 3600.0)
        broke = np.any(self.deg.wear(op_try) >= 1.0, axis=1)
        # The step that reaches w = 1 still runs; the asset trips from the next step on.
        after = np.logical_or.accumulate(np.pad(broke, ((0, 0), (1, 0)))[:, :-1], axis=1)
        run = run0 * ~after
        op_h = self.op_h[:, None] + np.cumsum(run, axis=1) * (dt / 3600.0)
        wear = self.deg.wear(op_h)
        out = self._physics(run, wear, level, dt)
        out["running"] = run
        self._record_truth(t_s, wear, broke)
        failed = self.failed[:, None] | broke
        left = self.deg.onset_h[:, :, None] + self.deg.life_h[:, :, None] - op_h[:, None, :]
        #: per-step truth of this block, for offline generation (labels at every step)
        self.block_truth = {
            "rul_h": np.where(failed, 0.0, np.clip(left.min(axis=1), 0.0, None)),
            "health_index": 100.0 * (1.0 - wear.max(axis=1, initial=0.0)),
            "state": np.where(failed, 2, np.where(run > 0, 1, 0)).astype(np.int8),
        }
        self.op_h = op_h[:, -1]
        self.failed |= broke[:, -1] | after[:, -1]
        self.wear_now = wear[:, :, -1]
        return out

    def _record_truth(self, t_s: np.ndarray, wear: np.ndarray, broke: np.ndarray) -> None:
        started = wear > 0
        first = np.argmax(started, axis=2)
        new = np.isnan(self.onset_ts) & np.any(started, axis=2)
        self.onset_ts = np.where(new, t_s[first], self.onset_ts)
        new_fail = np.isnan(self.failure_ts) & np.any(broke, axis=1)
        self.failure_ts = np.where(new_fail, t_s[np.argmax(broke, axis=1)], self.failure_ts)

    def _physics(
        self, run: np.ndarray, wear: np.ndarray, level: np.ndarray, dt: float
    ) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def set_setpoint(self, index: int, name: str, value: float) -> float:
        """Set a setpoint of asset ``index``, clamped to its limits; return the applied value."""
        spec = next(s for s in self.SPEC.setpoints if s.name == name)
        applied = float(min(max(value, spec.min), spec.max))
        self.sp[name][index] = applied
        return applied

    def command(self, index: int, action: str) -> None:
        """Execute start or stop on asset ``index`` (reset is the engine's: it redraws wear)."""
        if action == "start":
            self.running[index] = True
        elif action == "stop":
            self.running[index] = False
        else:
            raise ValueError(f"unknown command {action!r}; use start, stop or reset")

    def repair(self, index: int, onset_in_h: np.ndarray, life_h: np.ndarray) -> None:
        """Replace the worn parts of asset ``index``: wear restarts ``onset_in_h`` hours from now."""
        self.failed[index] = False
        self.deg.onset_h[index] = self.op_h[index] + onset_in_h
        self.deg.life_h[index] = life_h
        self.wear_now[index] = 0.0
        self.onset_ts[index] = np.nan
        self.failure_ts[index] = np.nan

    def truth_extra(self, index: int) -> dict[str, float]:
        """Return type-specific ground truth of asset ``index`` (e.g. transformer loss of life)."""
        return {}

    def modes_truth(self) -> list[list[str]]:
        """Return, per asset, the names of degradation modes currently progressing."""
        names = [m.name for m in self.SPEC.modes]
        return [
            [names[j] for j in range(len(names)) if self.wear_now[i, j] > 0] for i in range(self.n)
        ]
